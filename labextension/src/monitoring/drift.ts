/**
 * The drift of a deployment's windows: each window's result read defensively, and the heatmap's cells (colour,
 * hatching, the words of a cell's title) and columns.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type { MonitorOut, MonitorWindow } from '../common/api';
import { num, str, strings } from '../common/jsonValues';
import { formatMetric } from '../common/runFormat';

/** Statistics and thresholds as a cell's title shows them: 3 significant digits. */
const SHORT = { significant: 3 };

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
    ? `p-value ${formatMetric(statistic, SHORT)} (drift below ${formatMetric(threshold, SHORT)})`
    : `${testName} ${formatMetric(statistic, SHORT)} (drift at ${formatMetric(threshold, SHORT)} or more)`;
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
