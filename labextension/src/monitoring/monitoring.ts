/**
 * Monitoring in words and shapes: who may do what, statuses, the drift heatmap's cells, performance series with
 * their baseline and tolerance band, alerts in order, retraining chains, and the monitor and webhook forms' checks.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type {
  Alert,
  AlertDelivery,
  MonitorOut,
  MonitorRequest,
  Retraining,
  WebhookRequest,
  MonitorWindow
} from '../common/api';
import type { Role } from '../common/permissions';

/** How often the panel reloads while it is visible. */
export const MONITOR_REFRESH_MS = 5000;

/** Windows shown in the heatmap and the performance charts per page. */
export const WINDOWS_PAGE_SIZE = 20;

/** Alerts per page. */
export const ALERTS_PAGE_SIZE = 10;

/** Retrainings per page. */
export const RETRAININGS_PAGE_SIZE = 10;

/** Webhooks per page. */
export const WEBHOOKS_PAGE_SIZE = 20;

// --- roles ---------------------------------------------------------------------------------------------

/** Whether this role may create or change a monitor and ask for an evaluation (scientists and up). */
export function canWriteMonitoring(role: Role | null | undefined): boolean {
  return role === 'scientist' || role === 'lead' || role === 'admin';
}

/** Whether this role may add and delete webhooks (leads and admins). */
export function canManageWebhooks(role: Role | null | undefined): boolean {
  return role === 'lead' || role === 'admin';
}

// --- statuses ------------------------------------------------------------------------------------------

/** The colour family of a status chip (the same tones the other panels use). */
export type Tone = 'success' | 'running' | 'warning' | 'failure' | 'pending';

interface IStatusWords {
  tone: Tone;
  label: string;
  title: string;
}

/**
 * The drift rule, in the words the backend's report banner uses (monitoring/drift.py RULE): one verdict everywhere.
 */
export const DRIFT_RULE =
  "A window is drifted when any feature's own test finds drift (KS for continuous, PSI for categorical " +
  'features, with thresholds calibrated for this model); one drifted feature is enough.';

const DRIFT_STATUS: Record<string, IStatusWords> = {
  ok: { tone: 'success', label: 'No drift', title: `No feature of the newest window drifted. ${DRIFT_RULE}` },
  drift: { tone: 'failure', label: 'Drift', title: `At least one feature of the newest window drifted. ${DRIFT_RULE}` },
  'schema changed': {
    tone: 'failure',
    label: 'Schema changed',
    title: 'The newest window has columns the model was not trained on, or lacks some it was.'
  },
  'insufficient data': {
    tone: 'pending',
    label: 'Insufficient data',
    title: 'The newest window could not be compared with the reference (see its message).'
  },
  waiting: {
    tone: 'pending',
    label: 'Waiting',
    title: 'Not enough predictions yet for the first full window.'
  }
};

/** A monitor's or window's drift status as a person reads it; `message`: the window's verdict in words. */
export function driftStatusWords(status: string, message?: string | null): IStatusWords {
  const words = DRIFT_STATUS[status] ?? { tone: 'pending', label: status, title: status };
  return message ? { ...words, title: `${words.label}: ${message}. ${words.title}` } : words;
}

/**
 * The banner over a monitor while alerts fire: red when any is critical (performance, schema), amber for drift
 * warnings only; null when nothing fires.
 */
export function firingBanner(firing: number, critical: number): { tone: Tone; text: string } | null {
  if (!(firing > 0)) {
    return null;
  }
  const what = `${firing} alert${firing === 1 ? '' : 's'} firing`;
  if (critical > 0) {
    return { tone: 'failure', text: `${what} (${critical} critical): see Alerts below.` };
  }
  return { tone: 'warning', text: `${what} (warning${firing === 1 ? '' : 's'}): see Alerts below.` };
}

const PERF_STATUS: Record<string, IStatusWords> = {
  ok: { tone: 'success', label: 'OK', title: 'Every metric is within its tolerance of the validated baseline.' },
  degraded: { tone: 'failure', label: 'Degraded', title: 'A metric fell below its tolerance.' },
  'insufficient data': {
    tone: 'pending',
    label: 'Too few labels',
    title: 'Too few labelled predictions in this window to score it.'
  },
  error: { tone: 'warning', label: 'Error', title: 'The labels and predictions could not be compared.' }
};

/** A window's performance status as a person reads it. */
export function performanceStatusWords(status: string | null | undefined): IStatusWords {
  if (!status) {
    return { tone: 'pending', label: 'No labels', title: 'No performance for this window yet.' };
  }
  return PERF_STATUS[status] ?? { tone: 'pending', label: status, title: status };
}

