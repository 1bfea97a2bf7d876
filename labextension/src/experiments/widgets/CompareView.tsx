import React, { useEffect, useMemo, useRef, useState } from 'react';

import { compareRuns, RunComparison } from '../../common/api';
import { formatApiError } from '../../common/errors';
import {
  alignHistories,
  differingParams,
  metricRows,
  paramRows,
  runLabel,
  seriesColour
} from '../runCompare';
import { formatMetric } from '../../common/runFormat';
import { DEFAULT_COLUMNS_PER_KIND } from '../runsQuery';
import { MetricChart } from '../../common/widgets/MetricChart';

export interface ICompareViewProps {
  slug: string;
  runIds: string[];
  /** Metrics charted first (the table's chosen metric columns). */
  preferredMetrics: string[];
  onClose: () => void;
  onOpenRun: (runId: string) => void;
}

function OverlaidChart({
  comparison,
  metric
}: {
  comparison: RunComparison;
  metric: string;
}): JSX.Element {
  const { xs, series } = useMemo(() => {
    const ids = comparison.runs.map(r => r.run_id);
    const [steps, ...values] = alignHistories(comparison.histories?.[metric] ?? {}, ids);
    return {
      xs: steps,
      series: comparison.runs.map((run, i) => ({
        label: runLabel(run),
        values: values[i],
        colour: seriesColour(i)
      }))
    };
  }, [comparison, metric]);
  return <MetricChart title={metric} xs={xs} series={series} height={220} />;
}

/** Several runs side by side: params (differences highlighted), metrics, overlaid metric charts. */
export function CompareView({
  slug,
  runIds,
  preferredMetrics,
  onClose,
  onOpenRun
}: ICompareViewProps): JSX.Element {
  const [charted, setCharted] = useState<string[] | null>(null);
  const [comparison, setComparison] = useState<RunComparison | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [onlyDiffering, setOnlyDiffering] = useState(false);
  const idsKey = runIds.join(',');

  const fetchedKey = useRef('');
  const request = useRef(0);
  const chartedKey = charted?.join(',') ?? null;
  const preferredKey = preferredMetrics.join(',');

  // A new selection starts again from the preferred metrics.
  useEffect(() => {
    setCharted(null);
  }, [idsKey]);

  useEffect(() => {
    const requested = chartedKey ?? preferredKey;
    const key = `${slug}|${idsKey}|${requested}`;
    if (key === fetchedKey.current) {
      return;
    }
    fetchedKey.current = key;
    const mine = ++request.current;
    setError(null);
    compareRuns(slug, idsKey.split(','), requested ? requested.split(',') : [])
      .then(result => {
        if (mine !== request.current) {
          return;
        }
        setComparison(result);
        if (chartedKey === null) {
          // Chart the preferred metrics these runs have, else the first few they have.
          const have = new Set(result.metric_keys);
          const preferred = preferredKey ? preferredKey.split(',').filter(k => have.has(k)) : [];
          setCharted(
            preferred.length > 0 ? preferred : result.metric_keys.slice(0, DEFAULT_COLUMNS_PER_KIND)
          );
        }
      })
      .catch(err => mine === request.current && setError(formatApiError(err)));
  }, [slug, idsKey, chartedKey, preferredKey]);

  const runs = comparison?.runs ?? [];
  const differing = useMemo(
    () => new Set(comparison?.differing_params ?? differingParams(runs)),
    [comparison]
  );
  const params = paramRows(runs, comparison?.param_keys).map(row => ({
    ...row,
    differs: differing.has(row.key)
  }));
  const shownParams = onlyDiffering ? params.filter(row => row.differs) : params;
  const metrics = metricRows(runs, comparison?.metric_keys);

  const toggleMetric = (key: string) => {
    const current = charted ?? [];
    setCharted(current.includes(key) ? current.filter(k => k !== key) : [...current, key]);
  };

  return (
    <section className="jp-mlp-side jp-mlp-compare" data-testid="mlp-compare">
      <header className="jp-mlp-header">
        <h3 className="jp-mlp-title">Compare {runIds.length} runs</h3>
        <button
          className="jp-mlp-button jp-mlp-button-small"
          aria-label="Close compare"
          onClick={onClose}
        >
          ×
        </button>
      </header>
      {error && (
        <div className="jp-mlp-error" role="alert">
          {error}
        </div>
      )}
      {!comparison && !error && <div className="jp-mlp-loading">Loading…</div>}
      {comparison && (
        <>
          <h4 className="jp-mlp-heading">Params</h4>
          <label className="jp-mlp-check">
            <input
              type="checkbox"
              checked={onlyDiffering}
              onChange={() => setOnlyDiffering(!onlyDiffering)}
            />
            <span>Only params that differ ({differing.size})</span>
          </label>
          <div className="jp-mlp-wide">
            <table className="jp-mlp-table jp-mlp-compare-table" data-testid="mlp-compare-params">
              <thead>
                <tr>
                  <th>Param</th>
                  {runs.map(run => (
                    <th key={run.run_id}>
                      <button
                        className="jp-mlp-link"
                        title={run.run_id}
                        onClick={() => onOpenRun(run.run_id)}
                      >
                        {runLabel(run)}
                      </button>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {shownParams.map(row => (
                  <tr
                    key={row.key}
                    data-param={row.key}
                    data-differs={row.differs ? 'true' : 'false'}
                    className={row.differs ? 'jp-mlp-diff' : undefined}
                  >
                    <th>{row.key}</th>
                    {row.values.map((value, i) => (
                      <td key={i}>{value ?? '—'}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>

          <h4 className="jp-mlp-heading">Metrics</h4>
          <div className="jp-mlp-wide">
            <table className="jp-mlp-table jp-mlp-compare-table" data-testid="mlp-compare-metrics">
              <thead>
                <tr>
                  <th>Metric</th>
                  {runs.map(run => (
                    <th key={run.run_id}>{runLabel(run)}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {metrics.map(row => (
                  <tr key={row.key} data-metric={row.key}>
                    <th>
                      <label className="jp-mlp-check" title="Chart this metric">
                        <input
                          type="checkbox"
                          checked={(charted ?? []).includes(row.key)}
                          onChange={() => toggleMetric(row.key)}
                        />
                        <span>{row.key}</span>
                      </label>
                    </th>
                    {row.values.map((value, i) => (
                      <td key={i}>{formatMetric(value)}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>

          <div className="jp-mlp-charts">
            {(charted ?? [])
              .filter(metric => comparison.histories?.[metric])
              .map(metric => (
                <OverlaidChart key={metric} comparison={comparison} metric={metric} />
              ))}
          </div>
        </>
      )}
    </section>
  );
}
