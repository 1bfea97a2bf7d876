import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';

import {
  cancelPipelineRun,
  getPipeline,
  getPipelineRun,
  listPipelineRuns,
  PipelineDetail,
  PipelineRun,
  replayPipelineRun,
  startPipelineRun
} from '../../common/api';
import { formatApiError } from '../../common/errors';
import { chipClass, mergeRuns, nextPollDelay, runsToPoll, statusLabel } from '../pipelineRuns';
import { newestFirst, shortVersion } from '../promote';
import { formatTimestamp } from '../../common/runFormat';
import { editField, formWithValues, initialForm, RunFormState, runBody, runFailure } from '../runForm';
import type { IPipelinesActions } from '../actions';
import { PipelineRunDetail } from './PipelineRunDetail';
import { PipelineSchedules } from './PipelineSchedules';
import { RunForm } from './RunForm';
import { StageGraph } from './StageGraph';
import { ErrorBanner } from '../../common/panel';

/** Runs of a pipeline shown at once, newest first. */
const RUNS_SHOWN = 50;

export interface IPipelineViewProps {
  slug: string;
  name: string;
  /** The version to select first (a full hash); null for the latest. */
  initialVersion: string | null;
  /** A run to open first (our run id), fetched when it is not among the newest listed; null for none. */
  initialRun?: string | null;
  /** Whether the panel is on screen; polling stops while it is not. */
  visible: boolean;
  actions: IPipelinesActions;
  onClose: () => void;
}