const RETRAINING_STATUS: Record<string, IStatusWords> = {
  launching: { tone: 'running', label: 'Launching', title: 'Starting the pipeline run.' },
  launched: { tone: 'running', label: 'Running', title: 'The pipeline is retraining the model.' },
  'awaiting approval': {
    tone: 'warning',
    label: 'Awaiting approval',
    title: 'The new version passed its automatic gates and waits for a lead to approve it.'
  },
  deployed: { tone: 'success', label: 'Deployed', title: 'The new version passed its gates and is served now.' },
  rejected: { tone: 'failure', label: 'Rejected', title: 'A lead rejected the new version; nothing was deployed.' },
  failed: { tone: 'failure', label: 'Failed', title: 'The retraining stopped; see its message.' }
};

/** A retraining's status as a person reads it. */
export function retrainingStatusWords(status: string): IStatusWords {
  return RETRAINING_STATUS[status] ?? { tone: 'pending', label: status, title: status };
}

/** The CSS class of a status chip of this tone. */
export function chipClass(tone: Tone): string {
  return `jp-mlp-chip jp-mlp-tone-${tone}`;
}

// --- the windows' drift, as the backend stores it ------------------------------------------------------

/** One feature's test in one window. */
export interface IFeatureDrift {
  feature: string;
  kind?: string;
  test?: string;
  statistic?: number | null;
  threshold?: number | null;
  drift?: boolean | null;
  status?: string;
  message?: string | null;
}

/** One window's drift result. */
export interface IWindowDrift {
  status: string;
  rows: number;
  features: IFeatureDrift[];
  added_columns: string[];
  missing_columns: string[];
  message: string | null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** A window's drift, read defensively (the backend sends it as free-form JSON). */
export function windowDrift(w: Pick<MonitorWindow, 'drift' | 'status' | 'rows'>): IWindowDrift {
  const d = (w.drift ?? {}) as Record<string, unknown>;
  const features: IFeatureDrift[] = [];
  if (Array.isArray(d.features)) {
    for (const item of d.features) {
      if (typeof item !== 'object' || item === null) {
        continue;
      }
      const f = item as Record<string, unknown>;
      const name = str(f.feature);
      if (!name) {
        continue;
      }
      features.push({
        feature: name,
        kind: str(f.kind) ?? undefined,
        test: str(f.test) ?? undefined,
        statistic: num(f.statistic),
        threshold: num(f.threshold),
        drift: typeof f.drift === 'boolean' ? f.drift : null,
        status: str(f.status) ?? undefined,
        message: str(f.message)
      });
    }
  }
  return {
    status: str(d.status) ?? w.status,
    rows: num(d.rows) ?? w.rows,
    features,
    added_columns: strings(d.added_columns),
    missing_columns: strings(d.missing_columns),
    message: str(d.message)
  };
}

// --- the heatmap ---------------------------------------------------------------------------------------

/** What a heatmap cell shows. */
export type HeatStatus = 'ok' | 'drift' | 'insufficient data' | 'schema changed';

/** Tests whose statistic is a p-value: drift when it falls *below* the threshold. */
const P_VALUE_TESTS = new Set(['ks', 'chisquare', 'chi2', 'z', 'fisher_exact', 'mannw', 't_test']);

/** Whether a test's statistic is a p-value (small is drift) rather than a distance (large is drift). */
export function isPValueTest(test: string | null | undefined): boolean {
  return P_VALUE_TESTS.has((test ?? '').toLowerCase());
}

/** Ratios drawn as the deepest red. */
const RATIO_CAP = 3;

/**
 * How far a statistic is towards its threshold: 0 is no sign of drift, 1 is the threshold, above 1 is drift.
 *
 * KS and the other p-value tests compare on a log scale (p = 1 → 0, p = threshold → 1, p = threshold² → 2);
 * PSI and the other distances divide by the threshold. Null when either number is missing or meaningless.
 */
export function driftRatio(
  test: string | null | undefined,
  statistic: number | null | undefined,
  threshold: number | null | undefined
): number | null {
  if (statistic === null || statistic === undefined || threshold === null || threshold === undefined) {
    return null;
  }
  if (!Number.isFinite(statistic) || !Number.isFinite(threshold)) {
    return null;
  }
  if (isPValueTest(test)) {
    if (threshold <= 0 || threshold >= 1) {
      return null;
    }
    if (statistic >= 1) {
      return 0;
    }
    if (statistic <= 0) {
      return RATIO_CAP * 10;
    }
    return Math.log(statistic) / Math.log(threshold);
  }
  if (threshold <= 0) {
    return null;
  }
  return Math.max(0, statistic) / threshold;
}

/** Whether a statistic crosses its threshold the way the backend decides it (`p < t` for p-values, `v ≥ t` else). */
export function crossesThreshold(test: string | null | undefined, statistic: number, threshold: number): boolean {
  return isPValueTest(test) ? statistic < threshold : statistic >= threshold;
}

/**
 * A cell's colour: green through amber as the statistic nears its threshold, red (deeper the further) beyond it;
 * grey for cells without a comparison.
 */
export function heatColour(status: HeatStatus, ratio: number | null): string {
  if (status === 'insufficient data' || status === 'schema changed') {
    return 'hsl(0, 0%, 72%)';
  }
  if (status === 'drift') {
    const over = ratio === null ? 1 : Math.min(Math.max(ratio, 1), RATIO_CAP);
    const lightness = Math.round(58 - ((over - 1) / (RATIO_CAP - 1)) * 20); // 58% at the threshold → 38%
    return `hsl(0, 75%, ${lightness}%)`;
  }
  const near = ratio === null ? 0 : Math.min(Math.max(ratio, 0), 1);
  const hue = Math.round(120 - near * 75); // 120 (green) far from the threshold → 45 (amber) at it
  return `hsl(${hue}, 60%, 78%)`;
}

/** One cell of the heatmap: a feature in a window. */
export interface IHeatCell {
  feature: string;
  status: HeatStatus;
  ratio: number | null;
  colour: string;
  /** Drawn hatched: there is no comparison to colour. */
  hatched: boolean;
  test: string | null;
  statistic: number | null;
  threshold: number | null;
  /** The tooltip. */
  title: string;
}

function formatStat(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '—';
  }
  if (value !== 0 && Math.abs(value) < 1e-3) {
    return value.toExponential(2);
  }
  return String(Number(value.toPrecision(3)));
}

