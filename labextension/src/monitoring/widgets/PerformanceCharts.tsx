import React, { useMemo } from 'react';

import type { MonitorOut, MonitorWindow } from '../../common/api';
import { formatMetric } from '../../common/runFormat';
import {
  availableMetrics,
  baselineMetrics,
  chartGeometry,
  HIGHER_IS_BETTER,
  IPerfPoint,
  METRIC_LABELS,
  PerfMetric,
  performanceSeries
} from '../performance';

/** Performance over the windows shown in the heatmap: one small chart per metric with its baseline and tolerance. */
export function PerformanceCharts({
  monitor,
  windows
}: {
  monitor: MonitorOut;
  windows: MonitorWindow[] | null;
}): JSX.Element {
  const base = useMemo(() => baselineMetrics(monitor), [monitor]);
  const metrics = useMemo(() => (windows ? availableMetrics(windows, base) : []), [windows, base]);
  const source = (monitor.baseline as { source?: unknown }).source;
  return (
    <section className="jp-mlp-monitor-performance" data-testid="perf-charts">
      <div className="jp-mlp-diff-header">
        <h4 className="jp-mlp-heading">Performance over time</h4>
        <span className="jp-mlp-hint">
          from labelled predictions; dashed: the validated baseline
          {typeof source === 'string' ? ` (${source})` : ''}; shaded: the tolerance; gaps: too few labels; a
          point is degraded only when its whole 95% interval lies beyond the tolerance
        </span>
      </div>
      {windows && metrics.length === 0 && (
        <p className="jp-mlp-hint" data-testid="perf-charts-empty">
          No performance yet: post labels for the predictions (the feedback endpoint) and each window with enough of
          them is scored.
        </p>
      )}
      <div className="jp-mlp-perf-charts">
        {windows &&
          metrics.map(metric => (
            <PerfChart
              key={metric}
              metric={metric}
              points={performanceSeries(windows, metric, {
                baseline: base[metric] ?? null,
                tolerance: typeof monitor.tolerance[metric] === 'number' ? monitor.tolerance[metric] : null
              })}
            />
          ))}
      </div>
    </section>
  );
}

function PerfChart({ metric, points }: { metric: PerfMetric; points: IPerfPoint[] }): JSX.Element {
  const g = useMemo(() => chartGeometry(metric, points), [metric, points]);
  const values = points.filter(p => p.value !== null);
  const gaps = points.filter(p => p.value === null);
  const latest = values.length ? values[values.length - 1] : null;
  const degraded = points.filter(p => p.degraded).length;
  return (
    <figure
      className="jp-mlp-perf-chart"
      data-testid={`perf-chart-${metric}`}
      data-points={values.length}
      data-gaps={gaps.length}
      data-degraded={degraded}
    >
      <figcaption>
        <strong>{METRIC_LABELS[metric]}</strong>{' '}
        <span className="jp-mlp-hint">
          {HIGHER_IS_BETTER[metric] ? 'higher is better' : 'lower is better'}
          {latest ? ` · latest ${formatMetric(latest.value)}` : ''}
          {latest?.baseline !== null && latest?.baseline !== undefined ? ` · baseline ${formatMetric(latest.baseline)}` : ''}
          {degraded ? ` · ${degraded} degraded` : ''}
        </span>
      </figcaption>
      <svg
        className="jp-mlp-perf-svg"
        viewBox={`0 0 ${g.width} ${g.height}`}
        role="img"
        aria-label={`${METRIC_LABELS[metric]} per window`}
      >
        <text className="jp-mlp-perf-axis" x={36} y={12} textAnchor="end">
          {formatMetric(g.yMax)}
        </text>
        <text className="jp-mlp-perf-axis" x={36} y={g.height - 18} textAnchor="end">
          {formatMetric(g.yMin)}
        </text>
        <line className="jp-mlp-perf-frame" x1={40} y1={8} x2={40} y2={g.height - 18} />
        <line className="jp-mlp-perf-frame" x1={40} y1={g.height - 18} x2={g.width - 8} y2={g.height - 18} />
        {g.band && <path className="jp-mlp-perf-band" d={g.band} />}
        {g.baseline && <path className="jp-mlp-perf-baseline" d={g.baseline} />}
        {g.line && <path className="jp-mlp-perf-line" d={g.line} />}
        {points.map((p, i) => {
          const y = g.ys[i];
          if (y === null) {
            return (
              <g key={p.windowId} className="jp-mlp-perf-gap">
                <title>{`Window ${p.seq}: ${p.gap ?? 'no value'}`}</title>
                <rect x={g.xs[i] - 2} y={g.height - 24} width={4} height={6} />
              </g>
            );
          }
          return (
            <circle
              key={p.windowId}
              className={p.degraded ? 'jp-mlp-perf-point jp-mod-bad' : 'jp-mlp-perf-point'}
              cx={g.xs[i]}
              cy={y}
              r={p.degraded ? 3 : 2.2}
            >
              <title>
                {`Window ${p.seq} (v${p.version}): ${formatMetric(p.value)}` +
                  (p.interval ? ` (95% interval ${formatMetric(p.interval[0])}–${formatMetric(p.interval[1])})` : '') +
                  (p.baseline !== null ? `; baseline ${formatMetric(p.baseline)} ± ${formatMetric(p.tolerance)}` : '') +
                  (p.degraded ? ' · degraded' : '') +
                  (p.evidence ? ` · ${p.evidence}` : '')}
              </title>
            </circle>
          );
        })}
        {points.length > 0 && (
          <>
            <text className="jp-mlp-perf-axis" x={g.xs[0]} y={g.height - 4} textAnchor="start">
              #{points[0].seq}
            </text>
            {points.length > 1 && (
              <text className="jp-mlp-perf-axis" x={g.xs[g.xs.length - 1]} y={g.height - 4} textAnchor="end">
                #{points[points.length - 1].seq}
              </text>
            )}
          </>
        )}
      </svg>
    </figure>
  );
}