/** One pipeline: its versions, the selected version's stage graph and Run form, and its runs. */
export function PipelineView({
  slug,
  name,
  initialVersion,
  initialRun = null,
  visible,
  actions,
  onClose
}: IPipelineViewProps): JSX.Element {
  const [detail, setDetail] = useState<PipelineDetail | null>(null);
  const [versionId, setVersionId] = useState<string | null>(initialVersion);
  const [form, setForm] = useState<RunFormState>([]);
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [runError, setRunError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const [runs, setRuns] = useState<PipelineRun[]>([]);
  const [runsTotal, setRunsTotal] = useState(0);
  const [activeRun, setActiveRun] = useState<string | null>(initialRun);
  const [error, setError] = useState<string | null>(null);
  const rerunValues = useRef<Record<string, unknown> | null>(null);

  useEffect(() => {
    let live = true;
    Promise.all([getPipeline(slug, name), listPipelineRuns(slug, name, RUNS_SHOWN)])
      .then(async ([pipeline, page]) => {
        // A run asked for (a citation) that is older than the newest listed is fetched and listed after them
        const older =
          initialRun && !page.items.some(r => r.run_id === initialRun) ? [await getPipelineRun(slug, initialRun)] : [];
        if (!live) {
          return;
        }
        setDetail(pipeline);
        setRuns([...page.items, ...older]);
        setRunsTotal(page.total);
      })
      .catch(err => live && setError(formatApiError(err)));
    return () => {
      live = false;
    };
  }, [slug, name, initialRun]);

  // Newest first, whatever order they arrive in: the first is the latest and the one selected by default.
  const versions = useMemo(() => newestFirst(detail?.versions ?? []), [detail]);
  const version = useMemo(
    () => versions.find(v => v.version === versionId) ?? versions[0] ?? null,
    [versions, versionId]
  );

  // A new version gets a fresh form, or the values of the run being re-run.
  useEffect(() => {
    const base = initialForm(version?.parameters ?? []);
    setForm(rerunValues.current ? formWithValues(base, rerunValues.current) : base);
    rerunValues.current = null;
    setServerErrors({});
    setRunError(null);
  }, [version]);

  // While a shown run is unfinished (and the panel visible), ask for its state every 1.5 s.
  useEffect(() => {
    const delay = nextPollDelay(runs, visible);
    if (delay === null) {
      return;
    }
    const ids = runsToPoll(runs, visible);
    const abort = new AbortController();
    const timer = window.setTimeout(async () => {
      const fresh = await Promise.all(
        ids.map(id => getPipelineRun(slug, id, abort.signal).catch(() => null))
      );
      if (!abort.signal.aborted) {
        const found = fresh.filter((r): r is PipelineRun => r !== null);
        // Keep the loop going even if every request failed: a new array re-runs this effect.
        setRuns(current => (found.length > 0 ? mergeRuns(current, found) : [...current]));
      }
    }, delay);
    return () => {
      window.clearTimeout(timer);
      abort.abort();
    };
  }, [runs, visible, slug]);

  const body = useMemo(() => runBody(form), [form]);

  const onEdit = useCallback((param: string, input: string | boolean) => {
    setForm(current => editField(current, param, input));
    setServerErrors(current => {
      if (!(param in current)) {
        return current;
      }
      const next = { ...current };
      delete next[param];
      return next;
    });
  }, []);

  const submit = async () => {
    if (!version || Object.keys(body.errors).length > 0) {
      return;
    }
    setSubmitting(true);
    setRunError(null);
    setServerErrors({});
    try {
      const run = await startPipelineRun(slug, name, {
        version: version.version,
        parameters: body.parameters
      });
      setRuns(current => [run, ...current.filter(r => r.run_id !== run.run_id)]);
      setRunsTotal(t => t + 1);
      setActiveRun(run.run_id);
    } catch (err) {
      const failure = runFailure(err, formatApiError);
      setServerErrors(failure.fields);
      setRunError(failure.general);
    } finally {
      setSubmitting(false);
    }
  };

  const rerun = (run: PipelineRun) => {
    if (version && run.version === version.version) {
      setForm(formWithValues(initialForm(version.parameters), run.parameters));
      setServerErrors({});
    } else {
      rerunValues.current = run.parameters;
      setVersionId(run.version);
    }
  };

  const cancel = async (run: PipelineRun) => {
    try {
      const updated = await cancelPipelineRun(slug, run.run_id);
      setRuns(current => mergeRuns(current, [updated]));
    } catch (err) {
      setError(formatApiError(err));
    }
  };

  const replay = async (run: PipelineRun) => {
    try {
      const started = await replayPipelineRun(slug, run.run_id);
      setRuns(current => [started, ...current.filter(r => r.run_id !== started.run_id)]);
      setRunsTotal(t => t + 1);
      setActiveRun(started.run_id);
    } catch (err) {
      setError(formatApiError(err));
    }
  };

  const shown = runs.find(r => r.run_id === activeRun) ?? null;
  const shownStages = versions.find(v => v.version === shown?.version)?.stages ?? [];

  return (
    <section className="jp-mlp-pipeline" data-testid="mlp-pipeline" data-pipeline={name}>
      <header className="jp-mlp-header">
        <h3 className="jp-mlp-title">{name}</h3>
        <button className="jp-mlp-button jp-mlp-button-small" aria-label="Close pipeline" onClick={onClose}>
          ×
        </button>
      </header>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {!detail && !error && <div className="jp-mlp-loading">Loading…</div>}
      {detail && (
        <div className="jp-mlp-pipeline-main">
          <div className="jp-mlp-pipeline-column">
            <p className="jp-mlp-description">
              From <code>{detail.source_path}</code>
            </p>
            <h4 className="jp-mlp-heading">Versions</h4>
            <ul className="jp-mlp-versions" data-testid="mlp-pipeline-versions">
              {versions.map((v, i) => (
                <li key={v.version}>
                  <label className="jp-mlp-check" title={v.version}>
                    <input
                      type="radio"
                      name={`mlp-version-${name}`}
                      data-version={v.version}
                      checked={v.version === version?.version}
                      onChange={() => setVersionId(v.version)}
                    />
                    <code>{shortVersion(v.version)}</code>
                    <span className="jp-mlp-hint">
                      {i === 0 ? 'latest · ' : ''}
                      {formatTimestamp(Date.parse(v.created_at))} by {v.created_by}
                    </span>
                  </label>
                </li>
              ))}
            </ul>
            {version && (
              <>
                <h4 className="jp-mlp-heading">Stages of {shortVersion(version.version)}</h4>
                <StageGraph stages={version.stages} />
                <h4 className="jp-mlp-heading">Run</h4>
                <RunForm
                  form={form}
                  errors={{ ...body.errors, ...serverErrors }}
                  changed={Object.keys(body.parameters)}
                  busy={submitting}
                  generalError={runError}
                  onEdit={onEdit}
                  onReset={() => {
                    setForm(initialForm(version.parameters));
                    setServerErrors({});
                  }}
                  onSubmit={() => void submit()}
                />
                <PipelineSchedules
                  slug={slug}
                  name={name}
                  version={version.version}
                  body={body}
                  onParameterErrors={setServerErrors}
                />
              </>
            )}
          </div>
          <div className="jp-mlp-pipeline-column">
            <h4 className="jp-mlp-heading">
              Runs {runsTotal > runs.length ? `(newest ${runs.length} of ${runsTotal})` : `(${runs.length})`}
            </h4>
            <RunsList runs={runs} active={activeRun} onOpen={setActiveRun} />
            {shown && (
              <PipelineRunDetail
                key={shown.run_id}
                slug={slug}
                run={shown}
                stages={shownStages}
                actions={actions}
                onClose={() => setActiveRun(null)}
                onCancel={() => cancel(shown)}
                onRerun={() => rerun(shown)}
                onReplay={() => replay(shown)}
              />
            )}
          </div>
        </div>
      )}
    </section>
  );
}

function RunsList({
  runs,
  active,
  onOpen
}: {
  runs: PipelineRun[];
  active: string | null;
  onOpen: (runId: string) => void;
}): JSX.Element {
  if (runs.length === 0) {
    return <p className="jp-mlp-hint">No runs yet. Fill in the Run form and press Run.</p>;
  }
  return (
    <ul className="jp-mlp-pipeline-runs" data-testid="mlp-pipeline-runs">
      {runs.map(run => (
        <li
          key={run.run_id}
          data-run-id={run.run_id}
          data-status={run.status}
          className={run.run_id === active ? 'jp-mod-selected' : undefined}
          tabIndex={0}
          onClick={() => onOpen(run.run_id)}
          onKeyDown={e => e.key === 'Enter' && onOpen(run.run_id)}
        >
          <span className={chipClass(run.status)} data-testid="mlp-run-status">
            {statusLabel(run.status)}
          </span>
          <span className="jp-mlp-run-when">
            {formatTimestamp(Date.parse(run.created_at))} · <code>{shortVersion(run.version)}</code>
          </span>
          <span className="jp-mlp-stage-chips">
            {run.stages.map(stage => (
              <span
                key={stage.name}
                className={chipClass(stage.status)}
                data-stage={stage.name}
                data-status={stage.status}
                title={`${stage.name}: ${statusLabel(stage.status)}`}
              >
                {stage.name}
              </span>
            ))}
          </span>
        </li>
      ))}
    </ul>
  );
}
