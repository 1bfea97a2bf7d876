/**
 * How run values read in the panel: times, durations, metric values, file sizes.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** A millisecond timestamp as local `YYYY-MM-DD HH:MM:SS`; '—' when missing. */
export function formatTimestamp(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '—';
  }
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** How long a run took (`850 ms`, `42 s`, `3 min 5 s`, `2 h 4 min`); '—' without a start or an end. */
export function formatDuration(
  startMs: number | null | undefined,
  endMs: number | null | undefined
): string {
  if (
    startMs === null ||
    startMs === undefined ||
    endMs === null ||
    endMs === undefined ||
    endMs < startMs
  ) {
    return '—';
  }
  const ms = endMs - startMs;
  if (ms < 1000) {
    return `${ms} ms`;
  }
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) {
    return `${seconds} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ${seconds % 60} s`;
  }
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

/** How `formatMetric` writes a value. */
export interface IMetricFormat {
  /**
   * Write `significant` significant digits instead (the monitoring charts' short labels): exponential below 1e-3
   * with 2 digits after the point, and '—' for infinities too.
   */
  significant?: number;
}

/**
 * A metric value with up to 4 significant digits after the point; '—' when missing or NaN, '∞'/'−∞' for infinities.
 * With `significant`, the short form the monitoring charts and drift cells show.
 */
export function formatMetric(value: number | null | undefined, format: IMetricFormat = {}): string {
  if (format.significant !== undefined) {
    return formatSignificant(value, format.significant);
  }
  if (value === null || value === undefined || Number.isNaN(value)) {
    return '—';
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? '∞' : '−∞';
  }
  if (Number.isInteger(value) && Math.abs(value) < 1e15) {
    return String(value);
  }
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e9)) {
    return value.toExponential(3);
  }
  return String(Number(value.toFixed(abs >= 1 ? 4 : 4 - Math.floor(Math.log10(abs)) - 1)));
}

function formatSignificant(value: number | null | undefined, digits: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '—';
  }
  if (value !== 0 && Math.abs(value) < 1e-3) {
    return value.toExponential(2);
  }
  return String(Number(value.toPrecision(digits)));
}

/** How `formatBytes` writes a size. */
export interface IBytesFormat {
  /** Round to whole units from 10 up ("15 KB", not "15.0 KB"): the batch jobs' upload sizes. */
  wholeFromTen?: boolean;
}

/** A file size in B, KB, MB, GB (powers of 1024); '' when unknown. */
export function formatBytes(size: number | null | undefined, format: IBytesFormat = {}): string {
  if (size === null || size === undefined || size < 0) {
    return '';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) {
    return `${value} B`;
  }
  return `${format.wholeFromTen && value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** "1 run" / "1,234 runs"; an estimate (`exact` false) as "≈ 100,000 runs". */
export function formatRunCount(total: number, exact = true): string {
  return `${exact ? '' : '≈ '}${total.toLocaleString('en-US')} ${total === 1 ? 'run' : 'runs'}`;
}

/** A sha256 shortened for display (first 12 hex digits). */
export function shortHash(hash: string | null | undefined): string {
  return hash ? hash.slice(0, 12) : '—';
}