function heatStatusOf(f: IFeatureDrift): HeatStatus {
  switch (f.status) {
    case 'drift':
      return 'drift';
    case 'ok':
      return 'ok';
    case 'schema changed':
      return 'schema changed';
    case undefined:
      break;
    default:
      return 'insufficient data';
  }
  if (f.drift === true) {
    return 'drift';
  }
  if (f.drift === false) {
    return 'ok';
  }
  if (num(f.statistic) !== null && num(f.threshold) !== null) {
    return crossesThreshold(f.test, f.statistic as number, f.threshold as number) ? 'drift' : 'ok';
  }
  return 'insufficient data';
}

/** The cell of `feature` in a window. */
export function heatCell(drift: IWindowDrift, feature: string): IHeatCell {
  const grey = (status: HeatStatus, title: string): IHeatCell => ({
    feature,
    status,
    ratio: null,
    colour: heatColour(status, null),
    hatched: true,
    test: null,
    statistic: null,
    threshold: null,
    title
  });
  if (drift.missing_columns.includes(feature)) {
    return grey('schema changed', `${feature}: missing from this window's predictions (schema changed).`);
  }
  if (drift.added_columns.includes(feature)) {
    return grey('schema changed', `${feature}: not in the training data; it appeared in this window (schema changed).`);
  }
  const f = drift.features.find(x => x.feature === feature);
  if (!f) {
    if (drift.status === 'schema changed') {
      return grey('schema changed', `${feature}: not compared, the window's schema changed. ${drift.message ?? ''}`.trim());
    }
    const why = drift.message ?? (drift.features.length ? 'not in this window' : 'no comparison for this window');
    return grey('insufficient data', `${feature}: insufficient data (${why}).`);
  }
  const status = heatStatusOf(f);
  const test = f.test ?? null;
  const statistic = f.statistic ?? null;
  const threshold = f.threshold ?? null;
  const ratio = driftRatio(test, statistic, threshold);
  const hatched = status === 'insufficient data' || status === 'schema changed';
  const testName = test ? test.toUpperCase() : 'test';
  const comparison = isPValueTest(test)
    ? `p-value ${formatStat(statistic)} (drift below ${formatStat(threshold)})`
    : `${testName} ${formatStat(statistic)} (drift at ${formatStat(threshold)} or more)`;
  const head = isPValueTest(test) ? `${testName} ` : '';
  const word = status === 'drift' ? 'DRIFT' : status === 'ok' ? 'no drift' : status;
  const message = f.message ? ` ${f.message}` : '';
  return {
    feature,
    status,
    ratio,
    colour: heatColour(status, ratio),
    hatched,
    test,
    statistic,
    threshold,
    title: hatched && statistic === null ? `${feature}: ${word}.${message}` : `${feature}: ${word} · ${head}${comparison}.${message}`
  };
}

/** A column of the heatmap: one window. */
export interface IHeatColumn {
  id: number;
  seq: number;
  version: number;
  status: string;
  rows: number;
  start: string | null;
  end: string | null;
  drift: IWindowDrift;
}

/** The heatmap of a page of windows: columns oldest → newest, rows the features, cells[row][column]. */
export interface IHeatmap {
  columns: IHeatColumn[];
  features: string[];
  cells: IHeatCell[][];
}

