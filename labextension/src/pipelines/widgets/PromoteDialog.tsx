import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useEffect, useRef, useState } from 'react';

import type { ParameterOut, PreflightReport, Problem, PromoteResult, StageOut } from '../../common/api';
import {
  errorsOf,
  promoteTarget,
  proposedPipelineName,
  problemLocation,
  problemMessage,
  promoteFailure,
  promoteOutcome,
  refusalText,
  shortVersion,
  sortProblems,
  validatePipelineName
} from '../promote';
import { StageGraph } from './StageGraph';

/** What the promote dialog shows and does. */
export interface IPromoteDialogProps {
  /** The notebook's path relative to the Jupyter root. */
  path: string;
  /** The project the pipeline is stored in. */
  project: string;
  report: PreflightReport;
  /** Store the notebook as a version of pipeline `name`. */
  promote: (name: string) => Promise<PromoteResult>;
  /** Open the Pipelines panel on the stored pipeline version (offered after a promotion). */
  openInPipelines?: (result: PromoteResult) => void;
}

/**
 * The body of the "Promote to Pipeline" dialog: the preflight report (stage graph, stages,
 * parameters, problems), the pipeline name, the Promote button, and the result.
 *
 * Its own Promote button (not a dialog button) lets it stay open to show the result or the refusal.
 */
export class PromoteDialogBody extends ReactWidget {
  constructor(private readonly _props: IPromoteDialogProps) {
    super();
    this.addClass('jp-mlp-promote');
    this.node.dataset.testid = 'mlp-promote-dialog';
  }

  protected render(): JSX.Element {
    return <PromoteView {...this._props} />;
  }
}

const list = (items: readonly string[]) => (items.length > 0 ? items.join(', ') : '—');

