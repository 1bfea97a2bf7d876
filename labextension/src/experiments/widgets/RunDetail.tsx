import React, { useEffect, useMemo, useRef, useState } from 'react';

import { getMetricHistory, getRun, MetricHistory, RunDetail as RunDetailData } from '../../common/api';
import { formatApiError } from '../../common/errors';
import { alignHistories, seriesColour } from '../runCompare';
import { formatDuration, formatMetric, formatTimestamp } from '../../common/runFormat';
import { ArtifactsBrowser } from './ArtifactsBrowser';
import { LineageSection } from './LineageSection';
import { MetricChart } from '../../common/widgets/MetricChart';

/** Metric histories fetched at most, so a run with hundreds of metrics stays quick to open. */
const MAX_CHARTS = 20;

export interface IRunDetailProps {
  slug: string;
  runId: string;
  onClose: () => void;
  /** Open the notebook that produced the run; rejects with the reason it could not. */
  onOpenNotebook: (run: RunDetailData) => Promise<void>;
  /** Save the notebook copy logged with the run and open it. */
  onOpenLoggedCopy: (run: RunDetailData) => Promise<void>;
  /** Changes when the project's runs change (the live feed): the run is read again, its status included. */
  refreshToken?: number;
}

function HistoryChart({ history }: { history: MetricHistory }): JSX.Element {
  // Built once per history: a new array would redraw the chart on every render.
  const { xs, series } = useMemo(() => {
    const [steps, values] = alignHistories({ run: history.points }, ['run']);
    return { xs: steps, series: [{ label: history.key, values, colour: seriesColour(0) }] };
  }, [history]);
  return <MetricChart title={history.key} xs={xs} series={series} />;
}

/** One run: params, metrics with their history, artifacts and lineage. */
export function RunDetail({
  slug,
  runId,
  onClose,
  onOpenNotebook,
  onOpenLoggedCopy,
  refreshToken = 0
}: IRunDetailProps): JSX.Element {
  const [run, setRun] = useState<RunDetailData | null>(null);
  const [histories, setHistories] = useState<MetricHistory[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [openProblem, setOpenProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const shown = useRef('');

  useEffect(() => {
    let live = true;
    // Another run starts empty; the same run read again (a live update) keeps what it shows until the answer.
    if (shown.current !== `${slug}/${runId}`) {
      shown.current = `${slug}/${runId}`;
      setRun(null);
      setHistories([]);
      setError(null);
      setOpenProblem(null);
    }
    getRun(slug, runId)
      .then(async detail => {
        if (!live) {
          return;
        }
        setRun(detail);
        const keys = Object.keys(detail.metrics ?? {})
          .sort()
          .slice(0, MAX_CHARTS);
        const fetched = await Promise.all(
          keys.map(key => getMetricHistory(slug, runId, key).catch(() => null))
        );
        if (live) {
          setHistories(fetched.filter((h): h is MetricHistory => h !== null));
        }
      })
      .catch(err => live && setError(formatApiError(err)));
    return () => {
      live = false;
    };
  }, [slug, runId, refreshToken]);

  const openNotebook = async () => {
    if (!run) {
      return;
    }
    setBusy(true);
    setOpenProblem(null);
    try {
      await onOpenNotebook(run);
    } catch (err) {
      setOpenProblem(formatApiError(err));
    } finally {
      setBusy(false);
    }
  };

  const openCopy = async () => {
    if (!run) {
      return;
    }
    setBusy(true);
    try {
      await onOpenLoggedCopy(run);
      setOpenProblem(null);
    } catch (err) {
      setOpenProblem(`The logged copy could not be opened either: ${formatApiError(err)}`);
    } finally {
      setBusy(false);
    }
  };

  const params = Object.entries(run?.params ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const metrics = Object.entries(run?.metrics ?? {}).sort(([a], [b]) => a.localeCompare(b));

  return (
    <section className="jp-mlp-side" data-testid="mlp-run-detail" data-run-id={runId}>
      <header className="jp-mlp-header">
        <h3 className="jp-mlp-title">{run ? run.run_name || run.run_id : 'Run'}</h3>
        <button
          className="jp-mlp-button jp-mlp-button-small"
          aria-label="Close run"
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
      {!run && !error && <div className="jp-mlp-loading">Loading…</div>}
      {run && (
        <>
          <div className="jp-mlp-run-meta">
            <span className={`jp-mlp-status jp-mlp-status-${run.status}`}>{run.status}</span> by{' '}
            {run.user}, started {formatTimestamp(run.start_time)}, took{' '}
            {formatDuration(run.start_time, run.end_time)}.
            <div className="jp-mlp-hint">
              Run id <code>{run.run_id}</code>
            </div>
          </div>
          <div className="jp-mlp-actions">
            <button
              className="jp-mlp-button"
              data-testid="mlp-open-notebook"
              disabled={busy || !run.lineage?.notebook_path}
              title={run.lineage?.notebook_path ?? 'This run recorded no notebook'}
              onClick={() => void openNotebook()}
            >
              Open notebook
            </button>
            {openProblem && (
              <button
                className="jp-mlp-button"
                data-testid="mlp-open-logged-copy"
                disabled={busy}
                onClick={() => void openCopy()}
              >
                Open logged copy
              </button>
            )}
          </div>
          {openProblem && (
            <div className="jp-mlp-error" role="alert">
              {openProblem}
            </div>
          )}

          <h4 className="jp-mlp-heading">Params</h4>
          {params.length === 0 ? (
            <p className="jp-mlp-hint">No params.</p>
          ) : (
            <table className="jp-mlp-table jp-mlp-kv" data-testid="mlp-run-params">
              <tbody>
                {params.map(([key, value]) => (
                  <tr key={key}>
                    <th>{key}</th>
                    <td>{value}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}

          <h4 className="jp-mlp-heading">Metrics</h4>
          {metrics.length === 0 ? (
            <p className="jp-mlp-hint">No metrics.</p>
          ) : (
            <table className="jp-mlp-table jp-mlp-kv" data-testid="mlp-run-metrics">
              <tbody>
                {metrics.map(([key, value]) => (
                  <tr key={key}>
                    <th>{key}</th>
                    <td>{formatMetric(value)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <div className="jp-mlp-charts">
            {histories.map(h => (
              <HistoryChart key={h.key} history={h} />
            ))}
          </div>

          <h4 className="jp-mlp-heading">Artifacts</h4>
          <ArtifactsBrowser slug={slug} runId={run.run_id} />

          <h4 className="jp-mlp-heading">Lineage</h4>
          <LineageSection lineage={run.lineage} />
        </>
      )}
    </section>
  );
}