/** Oldest first: by end time, then by id (the backend sends newest first). */
export function oldestFirst<T extends Pick<MonitorWindow, 'id' | 'end'>>(windows: readonly T[]): T[] {
  const time = (w: T) => (w.end ? Date.parse(w.end) : NaN);
  return [...windows].sort((a, b) => {
    const ta = time(a);
    const tb = time(b);
    if (Number.isFinite(ta) && Number.isFinite(tb) && ta !== tb) {
      return ta - tb;
    }
    return a.id - b.id;
  });
}

/**
 * The heatmap of a page of windows (in any order). Rows follow `order` (the reference profile's features), then
 * any other feature in the order first seen; columns run oldest → newest.
 */
export function heatmap(windows: readonly MonitorWindow[], order: readonly string[] = []): IHeatmap {
  const columns: IHeatColumn[] = oldestFirst(windows).map(w => ({
    id: w.id,
    seq: w.seq,
    version: w.version,
    status: w.status,
    rows: w.rows,
    start: w.start,
    end: w.end,
    drift: windowDrift(w)
  }));
  const seen = new Set<string>();
  const features: string[] = [];
  const add = (name: string) => {
    if (!seen.has(name)) {
      seen.add(name);
      features.push(name);
    }
  };
  order.forEach(add);
  for (const c of columns) {
    c.drift.features.forEach(f => add(f.feature));
    c.drift.missing_columns.forEach(add);
    c.drift.added_columns.forEach(add);
  }
  return { columns, features, cells: features.map(f => columns.map(c => heatCell(c.drift, f))) };
}

/** The reference profile's features, in its order (the heatmap's rows). */
export function profileFeatures(monitor: Pick<MonitorOut, 'profile'> | null | undefined): string[] {
  const out: string[] = [];
  for (const f of monitor?.profile?.features ?? []) {
    const name = (f as Record<string, unknown>)?.feature ?? (f as Record<string, unknown>)?.name;
    if (typeof name === 'string') {
      out.push(name);
    }
  }
  return out;
}

/** A column's heading: `#seq`, with the version when the page spans several. */
export function columnLabel(c: Pick<IHeatColumn, 'seq' | 'version'>, manyVersions: boolean): string {
  return manyVersions ? `v${c.version}·${c.seq}` : `#${c.seq}`;
}

// --- performance ---------------------------------------------------------------------------------------

/** The metrics a monitor scores, in the order the charts show them. */
export const PERF_METRICS = ['roc_auc', 'f1', 'rmse', 'ece'] as const;

export type PerfMetric = (typeof PERF_METRICS)[number];

/** Whether a higher value of the metric is better. */
export const HIGHER_IS_BETTER: Record<PerfMetric, boolean> = { roc_auc: true, f1: true, rmse: false, ece: false };

/** The metrics' names as shown. */
export const METRIC_LABELS: Record<PerfMetric, string> = {
  roc_auc: 'ROC AUC',
  f1: 'F1',
  rmse: 'RMSE',
  ece: 'ECE (calibration error)'
};

/** The metrics' short names (form labels). */
export const METRIC_SHORT: Record<PerfMetric, string> = { roc_auc: 'ROC AUC', f1: 'F1', rmse: 'RMSE', ece: 'ECE' };

/** The backend's default tolerance: 0.05 for AUC, F1 and ECE; 10% of the baseline for RMSE. */
export function defaultTolerance(metric: PerfMetric, baseline: number | null): number | null {
  if (metric === 'rmse') {
    return baseline === null ? null : 0.1 * Math.abs(baseline);
  }
  return 0.05;
}

/** One check of a window's performance against the baseline. */
export interface IPerfCheck {
  metric: string;
  value: number;
  baseline: number;
  tolerance: number;
  degraded: boolean;
}

/** A window's performance, read defensively. */
export interface IWindowPerformance {
  status: string;
  labelled: number;
  metrics: Partial<Record<PerfMetric, number>>;
  checks: IPerfCheck[];
  message: string | null;
  /** Metrics that could not be scored from what was served (e.g. AUC from class labels only), with why. */
  unavailable: { metric: string; reason: string }[];
}

/** A window's performance, or null when it has none yet. */
export function windowPerformance(w: Pick<MonitorWindow, 'performance' | 'labelled'>): IWindowPerformance | null {
  const p = w.performance as Record<string, unknown> | null;
  if (!p || typeof p !== 'object') {
    return null;
  }
  const metrics: Partial<Record<PerfMetric, number>> = {};
  const raw = (p.metrics ?? {}) as Record<string, unknown>;
  for (const m of PERF_METRICS) {
    const v = num(raw[m]);
    if (v !== null) {
      metrics[m] = v;
    }
  }
  const checks: IPerfCheck[] = [];
  if (Array.isArray(p.checks)) {
    for (const item of p.checks) {
      const c = (item ?? {}) as Record<string, unknown>;
      const value = num(c.value);
      const baseline = num(c.baseline);
      const tolerance = num(c.tolerance);
      if (typeof c.metric === 'string' && value !== null && baseline !== null && tolerance !== null) {
        checks.push({ metric: c.metric, value, baseline, tolerance, degraded: c.degraded === true });
      }
    }
  }
  const unavailable: { metric: string; reason: string }[] = [];
  if (Array.isArray(p.unavailable)) {
    for (const item of p.unavailable) {
      const u = (item ?? {}) as Record<string, unknown>;
      if (typeof u.metric === 'string') {
        unavailable.push({ metric: u.metric, reason: str(u.reason) ?? 'cannot be computed' });
      }
    }
  }
  return {
    status: str(p.status) ?? 'ok',
    labelled: num(p.labelled) ?? w.labelled,
    metrics,
    checks,
    message: str(p.message),
    unavailable
  };
}

