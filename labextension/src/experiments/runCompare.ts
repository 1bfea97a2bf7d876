/**
 * Comparing runs: which params differ, the rows of the side-by-side tables, and chart series.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type { MetricPoint, RunSummary } from '../common/api';

/** The server compares at most this many runs at once. */
export const MAX_COMPARED_RUNS = 50;

/** Why the selection cannot be compared, in words; null when it can. */
export function compareSelectionProblem(count: number): string | null {
  if (count < 2) {
    return 'Select at least 2 runs to compare.';
  }
  if (count > MAX_COMPARED_RUNS) {
    return `Select at most ${MAX_COMPARED_RUNS} runs to compare (${count} are selected).`;
  }
  return null;
}

/** One row of a side-by-side table: a key and each run's value ('' when a run lacks it). */
export interface ICompareRow<V> {
  key: string;
  values: V[];
  differs: boolean;
}

/** Every key any run has in `field`, sorted. */
export function unionKeys(runs: RunSummary[], field: 'params' | 'metrics'): string[] {
  const keys = new Set<string>();
  for (const run of runs) {
    Object.keys(run[field] ?? {}).forEach(k => keys.add(k));
  }
  return [...keys].sort();
}

/** Params whose value is not the same in every run (a missing param counts as a value). */
export function differingParams(runs: RunSummary[]): string[] {
  return unionKeys(runs, 'params').filter(key => {
    const values = new Set(runs.map(run => run.params?.[key] ?? '\u0000missing'));
    return values.size > 1;
  });
}

/** The params table: one row per key, one value per run, flagged when values differ. */
export function paramRows(runs: RunSummary[], keys?: string[]): ICompareRow<string | null>[] {
  const differing = new Set(differingParams(runs));
  return (keys ?? unionKeys(runs, 'params')).map(key => ({
    key,
    values: runs.map(run => run.params?.[key] ?? null),
    differs: differing.has(key)
  }));
}

/** The metrics table: one row per key with each run's latest value. */
export function metricRows(runs: RunSummary[], keys?: string[]): ICompareRow<number | null>[] {
  return (keys ?? unionKeys(runs, 'metrics')).map(key => {
    const values = runs.map(run => run.metrics?.[key] ?? null);
    return { key, values, differs: new Set(values).size > 1 };
  });
}

/**
 * Histories of several runs on one shared x axis (the step), as uPlot wants them:
 * `[steps, run1Values, run2Values, ...]`, with null where a run logged nothing at a step.
 */
export function alignHistories(
  histories: { [runId: string]: MetricPoint[] | undefined },
  runIds: string[]
): [number[], ...(number | null)[][]] {
  const steps = new Set<number>();
  for (const id of runIds) {
    (histories[id] ?? []).forEach(p => steps.add(p.step));
  }
  const xs = [...steps].sort((a, b) => a - b);
  const index = new Map(xs.map((step, i) => [step, i]));
  const series = runIds.map(id => {
    const ys: (number | null)[] = new Array(xs.length).fill(null);
    for (const point of histories[id] ?? []) {
      const value = point.value;
      // The last value logged at a step wins, as in MLflow's own charts.
      ys[index.get(point.step)!] = value !== null && Number.isFinite(value) ? value : null;
    }
    return ys;
  });
  return [xs, ...series];
}

/** A run's name for legends and headers: its name, else the start of its id. */
export function runLabel(run: Pick<RunSummary, 'run_id' | 'run_name'>): string {
  return run.run_name || run.run_id.slice(0, 8);
}

/** Distinct line colours (Tableau 10), reused in order. */
export const SERIES_COLOURS = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac'
];

export function seriesColour(index: number): string {
  return SERIES_COLOURS[index % SERIES_COLOURS.length];
}
