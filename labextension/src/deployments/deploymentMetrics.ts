/**
 * A deployment's traffic for the charts: 10-second windows with the quiet ones filled in, latency lines with
 * the SLA, and the figures above them in words.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type { DeploymentMetrics, TrafficPoint } from '../common/api';

/** How often the charts reload while the panel is visible. */
export const METRICS_REFRESH_MS = 5000;

/** The time ranges offered, in minutes. */
export const METRIC_RANGES = [5, 15, 60] as const;

/** One line of a chart: the same shape MetricChart draws. */
export interface ISeries {
  label: string;
  values: (number | null)[];
  colour: string;
  dash?: number[];
}

/** The x values (unix seconds) and the lines of one chart. */
export interface IChartData {
  xs: number[];
  series: ISeries[];
}

/**
 * The backend sends only windows that saw traffic; the charts need the quiet ones too, as zero requests and
 * no latency: from the window holding `since` (or the first sent) to the one holding `until` (unix seconds).
 */
export function fillWindows(
  points: readonly TrafficPoint[],
  windowSeconds: number,
  until?: number,
  since?: number
): TrafficPoint[] {
  if (points.length === 0 || windowSeconds <= 0) {
    return [];
  }
  const sorted = [...points].sort((a, b) => a.start - b.start);
  const byStart = new Map(sorted.map(p => [Math.round(p.start), p]));
  // Windows start on multiples of their length (the backend's grid), so `since` is moved onto it.
  const first = Math.min(sorted[0].start, since === undefined ? Infinity : since - (since % windowSeconds));
  const last = Math.max(sorted[sorted.length - 1].start, until ?? -Infinity);
  const out: TrafficPoint[] = [];
  // The range is an hour at most; a longer one (a clock gone wrong) is cut rather than drawn with thousands of points.
  const steps = Math.min(Math.floor((last - first) / windowSeconds), 360);
  for (let i = 0; i <= steps; i++) {
    const start = first + i * windowSeconds;
    out.push(
      byStart.get(Math.round(start)) ?? {
        start,
        requests: 0,
        errors: 0,
        rejected: 0,
        p50_ms: null,
        p95_ms: null,
        p99_ms: null
      }
    );
  }
  return out;
}

/** The windows of the last `minutes` up to `now` (unix seconds), quiet ones included. */
function windowsOf(metrics: DeploymentMetrics, now?: number, minutes?: number): TrafficPoint[] {
  const since = now !== undefined && minutes !== undefined ? now - minutes * 60 : undefined;
  return fillWindows(metrics.series, metrics.window_seconds, now, since);
}

/** p50, p95 and p99 over the last `minutes`, and the SLA as a dashed line. */
export function latencyChart(metrics: DeploymentMetrics, now?: number, minutes?: number): IChartData {
  const points = windowsOf(metrics, now, minutes);
  return {
    xs: points.map(p => p.start),
    series: [
      { label: 'p50 ms', values: points.map(p => p.p50_ms), colour: '#1976d2' },
      { label: 'p95 ms', values: points.map(p => p.p95_ms), colour: '#f57c00' },
      { label: 'p99 ms', values: points.map(p => p.p99_ms), colour: '#7b1fa2' },
      { label: 'SLA ms', values: points.map(() => metrics.sla_ms), colour: '#d32f2f', dash: [6, 4] }
    ]
  };
}

/** Requests, errors and rejected requests per window of the last `minutes`. */
export function trafficChart(metrics: DeploymentMetrics, now?: number, minutes?: number): IChartData {
  const points = windowsOf(metrics, now, minutes);
  return {
    xs: points.map(p => p.start),
    series: [
      { label: 'requests', values: points.map(p => p.requests), colour: '#388e3c' },
      { label: 'errors', values: points.map(p => p.errors), colour: '#d32f2f' },
      { label: 'rejected', values: points.map(p => p.rejected), colour: '#757575' }
    ]
  };
}

/** How many windows have a latency to plot. */
export function latencyPoints(metrics: DeploymentMetrics): number {
  return metrics.series.filter(p => p.p50_ms !== null).length;
}

/** Milliseconds as read in the summary: `3.2 ms`, `120 ms`, `1.4 s`; '—' when missing. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '—';
  }
  if (ms >= 1000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  return ms >= 100 ? `${Math.round(ms)} ms` : `${Number(ms.toPrecision(2))} ms`;
}

/** A share as a percentage: `99.5%`, `100%`; '—' when missing. */
export function formatShare(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) {
    return '—';
  }
  const pct = share * 100;
  return `${pct === 100 || pct === 0 ? pct : Number(pct.toFixed(1))}%`;
}

/** One figure above the charts. */
export interface IFigure {
  key: string;
  label: string;
  value: string;
  title: string;
  /** Worth a warning colour: errors, rejections, a breached SLA. */
  bad: boolean;
}

/** The figures above the charts: requests, errors, rejections, percentiles and SLA compliance. */
export function summaryFigures(m: DeploymentMetrics, minutes: number): IFigure[] {
  const window = `in the last ${minutes} min`;
  return [
    { key: 'requests', label: 'Requests', value: String(m.requests), title: `Requests scored or refused as invalid ${window} (rate-limited ones not counted)`, bad: false },
    {
      key: 'errors',
      label: 'Errors',
      value: m.errors === 0 ? '0' : `${m.errors} (${formatShare(m.error_rate)})`,
      title: `Answers with a server or model error (5xx) ${window}`,
      bad: m.errors > 0
    },
    {
      key: 'rejected',
      label: 'Rejected',
      value: String(m.rejected),
      title: `Refused by the rate limit (429) ${window}`,
      bad: m.rejected > 0
    },
    { key: 'p50', label: 'p50', value: formatMs(m.p50_ms), title: 'Median latency', bad: false },
    {
      key: 'p95',
      label: 'p95',
      value: formatMs(m.p95_ms),
      title: `95th percentile latency; the SLA is ${formatMs(m.sla_ms)}`,
      bad: m.p95_ms !== null && m.p95_ms > m.sla_ms
    },
    { key: 'p99', label: 'p99', value: formatMs(m.p99_ms), title: '99th percentile latency', bad: false },
    {
      key: 'sla',
      label: `Within ${formatMs(m.sla_ms)}`,
      value: formatShare(m.sla_compliance),
      title: 'Share of answered requests within the SLA',
      bad: m.sla_compliance !== null && m.sla_compliance < 0.95
    }
  ];
}