/** One point of a metric's line: a window. */
export interface IPerfPoint {
  windowId: number;
  seq: number;
  version: number;
  end: string | null;
  /** Null: a gap in the line. */
  value: number | null;
  baseline: number | null;
  tolerance: number | null;
  degraded: boolean;
  /** Why there is no value (a gap), else null. */
  gap: string | null;
}

/** The baseline and tolerance to use where a window carries no check of its own (the monitor's). */
export interface IPerfFallback {
  baseline?: number | null;
  tolerance?: number | null;
}

/**
 * A metric across windows (oldest first), with the baseline and tolerance each window was checked against;
 * windows with too few labels, an error, or no value of this metric are gaps.
 */
export function performanceSeries(
  windows: readonly MonitorWindow[],
  metric: PerfMetric,
  fallback: IPerfFallback = {}
): IPerfPoint[] {
  return oldestFirst(windows).map(w => {
    const perf = windowPerformance(w);
    const check = perf?.checks.find(c => c.metric === metric);
    const baseline = check?.baseline ?? fallback.baseline ?? null;
    const tolerance = check?.tolerance ?? fallback.tolerance ?? defaultTolerance(metric, baseline);
    const point: IPerfPoint = {
      windowId: w.id,
      seq: w.seq,
      version: w.version,
      end: w.end,
      value: null,
      baseline,
      tolerance: baseline === null ? null : tolerance,
      degraded: false,
      gap: null
    };
    if (!perf) {
      point.gap = 'no labels yet';
    } else if (perf.status === 'insufficient data') {
      point.gap = perf.message ?? `only ${perf.labelled} labelled predictions`;
    } else if (perf.status === 'error') {
      point.gap = perf.message ?? 'the labels could not be scored';
    } else if (perf.metrics[metric] === undefined) {
      const why = perf.unavailable.find(u => u.metric === metric)?.reason;
      point.gap = why ? `${METRIC_LABELS[metric]} cannot be computed: ${why}` : `no ${METRIC_LABELS[metric]} for this window`;
    } else {
      point.value = perf.metrics[metric] as number;
      point.degraded = check
        ? check.degraded
        : baseline !== null && tolerance !== null && isDegraded(metric, point.value, baseline, tolerance);
    }
    return point;
  });
}

/** Whether `value` lost more than `tolerance` against `baseline` (the backend's rule). */
export function isDegraded(metric: PerfMetric, value: number, baseline: number, tolerance: number): boolean {
  const loss = HIGHER_IS_BETTER[metric] ? baseline - value : value - baseline;
  return loss > tolerance;
}

/** The metrics worth a chart: those any window scored, or the baseline names. */
export function availableMetrics(
  windows: readonly MonitorWindow[],
  baselineMetrics: Record<string, unknown> = {}
): PerfMetric[] {
  const found = new Set<PerfMetric>();
  for (const w of windows) {
    const perf = windowPerformance(w);
    for (const m of PERF_METRICS) {
      if (perf?.metrics[m] !== undefined || perf?.checks.some(c => c.metric === m)) {
        found.add(m);
      }
    }
  }
  for (const m of PERF_METRICS) {
    if (num(baselineMetrics[m]) !== null) {
      found.add(m);
    }
  }
  return PERF_METRICS.filter(m => found.has(m));
}

/** The monitor's baseline metrics (`baseline.metrics`), as numbers. */
export function baselineMetrics(monitor: Pick<MonitorOut, 'baseline'> | null | undefined): Record<string, number> {
  const raw = ((monitor?.baseline ?? {}) as Record<string, unknown>).metrics;
  const out: Record<string, number> = {};
  if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      const n = num(v);
      if (n !== null) {
        out[k] = n;
      }
    }
  }
  return out;
}

/** The acceptable band of a point: from the baseline to the tolerance on the losing side. */
export function toleranceBand(metric: PerfMetric, p: Pick<IPerfPoint, 'baseline' | 'tolerance'>): [number, number] | null {
  if (p.baseline === null || p.tolerance === null) {
    return null;
  }
  return HIGHER_IS_BETTER[metric]
    ? [p.baseline - p.tolerance, p.baseline]
    : [p.baseline, p.baseline + p.tolerance];
}

