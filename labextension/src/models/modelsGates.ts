/**
 * A model's validation gates as a form: from the saved gates, back to the request body with the
 * backend's checks, and in words for those who may only read them.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type { GateConfig } from '../common/api';
import { fieldFailure, IFormFailure } from './models';
import { formatMetric } from '../common/runFormat';

/** Comparison operators of a threshold, as the backend spells them. */
export const THRESHOLD_OPS = ['>=', '>', '<=', '<'] as const;

export type ThresholdOp = (typeof THRESHOLD_OPS)[number];

/** How an operator reads. */
export const OP_LABELS: Record<ThresholdOp, string> = { '>=': '≥', '>': '>', '<=': '≤', '<': '<' };

/** The backend's metric name rule. */
export const METRIC_PATTERN = /^[A-Za-z0-9_.\-/ ]{1,250}$/;

/** The backend's dataset name rule (an Iceberg table of the project). */
export const DATASET_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

/** At most this many thresholds. */
export const MAX_THRESHOLDS = 50;

/** One threshold row of the form; the value as typed. */
export interface IThresholdRow {
  metric: string;
  op: ThresholdOp;
  value: string;
}

/** The Gates form: strings as typed, switches for the optional parts. */
export interface IGateForm {
  thresholds: IThresholdRow[];
  challengerOn: boolean;
  challenger: { metric: string; margin: string; greaterIsBetter: boolean };
  evaluationOn: boolean;
  evaluation: { dataset: string; target: string; snapshotId: string };
  requireApproval: boolean;
}

/** A new empty threshold row. */
export function emptyThreshold(): IThresholdRow {
  return { metric: '', op: '>=', value: '' };
}

function isOp(value: unknown): value is ThresholdOp {
  return (THRESHOLD_OPS as readonly unknown[]).includes(value);
}

/** The form showing saved gates (or the defaults for none). */
export function gateForm(gates: GateConfig | null | undefined): IGateForm {
  const g = gates ?? {};
  return {
    thresholds: (g.thresholds ?? []).map(t => ({
      metric: t.metric,
      op: isOp(t.op) ? t.op : '>=',
      value: String(t.value)
    })),
    challengerOn: !!g.challenger,
    challenger: {
      metric: g.challenger?.metric ?? '',
      margin: String(g.challenger?.margin ?? 0),
      greaterIsBetter: g.challenger?.greater_is_better ?? true
    },
    evaluationOn: !!g.evaluation,
    evaluation: {
      dataset: g.evaluation?.dataset ?? '',
      target: g.evaluation?.target ?? '',
      snapshotId:
        g.evaluation?.snapshot_id === null || g.evaluation?.snapshot_id === undefined
          ? ''
          : String(g.evaluation.snapshot_id)
    },
    requireApproval: g.require_approval ?? false
  };
}

/** Field keys as the backend names them: `thresholds.0.value`, `challenger.metric`, `evaluation.dataset`, … */
export type GateErrors = Record<string, string>;

function parseNumber(text: string): number | null {
  const trimmed = text.trim();
  if (!trimmed) {
    return null;
  }
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : null;
}

function metricProblem(metric: string): string | null {
  if (!metric) {
    return 'Enter a metric name.';
  }
  if (!METRIC_PATTERN.test(metric)) {
    return 'A metric name has letters, digits, spaces and _ . - / only (at most 250).';
  }
  return null;
}

/**
 * The PUT body for the form, or the problems keyed by the backend's field names. Blank threshold rows
 * are dropped; the challenger rule needs evaluation data (both versions are scored on the same rows).
 */
