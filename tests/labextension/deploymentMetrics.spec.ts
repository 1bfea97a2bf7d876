import type { DeploymentMetrics, TrafficPoint } from '../../labextension/src/common/api';
import {
  fillWindows,
  formatMs,
  formatShare,
  latencyChart,
  latencyPoints,
  summaryFigures,
  trafficChart
} from '../../labextension/src/deployments/deploymentMetrics';

const point = (start: number, requests: number, p50: number | null = 2): TrafficPoint => ({
  start,
  requests,
  errors: 0,
  rejected: 0,
  p50_ms: p50,
  p95_ms: p50 === null ? null : p50 * 2,
  p99_ms: p50 === null ? null : p50 * 3
});

const metrics = (series: TrafficPoint[], extra: Partial<DeploymentMetrics> = {}): DeploymentMetrics => ({
  window_seconds: 10,
  sla_ms: 100,
  requests: series.reduce((n, p) => n + p.requests, 0),
  errors: 0,
  rejected: 0,
  error_rate: 0,
  p50_ms: 2,
  p95_ms: 4,
  p99_ms: 6,
  sla_compliance: 1,
  series,
  ...extra
});

describe('fillWindows', () => {
  it('fills quiet windows with zero requests and no latency', () => {
    const filled = fillWindows([point(1000, 5), point(1030, 2)], 10);
    expect(filled.map(p => p.start)).toEqual([1000, 1010, 1020, 1030]);
    expect(filled.map(p => p.requests)).toEqual([5, 0, 0, 2]);
    expect(filled[1].p95_ms).toBeNull();
  });

  it('extends to the window holding now, and sorts what came out of order', () => {
    const filled = fillWindows([point(1010, 1), point(1000, 3)], 10, 1025.5);
    expect(filled.map(p => p.start)).toEqual([1000, 1010, 1020]);
    expect(filled.map(p => p.requests)).toEqual([3, 1, 0]);
  });

  it('starts at the window holding `since`, on the backend\'s grid', () => {
    const filled = fillWindows([point(1030, 4)], 10, 1041, 1005);
    expect(filled.map(p => p.start)).toEqual([1000, 1010, 1020, 1030, 1040]);
    expect(filled.map(p => p.requests)).toEqual([0, 0, 0, 4, 0]);
    // Windows older than `since` that the backend still sent are kept.
    expect(fillWindows([point(990, 1)], 10, 1000, 1005).map(p => p.start)).toEqual([990, 1000]);
  });

  it('draws nothing without traffic and caps very long gaps', () => {
    expect(fillWindows([], 10, 5000)).toEqual([]);
    expect(fillWindows([point(0, 1)], 10, 1e9)).toHaveLength(361);
  });
});

describe('charts', () => {
  it('plots p50, p95, p99 and the SLA as a dashed line', () => {
    const chart = latencyChart(metrics([point(1000, 5), point(1020, 2, 3)]));
    expect(chart.xs).toEqual([1000, 1010, 1020]);
    expect(chart.series.map(s => s.label)).toEqual(['p50 ms', 'p95 ms', 'p99 ms', 'SLA ms']);
    expect(chart.series[0].values).toEqual([2, null, 3]);
    expect(chart.series[3].values).toEqual([100, 100, 100]);
    expect(chart.series[3].dash).toEqual([6, 4]);
  });

  it('covers the whole range asked for', () => {
    const chart = latencyChart(metrics([point(1200, 5)]), 1205, 5);
    expect(chart.xs[0]).toBe(900);
    expect(chart.xs[chart.xs.length - 1]).toBe(1200);
    expect(chart.xs).toHaveLength(31);
  });

  it('plots requests, errors and rejections per window', () => {
    const chart = trafficChart(metrics([{ ...point(1000, 5), errors: 1, rejected: 2 }]), 1010);
    expect(chart.xs).toEqual([1000, 1010]);
    expect(chart.series.map(s => [s.label, s.values])).toEqual([
      ['requests', [5, 0]],
      ['errors', [1, 0]],
      ['rejected', [2, 0]]
    ]);
  });

  it('counts the windows with a latency', () => {
    expect(latencyPoints(metrics([point(1000, 5), point(1010, 0, null)]))).toBe(1);
  });
});

describe('figures', () => {
  it('formats milliseconds and shares', () => {
    expect(formatMs(3.14159)).toBe('3.1 ms');
    expect(formatMs(0.42)).toBe('0.42 ms');
    expect(formatMs(123.4)).toBe('123 ms');
    expect(formatMs(1460)).toBe('1.5 s');
    expect(formatMs(null)).toBe('—');
    expect(formatShare(1)).toBe('100%');
    expect(formatShare(0.99512)).toBe('99.5%');
    expect(formatShare(0)).toBe('0%');
    expect(formatShare(null)).toBe('—');
  });

  it('shows the totals and flags errors, rejections and a breached SLA', () => {
    const figures = summaryFigures(
      metrics([point(1000, 40)], { errors: 2, error_rate: 0.05, rejected: 1, p95_ms: 150, sla_compliance: 0.9 }),
      15
    );
    const by = Object.fromEntries(figures.map(f => [f.key, f]));
    expect(by.requests.value).toBe('40');
    expect(by.requests.title).toContain('last 15 min');
    expect(by.errors).toMatchObject({ value: '2 (5%)', bad: true });
    expect(by.rejected.bad).toBe(true);
    expect(by.p95).toMatchObject({ value: '150 ms', bad: true });
    expect(by.sla).toMatchObject({ label: 'Within 100 ms', value: '90%', bad: true });
  });

  it('is calm when all is well', () => {
    const figures = summaryFigures(metrics([point(1000, 10)]), 5);
    expect(figures.filter(f => f.bad)).toEqual([]);
    expect(figures.find(f => f.key === 'errors')?.value).toBe('0');
  });
});