/** An SVG chart's drawing: paths in a `width` × `height` box. */
export interface IChartGeometry {
  width: number;
  height: number;
  yMin: number;
  yMax: number;
  /** x of each point. */
  xs: number[];
  /** The metric's line; a new `M` after each gap. */
  line: string;
  /** The baseline (dashed), a step line; a new `M` where it is missing. */
  baseline: string;
  /** The tolerance band, one closed polygon per run of points with a band. */
  band: string;
  /** The y of each value (null in gaps), for the dots. */
  ys: (number | null)[];
}

function niceRange(values: number[]): [number, number] {
  if (values.length === 0) {
    return [0, 1];
  }
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi - lo < 1e-9) {
    const pad = Math.abs(hi) * 0.05 || 0.05;
    lo -= pad;
    hi += pad;
  } else {
    const pad = (hi - lo) * 0.08;
    lo -= pad;
    hi += pad;
  }
  return [lo, hi];
}

function fixed(n: number): string {
  return String(Math.round(n * 10) / 10);
}

/** Where to draw a metric's points, its baseline and its tolerance band. */
export function chartGeometry(
  metric: PerfMetric,
  points: readonly IPerfPoint[],
  width = 320,
  height = 120,
  pad = { left: 40, right: 8, top: 8, bottom: 18 }
): IChartGeometry {
  const bands = points.map(p => toleranceBand(metric, p));
  const all: number[] = [];
  points.forEach((p, i) => {
    if (p.value !== null) {
      all.push(p.value);
    }
    if (p.baseline !== null) {
      all.push(p.baseline);
    }
    const b = bands[i];
    if (b) {
      all.push(b[0], b[1]);
    }
  });
  const [yMin, yMax] = niceRange(all);
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const n = points.length;
  const xs = points.map((_, i) => pad.left + (n <= 1 ? innerW / 2 : (i / (n - 1)) * innerW));
  const y = (v: number) => pad.top + (1 - (v - yMin) / (yMax - yMin)) * innerH;
  const half = n <= 1 ? innerW / 2 : innerW / (n - 1) / 2;

  let line = '';
  let pen = false;
  points.forEach((p, i) => {
    if (p.value === null) {
      pen = false;
      return;
    }
    line += `${pen ? 'L' : 'M'}${fixed(xs[i])},${fixed(y(p.value))}`;
    pen = true;
  });

  // The baseline as steps: each window's baseline spans half the way to its neighbours.
  let baseline = '';
  pen = false;
  points.forEach((p, i) => {
    if (p.baseline === null) {
      pen = false;
      return;
    }
    const x0 = Math.max(pad.left, xs[i] - half);
    const x1 = Math.min(width - pad.right, xs[i] + half);
    const yy = fixed(y(p.baseline));
    baseline += `${pen ? 'L' : 'M'}${fixed(x0)},${yy}L${fixed(x1)},${yy}`;
    pen = true;
  });

  // The band: for each run of windows with one, the top edge left → right, then the bottom edge back.
  let band = '';
  let run: number[] = [];
  const flush = () => {
    if (run.length === 0) {
      return;
    }
    const top: string[] = [];
    const bottom: string[] = [];
    for (const i of run) {
      const [lo, hi] = bands[i] as [number, number];
      const x0 = fixed(Math.max(pad.left, xs[i] - half));
      const x1 = fixed(Math.min(width - pad.right, xs[i] + half));
      top.push(`${x0},${fixed(y(hi))}`, `${x1},${fixed(y(hi))}`);
      bottom.unshift(`${x1},${fixed(y(lo))}`, `${x0},${fixed(y(lo))}`);
    }
    band += `M${top.join('L')}L${bottom.join('L')}Z`;
    run = [];
  };
  bands.forEach((b, i) => (b ? run.push(i) : flush()));
  flush();

  return {
    width,
    height,
    yMin,
    yMax,
    xs,
    line,
    baseline,
    band,
    ys: points.map(p => (p.value === null ? null : y(p.value)))
  };
}

/** A metric's value as shown: 3 significant digits. */
export function formatMetric(value: number | null | undefined): string {
  return formatStat(value);
}

// --- alerts --------------------------------------------------------------------------------------------

/** Firing alerts first, then the newest. */
export function sortAlerts<T extends Pick<Alert, 'state' | 'started_at' | 'id'>>(alerts: readonly T[]): T[] {
  const time = (a: T) => (a.started_at ? Date.parse(a.started_at) : 0) || 0;
  return [...alerts].sort((a, b) => {
    const fa = a.state === 'firing' ? 0 : 1;
    const fb = b.state === 'firing' ? 0 : 1;
    if (fa !== fb) {
      return fa - fb;
    }
    const dt = time(b) - time(a);
    return dt !== 0 ? dt : b.id - a.id;
  });
}

