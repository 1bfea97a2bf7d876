/**
 * Axis ranges for metric charts where uPlot's automatic ones mislead: a metric logged at one step (uPlot spreads
 * a lone x over 0–100 and repeats labels) or with one value throughout (a flat line gets a range so narrow that
 * every tick rounds to the same label). Null means "let uPlot choose".
 */

export type Range = [number, number];

/** The x range when every point sits on one step (or one time): that step in the middle, whole steps around. */
export function xRange(xs: number[], time = false): Range | null {
  if (xs.length === 0) {
    return null;
  }
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  if (lo !== hi) {
    return null;
  }
  const pad = time ? 60 : 1;
  return [lo - pad, hi + pad];
}

/** The y range when all values are equal: a tenth of the value on each side (±1 around zero). */
export function yRange(values: (number | null)[]): Range | null {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (finite.length === 0) {
    return null;
  }
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  if (hi - lo > Math.max(Math.abs(lo), Math.abs(hi)) * 1e-9) {
    return null;
  }
  const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
  return [lo - pad, hi + pad];
}

/**
 * Tick labels with the fewest digits that say each tick's value and tell ticks apart: no two read the same and
 * none is rounded to another number (uPlot's `values` callback).
 */
export function tickLabels(ticks: number[]): string[] {
  for (let digits = 0; digits <= 12; digits++) {
    const labels = ticks.map(t => formatTick(t, digits));
    const exact = labels.every((l, i) => Math.abs(Number(l) - ticks[i]) <= 1e-9 * Math.max(1, Math.abs(ticks[i])));
    if (exact && new Set(labels).size === labels.length) {
      return labels;
    }
  }
  return ticks.map(t => String(t));
}

function formatTick(value: number, digits: number): string {
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-4)) {
    return value.toExponential(Math.min(digits, 6));
  }
  return value.toFixed(digits);
}
