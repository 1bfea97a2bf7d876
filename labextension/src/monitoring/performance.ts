/**
 * A deployment's performance over its windows: the metrics, their baselines and tolerance bands, the series a
 * chart draws and the chart's geometry.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type { MonitorOut, MonitorWindow } from '../common/api';
import { num, str } from '../common/jsonValues';
import { oldestFirst } from './drift';

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
  /** The metric's 95% bootstrap interval on this window (null from older windows). */
  interval: [number, number] | null;
  /** ok, degraded, or "not enough labelled rows" (no verdict either way). */
  status: string;
  /** The labelled rows the metric rests on and the fewest it needs for a verdict. */
  rows: number | null;
  minRows: number | null;
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
        const iv = Array.isArray(c.interval) ? c.interval.map(num) : [];
        const interval: [number, number] | null =
          iv.length === 2 && iv[0] !== null && iv[1] !== null ? [iv[0], iv[1]] : null;
        const degraded = c.degraded === true;
        const status = str(c.status) ?? (degraded ? 'degraded' : 'ok');
        checks.push({
          metric: c.metric,
          value,
          baseline,
          tolerance,
          degraded,
          interval,
          status,
          rows: num(c.rows),
          minRows: num(c.min_rows)
        });
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
  /** The value's 95% interval, when the window recorded one. */
  interval: [number, number] | null;
  /** The verdict's evidence in words ("not enough labelled rows: 200 of 300"), else null. */
  evidence: string | null;
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
      interval: check?.interval ?? null,
      evidence: null,
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
      if (check?.status === 'not enough labelled rows') {
        point.evidence =
          `not enough labelled rows for a verdict` +
          (check.rows !== null && check.minRows !== null ? ` (${check.rows} of ${check.minRows})` : '');
      }
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
