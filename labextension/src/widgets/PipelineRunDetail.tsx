import React, { useMemo, useState } from 'react';

import type { PipelineRun, StageOut } from '../api';
import { formatApiError } from '../errors';
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
import { formatTimestamp } from '../runFormat';
import type { IPipelinesActions } from './PipelinesPanel';
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