/**
 * Which resolved alerts fill a page that lists the firing ones first: the page at `offset` holds firing alerts
 * `offset…` (the server sent `firingShown` of them, out of `firingTotal`), then resolved ones from the start.
 * The limit is at least 1 so that the request still answers the resolved total.
 */
export function resolvedSlice(
  offset: number,
  pageSize: number,
  firingTotal: number,
  firingShown: number
): { offset: number; limit: number; take: number } {
  const take = Math.max(0, pageSize - firingShown);
  return { offset: Math.max(0, offset - firingTotal), limit: Math.max(1, take), take };
}

/** A delivery to a webhook in words: `slack-ops ✓ 200` or `jira ✗ 500 (timeout)`. */
export function deliveryWords(d: AlertDelivery): { ok: boolean; text: string; title: string } {
  const code = d.status_code === null ? '' : ` ${d.status_code}`;
  const tries = d.attempts > 1 ? ` after ${d.attempts} attempts` : '';
  return {
    ok: d.ok,
    text: `${d.webhook} ${d.ok ? '✓' : '✗'}${code}`,
    title: d.ok
      ? `Delivered "${d.state}" to ${d.webhook}${tries}.`
      : `Could not deliver "${d.state}" to ${d.webhook}${tries}: ${d.error ?? `HTTP${code}`}`
  };
}

/** An alert's state as a chip. */
export function alertStateWords(a: Pick<Alert, 'state' | 'severity'>): IStatusWords {
  if (a.state === 'firing') {
    return {
      tone: a.severity === 'critical' ? 'failure' : 'warning',
      label: 'Firing',
      title: `Firing (${a.severity}): the newest window still shows it.`
    };
  }
  return { tone: 'success', label: 'Resolved', title: 'A later window no longer shows it.' };
}

// --- retrainings ---------------------------------------------------------------------------------------

/** One link of a retraining's chain: alert → run → version → gate decision. */
export interface IChainStep {
  key: 'alert' | 'run' | 'version' | 'decision';
  label: string;
  value: string | null;
}

/** A retraining's chain; a step it has not reached has a null value. */
export function retrainingChain(r: Retraining): IChainStep[] {
  return [
    { key: 'alert', label: 'alert', value: r.alert ?? (r.alert_id === null ? null : `#${r.alert_id}`) },
    { key: 'run', label: 'run', value: r.pipeline_run_id },
    { key: 'version', label: 'version', value: r.version === null ? null : `v${r.version}` },
    { key: 'decision', label: 'gate decision', value: r.decision_id === null ? null : `#${r.decision_id}` }
  ];
}

// --- the monitor form ----------------------------------------------------------------------------------

/** The monitor form's inputs, as typed. */
export interface IMonitorInput {
  windowSize: string;
  /** Empty: windows by count; seconds: windows by time (the predictions of each ended clock slice). */
  windowSeconds: string;
  retrain: boolean;
  retrainOn: 'drift' | 'performance' | 'any';
  cooldownS: string;
  enabled: boolean;
  tolerance: Record<PerfMetric, string>;
}

export type MonitorField = 'window_size' | 'window_seconds' | 'cooldown_s' | `tolerance.${PerfMetric}`;

/** The form's inputs: empty for a new monitor, the monitor's settings to change one. */
export function monitorInput(m?: MonitorOut | null): IMonitorInput {
  const tol = (k: PerfMetric) => (m && typeof m.tolerance[k] === 'number' ? String(m.tolerance[k]) : '');
  return {
    windowSize: m ? String(m.window_size) : '',
    windowSeconds: m?.window_seconds ? String(m.window_seconds) : '',
    retrain: m?.retrain ?? false,
    retrainOn: (m?.retrain_on as IMonitorInput['retrainOn']) ?? 'any',
    cooldownS: m ? String(m.cooldown_s) : '3600',
    enabled: m?.enabled ?? true,
    tolerance: { roc_auc: tol('roc_auc'), f1: tol('f1'), rmse: tol('rmse'), ece: tol('ece') }
  };
}

