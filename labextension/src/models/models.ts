/**
 * Registered models in words and colours: alias chips, who may do what, gate decisions and their
 * evidence, and the Register form's checks.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type { GateDecision, ModelVersion } from '../common/api';
import { ApiError } from '../common/errors';
import type { Role } from '../common/permissions';

/** Models listed per page. */
export const MODELS_PAGE_SIZE = 50;

/** Versions of a model shown at once, newest first. */
export const VERSIONS_SHOWN = 50;

/** Decisions of a model in its history. */
export const DECISIONS_SHOWN = 20;

/** Metrics shown in a version's row. */
export const KEY_METRICS_SHOWN = 3;

/** The aliases a version can be promoted to, in the order the buttons appear. */
export const PROMOTION_ALIASES = ['staging', 'champion'] as const;

/** Aliases the panel knows a colour for; any other alias gets the neutral chip. */
const KNOWN_ALIASES = new Set(['champion', 'staging']);

/** The backend's registered model name rule. */
export const MODEL_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

// --- roles ---------------------------------------------------------------------------------------------

/** Whether this project role may register versions and ask for aliases to move (scientists and up). */
export function canWriteModels(role: Role | null | undefined): boolean {
  return role === 'scientist' || role === 'lead' || role === 'admin';
}

/** Whether this project role may approve or reject decisions and set gates (leads and admins). */
export function canApproveModels(role: Role | null | undefined): boolean {
  return role === 'lead' || role === 'admin';
}

// --- aliases -------------------------------------------------------------------------------------------

/** The CSS class of an alias chip: `champion` gold, `staging` blue, any other neutral. */
export function aliasChipClass(alias: string): string {
  const kind = KNOWN_ALIASES.has(alias) ? alias : 'other';
  return `jp-mlp-chip jp-mlp-alias jp-mlp-alias-${kind}`;
}