function StagesTable({ stages }: { stages: StageOut[] }): JSX.Element {
  if (stages.length === 0) {
    return <p className="jp-mlp-hint">No stages found: tag cells to mark where each stage begins.</p>;
  }
  return (
    <table className="jp-mlp-table" data-testid="mlp-promote-stages">
      <thead>
        <tr>
          <th>Stage</th>
          <th>Cells</th>
          <th>Inputs → outputs</th>
          <th>Depends on</th>
        </tr>
      </thead>
      <tbody>
        {stages.map(stage => (
          <tr key={stage.name} data-stage={stage.name}>
            <td>{stage.name}</td>
            <td>{list(stage.cells.map(String))}</td>
            <td>
              {list(stage.inputs)} → {list(stage.outputs)}
            </td>
            <td>{list(stage.depends_on)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ParametersTable({ parameters }: { parameters: ParameterOut[] }): JSX.Element {
  if (parameters.length === 0) {
    return <p className="jp-mlp-hint">No papermill parameters: the notebook has no cell tagged "parameters".</p>;
  }
  return (
    <table className="jp-mlp-table" data-testid="mlp-promote-parameters">
      <thead>
        <tr>
          <th>Parameter</th>
          <th>Type</th>
          <th>Default</th>
        </tr>
      </thead>
      <tbody>
        {parameters.map(p => (
          <tr key={p.name} data-parameter={p.name}>
            <td>{p.name}</td>
            <td>{p.type}</td>
            <td>
              <code>{p.default}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ProblemList({ problems }: { problems: Problem[] }): JSX.Element {
  if (problems.length === 0) {
    return <p className="jp-mlp-hint">No problems found.</p>;
  }
  return (
    <ul className="jp-mlp-problems" data-testid="mlp-promote-problems">
      {sortProblems(problems).map((p, i) => (
        <li key={i} className="jp-mlp-problem" data-severity={p.severity} title={p.code}>
          <span className="jp-mlp-problem-severity">{p.severity === 'error' ? 'Error' : 'Warning'}</span>
          <span className="jp-mlp-problem-cell">{problemLocation(p)}</span>
          <span className="jp-mlp-problem-message">{problemMessage(p)}</span>
        </li>
      ))}
    </ul>
  );
}

function ResultView({
  result,
  onOpen
}: {
  result: PromoteResult;
  onOpen?: (result: PromoteResult) => void;
}): JSX.Element {
  const node = useRef<HTMLDivElement>(null);
  // The result comes last in a long dialog: bring it into view.
  useEffect(() => {
    node.current?.scrollIntoView?.({ block: 'nearest' });
  }, []);
  return (
    <div
      ref={node}
      className="jp-mlp-promote-result"
      data-testid="mlp-promote-result"
      data-created={String(result.created)}
      role="status"
    >
      <table className="jp-mlp-table jp-mlp-kv">
        <tbody>
          <tr>
            <th>Pipeline</th>
            <td>{result.pipeline}</td>
          </tr>
          <tr>
            <th>Version</th>
            <td>
              <code title={result.version}>{shortVersion(result.version)}</code>
            </td>
          </tr>
          <tr>
            <th>Status</th>
            <td>{promoteOutcome(result)}</td>
          </tr>
        </tbody>
      </table>
      {onOpen && (
        <button
          className="jp-mlp-button jp-mod-accept"
          data-testid="mlp-promote-open-pipelines"
          onClick={() => onOpen(result)}
        >
          Open in Pipelines
        </button>
      )}
    </div>
  );
}

function PromoteView({ path, project, report, promote, openInPipelines }: IPromoteDialogProps): JSX.Element {
  const [name, setName] = useState(() => proposedPipelineName(report, path));
  const [problems, setProblems] = useState<Problem[]>(report.problems);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<PromoteResult | null>(null);

  const refusal = refusalText(problems);
  const nameProblem = validatePipelineName(name);
  const blocked = errorsOf(problems).length > 0 || !report.ok;
  const canPromote = !blocked && !nameProblem && !busy && !result;

  const onPromote = async () => {
    if (!canPromote) {
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const stored = await promote(name);
      setResult(stored);
      setProblems(stored.problems);
    } catch (err) {
      const failure = promoteFailure(err);
      setError(failure.message);
      if (failure.problems) {
        setProblems(failure.problems);
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="jp-mlp-promote-body">
      <p className="jp-mlp-description">
        <code>{path}</code> in project <strong>{project}</strong>
      </p>

      <h4 className="jp-mlp-heading">Stages</h4>
      <StageGraph stages={report.stages} />
      <StagesTable stages={report.stages} />

      <h4 className="jp-mlp-heading">Parameters</h4>
      <ParametersTable parameters={report.parameters} />

      <h4 className="jp-mlp-heading">Problems</h4>
      <ProblemList problems={problems} />

      {(refusal || (!report.ok && errorsOf(problems).length === 0)) && (
        <p className="jp-mlp-error" data-testid="mlp-promote-refused" role="alert">
          {refusal ?? 'Promotion is refused: preflight did not pass.'}
        </p>
      )}

      {!result && (
        <form
          className="jp-mlp-form jp-mlp-inline"
          onSubmit={event => {
            event.preventDefault();
            void onPromote();
          }}
        >
          <label className="jp-mlp-field jp-mlp-promote-name">
            Pipeline name
            <input
              className="jp-mod-styled"
              data-testid="mlp-promote-name"
              value={name}
              disabled={blocked || busy}
              aria-invalid={nameProblem ? 'true' : 'false'}
              onChange={event => setName(event.target.value)}
            />
          </label>
          <button
            type="submit"
            className="jp-mlp-button jp-mod-accept"
            data-testid="mlp-promote-confirm"
            disabled={!canPromote}
          >
            {busy ? 'Promoting…' : 'Promote'}
          </button>
          {nameProblem && !blocked && <span className="jp-mlp-hint">{nameProblem}</span>}
          {!nameProblem && !blocked && promoteTarget(report, name) && (
            <span className="jp-mlp-hint" data-testid="mlp-promote-target">
              {promoteTarget(report, name)}
            </span>
          )}
        </form>
      )}

      {error && (
        <div className="jp-mlp-error" data-testid="mlp-promote-error" role="alert">
          {error}
        </div>
      )}
      {result && <ResultView result={result} onOpen={openInPipelines} />}
    </div>
  );
}