/** The PUT body of the monitor form, or the problem of each field. */
export function monitorRequest(
  input: IMonitorInput
): { request: MonitorRequest } | { errors: Partial<Record<MonitorField, string>> } {
  const errors: Partial<Record<MonitorField, string>> = {};
  const request: MonitorRequest = {
    retrain: input.retrain,
    retrain_on: input.retrainOn,
    enabled: input.enabled,
    tolerance: {}
  };
  const size = input.windowSize.trim();
  if (size) {
    const n = Number(size);
    if (!Number.isInteger(n) || n < 50 || n > 1_000_000) {
      errors.window_size = 'A window is a whole number of predictions from 50 to 1,000,000.';
    } else {
      request.window_size = n;
    }
  } else {
    request.window_size = null;
  }
  const seconds = input.windowSeconds.trim();
  if (seconds) {
    const n = Number(seconds);
    if (!Number.isInteger(n) || n < 60 || n > 30 * 86400) {
      errors.window_seconds = 'A time window is a whole number of seconds from 60 to 2,592,000 (30 days).';
    } else {
      request.window_seconds = n;
    }
  } else {
    request.window_seconds = null;
  }
  const cooldown = input.cooldownS.trim();
  if (cooldown) {
    const n = Number(cooldown);
    if (!Number.isInteger(n) || n < 0 || n > 30 * 86400) {
      errors.cooldown_s = 'The cooldown is a whole number of seconds from 0 to 2,592,000 (30 days).';
    } else {
      request.cooldown_s = n;
    }
  }
  for (const m of PERF_METRICS) {
    const text = input.tolerance[m].trim();
    if (!text) {
      continue;
    }
    const v = Number(text);
    if (!Number.isFinite(v) || v < 0 || v > 1e9) {
      errors[`tolerance.${m}`] = `The ${METRIC_LABELS[m]} tolerance is a number of 0 or more.`;
    } else {
      (request.tolerance as Record<string, number>)[m] = v;
    }
  }
  return Object.keys(errors).length > 0 ? { errors } : { request };
}

/** What "Check now" did, in words. */
export function evaluationWords(e: { windows: number; summary: string; message: string | null }): string {
  const text = e.summary ? `${e.summary[0].toUpperCase()}${e.summary.slice(1)}.` : `${e.windows} new window(s).`;
  return e.message ? `${text} ${e.message}` : text;
}

// --- webhooks ------------------------------------------------------------------------------------------

/** The webhook form's inputs, as typed. */
export interface IWebhookInput {
  kind: 'slack' | 'jira' | 'generic';
  name: string;
  url: string;
  secret: string;
  jiraProject: string;
  jiraIssueType: string;
}

export type WebhookField = 'name' | 'url' | 'secret' | 'jira_project' | 'jira_issue_type';

/** An empty webhook form. */
export function webhookInput(): IWebhookInput {
  return { kind: 'slack', name: '', url: '', secret: '', jiraProject: '', jiraIssueType: 'Bug' };
}

const HOOK_NAME = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;
const JIRA_KEY = /^[A-Z][A-Z0-9_]{0,31}$/;

/** What the URL field asks for, per kind. */
export function webhookUrlHint(kind: IWebhookInput['kind']): string {
  switch (kind) {
    case 'slack':
      return 'https://hooks.slack.com/services/…';
    case 'jira':
      return 'https://your-site.atlassian.net';
    default:
      return 'https://example.com/hooks/mlp';
  }
}

/** The POST body of the webhook form, or the problem of each field. */
export function webhookRequest(
  input: IWebhookInput
): { request: WebhookRequest } | { errors: Partial<Record<WebhookField, string>> } {
  const errors: Partial<Record<WebhookField, string>> = {};
  const name = input.name.trim();
  const url = input.url.trim();
  const secret = input.kind === 'slack' ? '' : input.secret; // Slack's secret is in its URL
  if (!name) {
    errors.name = 'Name the webhook, e.g. ops-slack.';
  } else if (!HOOK_NAME.test(name)) {
    errors.name = 'A name has up to 64 letters, digits, spaces, _ . or -, starting with a letter or digit.';
  }
  if (!/^https?:\/\/[^\s/]+/i.test(url)) {
    errors.url = 'Enter the full http:// or https:// address.';
  } else if (url.length > 2000) {
    errors.url = 'The address is longer than 2,000 characters.';
  }
  if (secret.length > 500) {
    errors.secret = 'The secret is longer than 500 characters.';
  }
  const request: WebhookRequest = { name, kind: input.kind, url };
  if (secret) {
    request.secret = secret;
  }
  if (input.kind === 'jira') {
    const key = input.jiraProject.trim();
    if (!JIRA_KEY.test(key)) {
      errors.jira_project = 'The Jira project key is in capitals, e.g. OPS.';
    } else {
      request.jira_project = key;
    }
    if (!secret) {
      errors.secret = 'Jira needs `user:api_token` to create issues.';
    } else if (!secret.includes(':')) {
      errors.secret = 'Enter the Jira credentials as user:api_token.';
    }
    const type = input.jiraIssueType.trim();
    if (type) {
      if (type.length > 64) {
        errors.jira_issue_type = 'The issue type has at most 64 characters.';
      } else {
        request.jira_issue_type = type;
      }
    }
  }
  return Object.keys(errors).length > 0 ? { errors } : { request };
}

/** What a webhook does, in words. */
export function webhookWords(h: { kind: string; jira_project: string | null; jira_issue_type: string }): string {
  switch (h.kind) {
    case 'slack':
      return 'posts to a Slack channel';
    case 'jira':
      return `opens a ${h.jira_issue_type} in Jira project ${h.jira_project ?? '?'}`;
    default:
      return 'POSTs signed JSON';
  }
}
