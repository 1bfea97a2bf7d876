import React, { useEffect, useMemo, useState } from 'react';

import { DeploymentMetrics, getDeploymentMetrics } from '../../common/api';
import {
  latencyChart,
  latencyPoints,
  METRIC_RANGES,
  summaryFigures,
  trafficChart
} from '../deploymentMetrics';
import { formatApiError } from '../../common/errors';
import { MetricChart } from '../../common/widgets/MetricChart';

/** A deployment's traffic: the figures of the chosen range, latency with the SLA, and requests and errors. */
export function DeploymentCharts({
  slug,
  name,
  tick
}: {
  slug: string;
  name: string;
  /** Goes up every few seconds while the panel is visible: reload. */
  tick: number;
}): JSX.Element {
  const [minutes, setMinutes] = useState<number>(15);
  // The range of the metrics on screen: the previous range's stay shown while the new ones load.
  const [shown, setShown] = useState(minutes);
  const [metrics, setMetrics] = useState<DeploymentMetrics | null>(null);
  const [loadedAt, setLoadedAt] = useState(0);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    getDeploymentMetrics(slug, name, minutes, abort.signal)
      .then(m => {
        setMetrics(m);
        setShown(minutes);
        setLoadedAt(Date.now() / 1000);
        setError(null);
      })
      .catch(err => !abort.signal.aborted && setError(formatApiError(err)));
    return () => abort.abort();
  }, [slug, name, minutes, tick]);

  const latency = useMemo(
    () => (metrics ? latencyChart(metrics, loadedAt, shown) : null),
    [metrics, loadedAt, shown]
  );
  const traffic = useMemo(
    () => (metrics ? trafficChart(metrics, loadedAt, shown) : null),
    [metrics, loadedAt, shown]
  );

  return (
    <section className="jp-mlp-deployment-metrics" data-testid="mlp-deployment-metrics">
      <div className="jp-mlp-diff-header">
        <h4 className="jp-mlp-heading">Traffic and latency</h4>
        <select
          className="jp-mlp-select"
          aria-label="Time range"
          value={minutes}
          onChange={e => setMinutes(Number(e.target.value))}
        >
          {METRIC_RANGES.map(m => (
            <option key={m} value={m}>
              last {m} min
            </option>
          ))}
        </select>
        <span className="jp-mlp-hint">10-second windows, refreshed every few seconds</span>
      </div>
      {error && !metrics && (
        <div className="jp-mlp-error" role="alert">
          {error}
        </div>
      )}
      {error && metrics && (
        <p className="jp-mlp-hint" role="status">
          Could not refresh just now ({error}); trying again in a few seconds.
        </p>
      )}
      {!metrics && !error && <div className="jp-mlp-loading">Loading…</div>}
      {metrics && (
        <>
          <div className="jp-mlp-figures">
            {summaryFigures(metrics, shown).map(f => (
              <div
                key={f.key}
                className={`jp-mlp-figure${f.bad ? ' jp-mod-bad' : ''}`}
                title={f.title}
                data-testid={`mlp-metric-${f.key}`}
                data-value={f.key === 'requests' ? metrics.requests : undefined}
              >
                <span className="jp-mlp-figure-value">{f.value}</span>
                <span className="jp-mlp-figure-label">{f.label}</span>
              </div>
            ))}
          </div>
          <div className="jp-mlp-deployment-charts">
            <div
              className="jp-mlp-deployment-chart"
              data-testid="mlp-latency-chart"
              data-points={latencyPoints(metrics)}
            >
              {latency && latency.xs.length > 0 ? (
                <MetricChart title="Latency (ms)" xs={latency.xs} series={latency.series} time />
              ) : (
                <p className="jp-mlp-hint jp-mlp-chart-empty">
                  No requests in the last {shown} min: latency appears with the first call.
                </p>
              )}
            </div>
            <div className="jp-mlp-deployment-chart" data-testid="mlp-traffic-chart">
              {traffic && traffic.xs.length > 0 ? (
                <MetricChart title="Requests per 10 s" xs={traffic.xs} series={traffic.series} time />
              ) : (
                <p className="jp-mlp-hint jp-mlp-chart-empty">No traffic in the last {shown} min.</p>
              )}
            </div>
          </div>
        </>
      )}
    </section>
  );
}