/** Aliases in the order they are shown: champion, staging, then the others alphabetically. */
export function sortAliases(aliases: readonly string[]): string[] {
  const rank = (alias: string) => (alias === 'champion' ? 0 : alias === 'staging' ? 1 : 2);
  return [...new Set(aliases)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** A model's `{alias: version}` map as `[alias, version]` pairs in display order. */
export function aliasEntries(aliases: Record<string, number> | null | undefined): [string, number][] {
  const map = aliases ?? {};
  return sortAliases(Object.keys(map)).map(alias => [alias, map[alias]]);
}

/** The aliases that point at `version`, in display order. */
export function aliasesOfVersion(
  aliases: Record<string, number> | null | undefined,
  version: number
): string[] {
  return aliasEntries(aliases)
    .filter(([, v]) => v === version)
    .map(([alias]) => alias);
}

// --- versions ------------------------------------------------------------------------------------------

/** The first `n` metrics of a version, by name, for its row. */
export function keyMetrics(
  metrics: Record<string, number> | null | undefined,
  n = KEY_METRICS_SHOWN
): [string, number][] {
  return Object.entries(metrics ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .slice(0, n);
}

/** How a version's signature reads: a tick and the key, or why there is none. */
export function signatureLabel(version: Pick<ModelVersion, 'signed' | 'key_id' | 'files'>): {
  text: string;
  title: string;
  ok: boolean;
} {
  if (version.signed) {
    return {
      text: '✓ signed',
      title: `${version.files} files signed by key ${version.key_id ?? 'unknown'}`,
      ok: true
    };
  }
  return { text: '✗ unsigned', title: 'No signature: the loader refuses this version.', ok: false };
}

/** The version numbers of a page, newest first, for the diff choosers. */
export function versionNumbers(versions: readonly Pick<ModelVersion, 'version'>[]): number[] {
  return [...new Set(versions.map(v => v.version))].sort((a, b) => b - a);
}

/**
 * The offset of the page (newest first, `pageSize` a page) that holds `version` when a model's versions are numbered
 * without gaps: the versions above it are `latest - version`. A citation opens a version this way.
 */
export function versionPageOffset(latest: number, version: number, pageSize = VERSIONS_SHOWN): number {
  const above = Math.max(0, latest - version);
  return Math.floor(above / pageSize) * pageSize;
}

/**
 * Where to look next for `version` when the page at `offset` (its version numbers, newest first) does not hold it
 * (numbering has gaps where a registration failed): the page before when it is newer than the page, the page after
 * when older; null when the page holds it, or when it cannot be anywhere (between two listed versions, past the ends).
 */
export function seekVersionOffset(
  numbers: readonly number[],
  version: number,
  offset: number,
  total: number,
  pageSize = VERSIONS_SHOWN
): number | null {
  if (numbers.length === 0 || numbers.includes(version)) {
    return null;
  }
  const newest = Math.max(...numbers);
  const oldest = Math.min(...numbers);
  if (version > newest) {
    return offset > 0 ? Math.max(0, offset - pageSize) : null;
  }
  if (version < oldest) {
    return offset + pageSize < total ? offset + pageSize : null;
  }
  return null;
}

/** The pair to diff first: the one before the newest against the newest; null with fewer than two. */
export function defaultDiffPair(versions: readonly number[]): { a: number; b: number } | null {
  const sorted = [...new Set(versions)].sort((x, y) => y - x);
  return sorted.length < 2 ? null : { a: sorted[1], b: sorted[0] };
}

// --- decisions -----------------------------------------------------------------------------------------

/** The colour family of a decision: passed/approved green, failed/rejected red, pending amber. */
export type DecisionTone = 'success' | 'failure' | 'waiting';

const DECISION_TONES: Record<string, DecisionTone> = {
  passed: 'success',
  approved: 'success',
  failed: 'failure',
  rejected: 'failure',
  pending: 'waiting'
};

/** The tone of a decision status; unknown statuses wait. */
export function decisionTone(status: string): DecisionTone {
  return DECISION_TONES[status] ?? 'waiting';
}

/** The CSS class of a decision's status chip. */
export function decisionChipClass(status: string): string {
  return `jp-mlp-chip jp-mlp-decision-chip jp-mlp-decision-${decisionTone(status)}`;
}

/** A decision status as a person reads it. */
export function decisionStatusLabel(status: string): string {
  switch (status) {
    case 'passed':
      return 'Passed';
    case 'failed':
      return 'Failed';
    case 'pending':
      return 'Waiting for approval';
    case 'approved':
      return 'Approved';
    case 'rejected':
      return 'Rejected';
    default:
      return status;
  }
}

/** One gate's result in a decision's evidence. */
export interface IGateResult {
  gate: string;
  /** The gate in words: `Signature`, `Threshold`, … */
  label: string;
  passed: boolean;
  message: string;
}

const GATE_LABELS: Record<string, string> = {
  signature: 'Signature',
  threshold: 'Threshold',
  challenger: 'Beats champion',
  evaluation: 'Evaluation'
};

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** The gate results of a decision's evidence, as recorded; malformed entries are skipped. */
export function gateResults(evidence: Record<string, unknown> | null | undefined): IGateResult[] {
  const results = evidence?.results;
  if (!Array.isArray(results)) {
    return [];
  }
  const out: IGateResult[] = [];
  for (const item of results) {
    const r = record(item);
    if (!r) {
      continue;
    }
    const gate = typeof r.gate === 'string' ? r.gate : 'gate';
    out.push({
      gate,
      label: GATE_LABELS[gate] ?? gate,
      passed: r.passed === true,
      message: typeof r.message === 'string' ? r.message : ''
    });
  }
  return out;
}

/** The metrics the evaluation computed, challenger beside champion. */
export interface IEvaluationSummary {
  dataset: string;
  target: string;
  snapshotId: string | null;
  rows: number | null;
  metrics: { metric: string; challenger: number | null; champion: number | null }[];
  /** Whether a champion was scored too (a champion column is worth showing). */
  hasChampion: boolean;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The evaluation in a decision's evidence; null when the gates scored nothing. */
export function evaluationSummary(
  evidence: Record<string, unknown> | null | undefined
): IEvaluationSummary | null {
  const ev = record(evidence?.evaluation);
  if (!ev) {
    return null;
  }
  const challenger = record(ev.challenger) ?? {};
  const champion = record(ev.champion);
  const keys = [...new Set([...Object.keys(challenger), ...Object.keys(champion ?? {})])].sort();
  return {
    dataset: typeof ev.dataset === 'string' ? ev.dataset : '',
    target: typeof ev.target === 'string' ? ev.target : '',
    snapshotId:
      ev.snapshot_id === null || ev.snapshot_id === undefined ? null : String(ev.snapshot_id),
    rows: numberOrNull(ev.rows),
    metrics: keys.map(metric => ({
      metric,
      challenger: numberOrNull(challenger[metric]),
      champion: champion ? numberOrNull(champion[metric]) : null
    })),
    hasChampion: champion !== null
  };
}

/** What a decision means, in one sentence. */
export function decisionHeadline(
  d: Pick<GateDecision, 'status' | 'alias' | 'version' | 'alias_moved' | 'decided_by' | 'evidence'>
): string {
  const results = gateResults(d.evidence);
  const failed = results.filter(r => !r.passed).length;
  const gates = `${results.length} gate${results.length === 1 ? '' : 's'}`;
  switch (d.status) {
    case 'passed':
      return d.alias_moved
        ? `All ${gates} passed: ${d.alias} now points at v${d.version}.`
        : `All ${gates} passed; ${d.alias} has moved on since.`;
    case 'failed':
      return `${failed} of ${gates} failed: ${d.alias} stays where it was.`;
    case 'pending':
      return `All ${gates} passed; a lead must approve before ${d.alias} moves to v${d.version}.`;
    case 'approved':
      return d.alias_moved
        ? `Approved by ${d.decided_by ?? 'a lead'}: ${d.alias} points at v${d.version}.`
        : `Approved by ${d.decided_by ?? 'a lead'}; ${d.alias} has moved on since.`;
    case 'rejected':
      return `Rejected by ${d.decided_by ?? 'a lead'}: ${d.alias} stays where it was.`;
    default:
      return `${d.alias} → v${d.version}: ${d.status}`;
  }
}

/** A decision in a few words for lists: `v3 → champion · 2/2 gates passed`. */
export function decisionBrief(d: Pick<GateDecision, 'alias' | 'version' | 'evidence'>): string {
  const results = gateResults(d.evidence);
  const passed = results.filter(r => r.passed).length;
  return `v${d.version} → ${d.alias} · ${passed}/${results.length} gates passed`;
}

// --- the Register form ---------------------------------------------------------------------------------

/** The Register form's inputs. */
export interface IRegisterInput {
  name: string;
  runId: string;
  artifactPath: string;
}

/** Register form fields the backend may name in an error. */
export type RegisterField = 'name' | 'run_id' | 'artifact_path';

const REGISTER_FIELDS: ReadonlySet<string> = new Set(['name', 'run_id', 'artifact_path']);

/** Check a model name as the backend will; a sentence saying what is wrong, or null. */
export function validateModelName(name: string): string | null {
  if (!name) {
    return 'Enter a model name.';
  }
  if (name.length > 63) {
    return `A model name can be at most 63 characters (this one has ${name.length}).`;
  }
  if (/[A-Z]/.test(name)) {
    return 'A model name must be lowercase.';
  }
  if (!MODEL_NAME_PATTERN.test(name)) {
    return 'A model name starts with a letter or digit and has only lowercase letters, digits, - and _.';
  }
  return null;
}

/** The request for the Register form, or the problems of each field. */
export function registerRequest(
  input: IRegisterInput
):
  | { request: { name: string; run_id: string; artifact_path: string } }
  | { errors: Partial<Record<RegisterField, string>> } {
  const name = input.name.trim();
  const runId = input.runId.trim();
  const artifactPath = input.artifactPath.trim() || 'model';
  const errors: Partial<Record<RegisterField, string>> = {};
  const nameProblem = validateModelName(name);
  if (nameProblem) {
    errors.name = nameProblem;
  }
  if (!runId) {
    errors.run_id = 'Enter the id of a run of this project.';
  } else if (runId.length > 64) {
    errors.run_id = 'A run id has at most 64 characters.';
  }
  if (artifactPath.length > 1024) {
    errors.artifact_path = 'An artifact path has at most 1024 characters.';
  }
  if (Object.keys(errors).length > 0) {
    return { errors };
  }
  return { request: { name, run_id: runId, artifact_path: artifactPath } };
}

/** A failed request in words: messages for the fields its detail names, and the whole error as a sentence. */
export interface IFormFailure<F extends string> {
  fields: Partial<Record<F, string>>;
  general: string;
}

/** Field messages from an ApiError whose detail names fields accepted by `map` (null: not a field of the form). */
export function fieldFailure<F extends string>(
  err: unknown,
  describe: (err: unknown) => string,
  map: (field: string) => F | null
): IFormFailure<F> {
  const fields: Partial<Record<F, string>> = {};
  if (err instanceof ApiError && Array.isArray(err.detail)) {
    for (const item of err.detail) {
      const named = (item as { field?: unknown } | null)?.field;
      const field = typeof named === 'string' ? map(named) : null;
      if (field !== null && !(field in fields)) {
        const own = (item as { message?: unknown }).message;
        fields[field] = typeof own === 'string' && own ? sentence(own) : sentence(err.message);
      }
    }
  }
  return { fields, general: describe(err) };
}

/** A refused registration: the field at fault (name, run id, artifact path) or a general message. */
export function registerFailure(
  err: unknown,
  describe: (err: unknown) => string
): IFormFailure<RegisterField> {
  const failure = fieldFailure<RegisterField>(err, describe, field =>
    REGISTER_FIELDS.has(field) ? (field as RegisterField) : null
  );
  // An unknown run is a 404 without a field; it belongs next to the run id.
  if (Object.keys(failure.fields).length === 0 && err instanceof ApiError && err.status === 404) {
    return { fields: { run_id: failure.general }, general: failure.general };
  }
  return failure;
}

function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) {
    return trimmed;
  }
  const capitalised = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}