export function gatesBody(form: IGateForm): { body: GateConfig } | { errors: GateErrors } {
  const errors: GateErrors = {};
  const thresholds: NonNullable<GateConfig['thresholds']> = [];
  const rows = form.thresholds.filter(t => t.metric.trim() || t.value.trim());
  if (rows.length > MAX_THRESHOLDS) {
    errors.thresholds = `At most ${MAX_THRESHOLDS} thresholds.`;
  }
  form.thresholds.forEach((row, i) => {
    const metric = row.metric.trim();
    if (!metric && !row.value.trim()) {
      return;
    }
    const problem = metricProblem(metric);
    if (problem) {
      errors[`thresholds.${i}.metric`] = problem;
    }
    const value = parseNumber(row.value);
    if (value === null) {
      errors[`thresholds.${i}.value`] = 'Enter a finite number.';
    }
    if (!problem && value !== null) {
      thresholds.push({ metric, op: row.op, value });
    }
  });

  let challenger: GateConfig['challenger'] = null;
  if (form.challengerOn) {
    const metric = form.challenger.metric.trim();
    const problem = metricProblem(metric);
    if (problem) {
      errors['challenger.metric'] = problem;
    }
    const margin = form.challenger.margin.trim() === '' ? 0 : parseNumber(form.challenger.margin);
    if (margin === null || margin < 0 || margin > 1e6) {
      errors['challenger.margin'] = 'The margin is a number from 0 to 1000000.';
    }
    if (!form.evaluationOn) {
      errors.challenger = 'Beating the champion needs evaluation data: both versions are scored on the same rows.';
    }
    challenger = { metric, margin: margin ?? 0, greater_is_better: form.challenger.greaterIsBetter };
  }

  let evaluation: GateConfig['evaluation'] = null;
  if (form.evaluationOn) {
    const dataset = form.evaluation.dataset.trim();
    const target = form.evaluation.target.trim();
    if (!DATASET_PATTERN.test(dataset)) {
      errors['evaluation.dataset'] = dataset
        ? 'A dataset name starts with a lowercase letter and has lowercase letters, digits and _ only.'
        : 'Enter a dataset of the project.';
    }
    if (!target) {
      errors['evaluation.target'] = 'Enter the label column.';
    } else if (target.length > 200) {
      errors['evaluation.target'] = 'A column name has at most 200 characters.';
    }
    const snap = form.evaluation.snapshotId.trim();
    let snapshotId: number | null = null;
    if (snap) {
      if (!/^\d+$/.test(snap) || !Number.isSafeInteger(Number(snap))) {
        errors['evaluation.snapshot_id'] = 'A snapshot id is a whole number (leave empty for the current one).';
      } else {
        snapshotId = Number(snap);
      }
    }
    evaluation = { dataset, target, snapshot_id: snapshotId };
  }

  if (Object.keys(errors).length > 0) {
    return { errors };
  }
  return {
    body: { thresholds, challenger, evaluation, require_approval: form.requireApproval }
  };
}

/** The form input a backend field name belongs to (`thresholds.0.value`, `evaluation.dataset`, `gates`). */
export function gateField(field: string): string {
  const parts = field.split('.');
  if (parts[0] === 'thresholds' && parts.length >= 3 && /^\d+$/.test(parts[1])) {
    return parts.slice(0, 3).join('.');
  }
  if ((parts[0] === 'challenger' || parts[0] === 'evaluation') && parts.length >= 2) {
    return parts.slice(0, 2).join('.');
  }
  return parts[0] || 'gates';
}

/** A refused save: the fields its detail names, as the form keys them. */
export function gatesFailure(err: unknown, describe: (err: unknown) => string): IFormFailure<string> {
  return fieldFailure<string>(err, describe, gateField);
}

/** The gates in words, one line each, for those who may only read them. */
export function gatesSummary(gates: GateConfig | null | undefined): string[] {
  const g = gates ?? {};
  const lines: string[] = ['The files must match their signed manifest.'];
  for (const t of g.thresholds ?? []) {
    const op = isOp(t.op) ? OP_LABELS[t.op] : t.op;
    lines.push(`${t.metric} ${op} ${formatMetric(t.value)}`);
  }
  if (g.evaluation) {
    const snap =
      g.evaluation.snapshot_id === null || g.evaluation.snapshot_id === undefined
        ? 'its current snapshot'
        : `snapshot ${g.evaluation.snapshot_id}`;
    lines.push(`Scored on dataset ${g.evaluation.dataset} (${snap}), label ${g.evaluation.target}.`);
  }
  if (g.challenger) {
    const direction = g.challenger.greater_is_better === false ? 'lower' : 'higher';
    const margin = g.challenger.margin ?? 0;
    lines.push(
      `Must beat the champion on ${g.challenger.metric} (${direction} is better)` +
        (margin > 0 ? ` by at least ${formatMetric(margin)}.` : '.')
    );
  }
  lines.push(
    g.require_approval
      ? 'A lead approves before champion moves.'
      : 'champion moves as soon as the gates pass.'
  );
  return lines;
}
