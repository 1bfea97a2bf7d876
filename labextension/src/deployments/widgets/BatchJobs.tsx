import React, { useCallback, useEffect, useState } from 'react';

import {
  BatchJob,
  DatasetChoice,
  fetchBatchOutput,
  listBatchJobs,
  listDatasets,
  submitBatchJob
} from '../../common/api';
import {
  anyBatchActive,
  BATCH_PAGE_SIZE,
  BATCH_REFRESH_MS,
  batchChipClass,
  BatchField,
  batchInput,
  batchProgress,
  batchRequest,
  batchStatus,
  failureWords,
  hasDownload,
  IBatchInput,
  isBatchActive,
  outputFileName,
  outputWords,
  snapshotChoices,
  sourceWords
} from '../batchJobs';
import { formatApiError } from '../../common/errors';
import { formatTimestamp } from '../../common/runFormat';
import { Pager } from '../../common/widgets/Pager';
import { PagedError, PagedTable } from '../../common/widgets/PagedSection';
import { usePagedLoad } from '../../common/usePagedLoad';

/** Batch scoring with one deployment: a form (scientists and up) and its jobs, reloaded often while any runs. */
export function BatchJobs({
  slug,
  name,
  mayWrite,
  visible,
  tick
}: {
  slug: string;
  name: string;
  mayWrite: boolean;
  /** The panel is on screen: running jobs are followed. */
  visible: boolean;
  /** The view's slower refresh: picks up jobs submitted elsewhere. */
  tick: number;
}): JSX.Element {
  const [fastTick, setFastTick] = useState(0);
  const { page, offset, setOffset, error, reload, pager } = usePagedLoad(
    (limit, at) => listBatchJobs(slug, name, limit, at),
    { pageSize: BATCH_PAGE_SIZE, source: `${slug}/${name}`, refresh: `${tick}/${fastTick}` }
  );

  const active = visible && anyBatchActive(page?.items ?? []);
  useEffect(() => {
    if (!active) {
      return;
    }
    const timer = window.setInterval(() => setFastTick(t => t + 1), BATCH_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [active]);

  return (
    <section className="jp-mlp-deployment-batch" data-testid="mlp-batch">
      <h4 className="jp-mlp-heading">Batch scoring</h4>
      <p className="jp-mlp-hint">
        Score a whole dataset snapshot with the version this deployment serves, in chunks, in the background.
      </p>
      {mayWrite && (
        <BatchForm
          slug={slug}
          name={name}
          onSubmitted={() => {
            setOffset(0);
            reload();
          }}
        />
      )}
      <PagedError error={error} shown={page !== null} role="status" what="the jobs" />
      <PagedTable
        page={page}
        offset={offset}
        empty={`No batch jobs yet.${mayWrite ? '' : ' A scientist or lead starts them.'}`}
        emptyTestId="mlp-batch-empty"
        className="jp-mlp-batch-table"
        columns={['Status', 'Progress', 'Scores', 'Version', 'Started']}
        row={job => <BatchRow key={job.id} slug={slug} job={job} />}
      />
      <Pager {...pager} newest />
    </section>
  );
}

function BatchRow({ slug, job }: { slug: string; job: BatchJob }): JSX.Element {
  const progress = batchProgress(job);
  const status = batchStatus(job.status);
  const failure = failureWords(job);
  return (
    <tr data-testid="mlp-batch-row" data-job={job.id} data-status={job.status}>
      <td>
        <span className={batchChipClass(job.status)} data-testid="mlp-batch-status" title={status.title}>
          {isBatchActive(job.status) && <span className="jp-mlp-spinner" aria-hidden="true" />}
          {status.label}
        </span>
      </td>
      <td className="jp-mlp-batch-progress-cell">
        <div
          className="jp-mlp-batch-progress"
          data-testid="mlp-batch-progress"
          data-done={job.chunks_done}
          data-total={job.chunks_total}
          role="progressbar"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={progress.percent}
          aria-valuetext={progress.text}
        >
          <div
            className={`jp-mlp-batch-bar jp-mlp-tone-${status.tone}`}
            style={{ width: `${progress.percent}%` }}
          />
        </div>
        <span className="jp-mlp-hint">{progress.text}</span>
      </td>
      <td className="jp-mlp-batch-flow">
        <span>
          <code>{sourceWords(job.source)}</code> →{' '}
          {hasDownload(job) ? <DownloadLink slug={slug} job={job} /> : <code>{outputWords(job.output)}</code>}
        </span>
        {failure && (
          <div className="jp-mlp-batch-failure" data-testid="mlp-batch-failure">
            {failure}
          </div>
        )}
      </td>
      <td>v{job.version}</td>
      <td
        className="jp-mlp-hint"
        title={job.finished_at ? `Finished ${formatTimestamp(Date.parse(job.finished_at))}` : ''}
      >
        {formatTimestamp(Date.parse(job.created_at))} by {job.created_by}
      </td>
    </tr>
  );
}

/** Fetches the Parquet file through /mlp/api (with the session's credentials) and saves it. */
function DownloadLink({ slug, job }: { slug: string; job: BatchJob }): JSX.Element {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const download = async () => {
    setBusy(true);
    setError(null);
    try {
      const blob = await fetchBatchOutput(slug, job.id);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = outputFileName(job);
      document.body.appendChild(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      setError(formatApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        className="jp-mlp-link-button"
        data-testid="mlp-batch-download"
        title="The scored rows as a Parquet file"
        disabled={busy}
        onClick={() => void download()}
      >
        {busy ? 'Downloading…' : 'Download Parquet'}
      </button>
      {error && <span className="jp-mlp-field-error">{error}</span>}
    </>
  );
}

function BatchForm({
  slug,
  name,
  onSubmitted
}: {
  slug: string;
  name: string;
  onSubmitted: (job: BatchJob) => void;
}): JSX.Element {
  const [datasets, setDatasets] = useState<DatasetChoice[] | null>(null);
  const [input, setInput] = useState<IBatchInput>(batchInput());
  const [field, setField] = useState<BatchField | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const loadDatasets = useCallback(async () => {
    try {
      const found = await listDatasets(slug);
      setDatasets(found);
      setInput(i => (i.dataset || found.length === 0 ? i : { ...i, dataset: found[0].name }));
    } catch (err) {
      setError(formatApiError(err));
    }
  }, [slug]);

  useEffect(() => {
    void loadDatasets();
  }, [loadDatasets]);

  const edit = (key: keyof IBatchInput, value: string) => {
    setInput(i => ({ ...i, [key]: value, ...(key === 'dataset' ? { snapshot: '' } : {}) }));
    setField(null);
    setError(null);
  };

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const checked = batchRequest(input, datasets ?? undefined);
    if ('error' in checked) {
      setField(checked.field);
      setError(checked.error);
      return;
    }
    setBusy(true);
    setField(null);
    setError(null);
    try {
      onSubmitted(await submitBatchJob(slug, name, checked.request));
    } catch (err) {
      setError(formatApiError(err));
    } finally {
      setBusy(false);
    }
  };

  const chosen = datasets?.find(d => d.name === input.dataset);
  const snapshots = snapshotChoices(chosen, formatTimestamp);
  const invalid = (f: BatchField) => (field === f ? 'true' : 'false');
  return (
    <form className="jp-mlp-batch-form" data-testid="mlp-batch-form" onSubmit={e => void submit(e)}>
      <label className="jp-mlp-field">
        <span>Dataset</span>
        <select
          className="jp-mlp-select"
          data-testid="mlp-batch-dataset"
          value={input.dataset}
          aria-invalid={invalid('dataset')}
          disabled={busy}
          onFocus={() => void loadDatasets()}
          onChange={e => edit('dataset', e.target.value)}
        >
          {datasets === null && <option value="">Loading…</option>}
          {datasets?.length === 0 && <option value="">no datasets in this project</option>}
          {datasets?.map(d => (
            <option key={d.name} value={d.name}>
              {d.name}
            </option>
          ))}
        </select>
      </label>
      <label className="jp-mlp-field">
        <span>Snapshot</span>
        <select
          className="jp-mlp-select"
          data-testid="mlp-batch-snapshot"
          value={input.snapshot}
          aria-invalid={invalid('snapshot')}
          disabled={busy || !chosen}
          onChange={e => edit('snapshot', e.target.value)}
        >
          <option value="">current{chosen ? ` (${chosen.current_snapshot_id})` : ''}</option>
          {snapshots.map(s => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </select>
      </label>
      <label className="jp-mlp-field">
        <span>Output dataset</span>
        <input
          className="jp-mlp-input"
          data-testid="mlp-batch-output"
          value={input.output}
          placeholder="empty: a Parquet file"
          spellCheck={false}
          aria-invalid={invalid('output')}
          disabled={busy}
          onChange={e => edit('output', e.target.value)}
        />
      </label>
      <label className="jp-mlp-field jp-mlp-batch-chunk">
        <span>Rows per chunk</span>
        <input
          className="jp-mlp-input"
          data-testid="mlp-batch-chunk-rows"
          value={input.chunkRows}
          inputMode="numeric"
          aria-invalid={invalid('chunkRows')}
          disabled={busy}
          onChange={e => edit('chunkRows', e.target.value)}
        />
      </label>
      <button
        type="submit"
        className="jp-mlp-button jp-mod-accept"
        data-testid="mlp-batch-submit"
        disabled={busy || datasets?.length === 0}
      >
        {busy ? 'Submitting…' : 'Score'}
      </button>
      {error && (
        <div className="jp-mlp-error jp-mlp-batch-error" data-testid="mlp-batch-error" role="alert">
          {error}
        </div>
      )}
    </form>
  );
}
