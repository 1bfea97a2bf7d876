import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';

import { getStageLog, PipelineRun, StageOut } from '../../common/api';
import { formatApiError } from '../../common/errors';
import { runExecutorLine } from '../executor';
import {
  canCancel,
  chipClass,
  isTerminal,
  stageError,
  stageErrorHeadline,
  stageStatuses,
  statusLabel
} from '../pipelineRuns';
import { shortVersion } from '../promote';
import { inlineJson } from '../runForm';
import { formatTimestamp } from '../../common/runFormat';
import {
  cleanLog,
  EMPTY_LOG_TEXT,
  IFetchedLog,
  isEmptyLog,
  logButtonAction,
  logButtonLabel,
  needsFetch
} from '../stageLog';
import type { IPipelinesActions } from '../actions';
import { StageGraph } from './StageGraph';

export interface IPipelineRunDetailProps {
  slug: string;
  run: PipelineRun;
  /** The stages of the run's version (for the graph); empty when unknown. */
  stages: StageOut[];
  actions: IPipelinesActions;
  onClose: () => void;
  onCancel: () => Promise<void>;
  onRerun: () => void;
  /** Start a new run with this run's version, parameters and dataset snapshots. */
  onReplay: () => Promise<void>;
}

/** One pipeline run: parameters, stages coloured by status, failures, and what can be done with it. */
export function PipelineRunDetail({
  slug,
  run,
  stages,
  actions,
  onClose,
  onCancel,
  onRerun,
  onReplay
}: IPipelineRunDetailProps): JSX.Element {
  const [busy, setBusy] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  // Stage name → whether its log is shown, and how often the user asked for it again.
  const [logOpen, setLogOpen] = useState<Record<string, boolean>>({});
  const [logRefresh, setLogRefresh] = useState<Record<string, number>>({});
  const statuses = useMemo(() => stageStatuses(run.stages), [run.stages]);
  const params = Object.entries(run.parameters).sort(([a], [b]) => a.localeCompare(b));

  const act = async (what: string, action: () => Promise<void>) => {
    setBusy(what);
    setProblem(null);
    try {
      await action();
    } catch (err) {
      setProblem(formatApiError(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section
      className="jp-mlp-pipeline-run"
      data-testid="mlp-pipeline-run"
      data-run-id={run.run_id}
      data-status={run.status}
    >
      <header className="jp-mlp-header">
        <h4 className="jp-mlp-heading">
          Run <code>{run.run_id.slice(0, 12)}</code>{' '}
          <span className={chipClass(run.status)} data-testid="mlp-pipeline-run-status">
            {statusLabel(run.status)}
          </span>
        </h4>
        <button className="jp-mlp-button jp-mlp-button-small" aria-label="Close run" onClick={onClose}>
          ×
        </button>
      </header>
      <p className="jp-mlp-description">
        Version <code title={run.version}>{shortVersion(run.version)}</code>, started by {run.created_by}{' '}
        {formatTimestamp(Date.parse(run.created_at))}.
      </p>
      <p
        className="jp-mlp-description"
        data-testid="mlp-run-executor"
        data-executor={run.executor ?? ''}
        title="Where this run's stages ran"
      >
        {runExecutorLine(run)}
      </p>
      <div className="jp-mlp-actions">
        {canCancel(run) && (
          <button
            className="jp-mlp-button"
            data-testid="mlp-cancel-run"
            disabled={busy !== null}
            onClick={() => void act('cancel', onCancel)}
          >
            {busy === 'cancel' ? 'Cancelling…' : 'Cancel'}
          </button>
        )}
        <button
          className="jp-mlp-button"
          data-testid="mlp-rerun"
          title="Fill the Run form with this run's parameters"
          onClick={onRerun}
        >
          Re-run
        </button>
        <button
          className="jp-mlp-button"
          data-testid="mlp-replay"
          title="Run again exactly: same version, parameters and dataset snapshots"
          onClick={() => void onReplay()}
        >
          Replay exactly
        </button>
        {run.mlflow_run_id && (
          <button
            className="jp-mlp-button"
            data-testid="mlp-open-mlflow-run"
            title={`MLflow run ${run.mlflow_run_id}`}
            onClick={() => actions.openMlflowRun(run.mlflow_run_id!)}
          >
            MLflow run {run.mlflow_run_id.slice(0, 8)}
          </button>
        )}
      </div>
      {problem && (
        <div className="jp-mlp-error" role="alert">
          {problem}
        </div>
      )}

      <h4 className="jp-mlp-heading">Parameters</h4>
      {params.length === 0 ? (
        <p className="jp-mlp-hint">All defaults.</p>
      ) : (
        <table className="jp-mlp-table jp-mlp-kv" data-testid="mlp-pipeline-run-params">
          <tbody>
            {params.map(([key, value]) => (
              <tr key={key} data-param={key}>
                <th>{key}</th>
                <td>
                  <code>{inlineJson(value)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h4 className="jp-mlp-heading">Stages</h4>
      {stages.length > 0 && <StageGraph stages={stages} statuses={statuses} />}
      <ul className="jp-mlp-run-stages">
        {run.stages.map(stage => {
          const failure = stageError(stage.error);
          const finished = isTerminal(stage.status) && stage.status !== 'CANCELED';
          return (
            <li key={stage.name} data-run-stage={stage.name} data-status={stage.status}>
              <div className="jp-mlp-run-stage-row">
                <span className={chipClass(stage.status)} data-stage={stage.name} data-status={stage.status}>
                  {stage.name}: {statusLabel(stage.status)}
                </span>
                <StageLogButton
                  open={logOpen[stage.name] ?? false}
                  runActive={!isTerminal(run.status)}
                  onOpen={() => setLogOpen(current => ({ ...current, [stage.name]: true }))}
                  onHide={() => setLogOpen(current => ({ ...current, [stage.name]: false }))}
                  onRefresh={() =>
                    setLogRefresh(current => ({ ...current, [stage.name]: (current[stage.name] ?? 0) + 1 }))
                  }
                  stage={stage.name}
                />
                {finished && run.mlflow_run_id && (
                  <button
                    className="jp-mlp-button jp-mlp-button-small"
                    data-testid="mlp-open-output"
                    data-stage={stage.name}
                    disabled={busy !== null}
                    onClick={() =>
                      void act(`output:${stage.name}`, () =>
                        actions.openOutputNotebook(slug, run, stage.name)
                      )
                    }
                  >
                    {busy === `output:${stage.name}` ? 'Opening…' : 'Open output notebook'}
                  </button>
                )}
              </div>
              {stage.progress && !isTerminal(stage.status) && (
                <p className="jp-mlp-hint" data-testid="mlp-stage-progress" data-stage={stage.name}>
                  {stage.progress}
                </p>
              )}
              {logOpen[stage.name] && (
                <StageLog
                  slug={slug}
                  runId={run.run_id}
                  stage={stage.name}
                  stageStatus={stage.status}
                  runActive={!isTerminal(run.status)}
                  refreshToken={logRefresh[stage.name] ?? 0}
                  onHide={() => setLogOpen(current => ({ ...current, [stage.name]: false }))}
                />
              )}
              {failure && (
                <div className="jp-mlp-stage-failure" data-testid="mlp-stage-error" data-stage={stage.name}>
                  <div className="jp-mlp-error">{stageErrorHeadline(failure)}</div>
                  {failure.traceback && (
                    <details>
                      <summary>Traceback</summary>
                      <pre className="jp-mlp-traceback">{failure.traceback}</pre>
                    </details>
                  )}
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function StageLogButton({
  stage,
  open,
  runActive,
  onOpen,
  onHide,
  onRefresh
}: {
  stage: string;
  open: boolean;
  runActive: boolean;
  onOpen: () => void;
  onHide: () => void;
  onRefresh: () => void;
}): JSX.Element {
  const action = logButtonAction(open, runActive);
  return (
    <button
      className="jp-mlp-button jp-mlp-button-small"
      data-testid="mlp-stage-log-button"
      data-stage={stage}
      aria-expanded={open}
      title={`What ${stage} printed (image build, papermill, the stage's own output)`}
      onClick={() => (action === 'open' ? onOpen() : action === 'refresh' ? onRefresh() : onHide())}
    >
      {logButtonLabel(action)}
    </button>
  );
}

/** Logs already read, by run and stage: reopening a finished stage's log asks the server no more. */
const fetchedLogs = new Map<string, IFetchedLog>();
/** Logs kept in memory at most (each is up to a megabyte). */
const FETCHED_LOGS_KEPT = 20;

function rememberLog(key: string, log: IFetchedLog): void {
  fetchedLogs.delete(key);
  fetchedLogs.set(key, log);
  for (const oldest of fetchedLogs.keys()) {
    if (fetchedLogs.size <= FETCHED_LOGS_KEPT) {
      break;
    }
    fetchedLogs.delete(oldest);
  }
}

function StageLog({
  slug,
  runId,
  stage,
  stageStatus,
  runActive,
  refreshToken,
  onHide
}: {
  slug: string;
  runId: string;
  stage: string;
  /** The stage's status: the log is read again whenever it changes (it grows while the stage runs). */
  stageStatus: string;
  runActive: boolean;
  /** Bumped when the user asks for the log again. */
  refreshToken: number;
  onHide: () => void;
}): JSX.Element {
  const cacheKey = `${slug}/${runId}/${stage}`;
  const [log, setLog] = useState<IFetchedLog | null>(() => fetchedLogs.get(cacheKey) ?? null);
  const [loading, setLoading] = useState(() => needsFetch(fetchedLogs.get(cacheKey)));
  const [error, setError] = useState<string | null>(null);
  const activeRef = useRef(runActive);
  activeRef.current = runActive;
  const lastRefresh = useRef(refreshToken);

  const fetchLog = useCallback(
    async (signal: { live: boolean }) => {
      setLoading(true);
      const final = !activeRef.current;
      try {
        const text = cleanLog(await getStageLog(slug, runId, stage));
        if (signal.live) {
          const fetched = { text, final };
          rememberLog(cacheKey, fetched);
          setLog(fetched);
          setError(null);
        }
      } catch (err) {
        if (signal.live) {
          setError(formatApiError(err));
        }
      } finally {
        if (signal.live) {
          setLoading(false);
        }
      }
    },
    [slug, runId, stage, cacheKey]
  );

  // On opening (unless read after the run ended), when the stage's status moves, and on Refresh.
  useEffect(() => {
    const signal = { live: true };
    const explicit = refreshToken !== lastRefresh.current;
    lastRefresh.current = refreshToken;
    if (explicit || needsFetch(fetchedLogs.get(cacheKey))) {
      void fetchLog(signal);
    }
    return () => {
      signal.live = false;
    };
  }, [fetchLog, cacheKey, stageStatus, runActive, refreshToken]);

  const empty = isEmptyLog(log?.text);
  return (
    <div className="jp-mlp-stage-log-box" data-stage={stage}>
      <div className="jp-mlp-stage-log-header">
        <span className="jp-mlp-hint">
          Log of {stage}
          {loading ? ' · loading…' : runActive ? ' · the run is still going' : ''}
        </span>
        <button
          className="jp-mlp-button jp-mlp-button-small"
          aria-label={`Hide the log of ${stage}`}
          onClick={onHide}
        >
          ×
        </button>
      </div>
      {error && (
        <div className="jp-mlp-error" role="alert">
          {error}
        </div>
      )}
      {(log || !loading) && !error && (
        <pre
          className={`jp-mlp-stage-log${empty ? ' jp-mod-empty' : ''}`}
          data-testid="mlp-stage-log"
          data-stage={stage}
          tabIndex={0}
        >
          {empty ? EMPTY_LOG_TEXT : log!.text}
        </pre>
      )}
    </div>
  );
}
