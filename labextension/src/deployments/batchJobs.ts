/**
 * Batch scoring in words: the form's checks, a job's progress, its source and output, its status and failure.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type { BatchJob, BatchSubmit, DatasetChoice } from '../common/api';
import { formatBytes } from '../common/runFormat';
import type { DeploymentTone } from './deployments';
import { num } from '../common/jsonValues';

/** Batch jobs listed per page. */
export const BATCH_PAGE_SIZE = 10;

/** How often the jobs are reloaded while one is queued or running and the panel is on screen. */
export const BATCH_REFRESH_MS = 1500;

/** The backend's default and bounds for rows per chunk. */
export const DEFAULT_CHUNK_ROWS = 10_000;
export const MAX_CHUNK_ROWS = 1_000_000;

/** What a dataset may be called (the backend's rule). */
export const DATASET_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

// --- status ---------------------------------------------------------------------------------------------

const STATUS: Record<string, { tone: DeploymentTone; label: string; title: string }> = {
  queued: { tone: 'pending', label: 'Queued', title: 'Waiting for a scoring slot.' },
  running: { tone: 'running', label: 'Running', title: 'Chunks are being scored.' },
  succeeded: { tone: 'success', label: 'Succeeded', title: 'Every chunk was scored and the output written.' },
  failed: { tone: 'failure', label: 'Failed', title: 'The job stopped; see its message.' }
};

/** A job status's tone, label and tooltip. */
export function batchStatus(status: string): { tone: DeploymentTone; label: string; title: string } {
  return STATUS[status] ?? { tone: 'pending', label: status, title: status };
}

/** The CSS classes of a job's status chip. */
export function batchChipClass(status: string): string {
  return `jp-mlp-chip jp-mlp-tone-${batchStatus(status).tone}`;
}

/** Whether a job may still change (queued or running). */
export function isBatchActive(status: string): boolean {
  return status === 'queued' || status === 'running';
}

/** Whether any job in the list may still change: then the list is reloaded often. */
export function anyBatchActive(jobs: ReadonlyArray<Pick<BatchJob, 'status'>>): boolean {
  return jobs.some(j => isBatchActive(j.status));
}

// --- progress -------------------------------------------------------------------------------------------

/** A job's progress: percent of chunks done (0–100) and the same in words. */
export function batchProgress(
  job: Pick<BatchJob, 'status' | 'chunks_done' | 'chunks_total' | 'rows'>
): { percent: number; text: string } {
  const total = Math.max(0, job.chunks_total);
  const done = Math.min(Math.max(0, job.chunks_done), total);
  let percent: number;
  if (total > 0) {
    percent = Math.round((done / total) * 100);
  } else {
    percent = job.status === 'succeeded' ? 100 : 0;
  }
  const rows = `${job.rows.toLocaleString('en-US')} ${job.rows === 1 ? 'row' : 'rows'}`;
  const chunks = total > 0 ? `${done}/${total} chunks` : job.status === 'queued' ? 'not started' : 'counting chunks';
  return { percent, text: `${chunks} · ${rows}` };
}

// --- source and output ----------------------------------------------------------------------------------

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** A snapshot id as sent (an exact string of digits) or, from an older client, a number. */
function snapId(value: unknown): string | null {
  if (typeof value === 'string' && /^\d+$/.test(value)) {
    return value;
  }
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : null;
}

/** Where a job's rows came from: `applicants @ 123`, or `uploaded CSV (1.2 MB)`. */
export function sourceWords(source: Record<string, unknown>): string {
  if (source.kind === 'dataset') {
    const snap = snapId(source.snapshot_id);
    return `${str(source.dataset) ?? 'a dataset'}${snap === null ? '' : ` @ ${snap}`}`;
  }
  if (source.kind === 'upload') {
    const format = str(source.format)?.toUpperCase() ?? 'file';
    const bytes = num(source.bytes);
    return `uploaded ${format}${bytes === null ? '' : ` (${formatBytes(bytes, { wholeFromTen: true })})`}`;
  }
  return str(source.kind) ?? 'unknown source';
}

/** Where a job's scored rows go: `applicants_scored @ 456` (the snapshot once written) or a Parquet file. */
export function outputWords(output: Record<string, unknown>): string {
  if (output.kind === 'dataset') {
    const snap = snapId(output.snapshot_id);
    return `${str(output.dataset) ?? 'a dataset'}${snap === null ? '' : ` @ ${snap}`}`;
  }
  return 'a Parquet file';
}

/** Whether a job's output can be downloaded: a Parquet file of a succeeded job. */
export function hasDownload(job: Pick<BatchJob, 'status' | 'output'>): boolean {
  return job.status === 'succeeded' && job.output.kind === 'file';
}

/** The file name a downloaded output is saved under. */
export function outputFileName(job: Pick<BatchJob, 'deployment' | 'id'>): string {
  return `${job.deployment}-batch-${job.id.slice(0, 8)}.parquet`;
}

/** Why a job failed, in plain words. */
export function failureWords(job: Pick<BatchJob, 'status' | 'message'>): string | null {
  if (job.status !== 'failed') {
    return null;
  }
  const message = job.message?.trim();
  return message ? message : 'The job failed without saying why; see the deployment logs.';
}

// --- the form -------------------------------------------------------------------------------------------

/** What the batch form holds, as typed. */
export interface IBatchInput {
  dataset: string;
  /** A snapshot id, or '' for the dataset's current snapshot. */
  snapshot: string;
  /** An output dataset name, or '' for a Parquet file. */
  output: string;
  chunkRows: string;
}

export type BatchField = 'dataset' | 'snapshot' | 'output' | 'chunkRows';

/** An empty form: the backend's default chunk size. */
export function batchInput(dataset = ''): IBatchInput {
  return { dataset, snapshot: '', output: '', chunkRows: String(DEFAULT_CHUNK_ROWS) };
}

/**
 * Check the form and build the request, or say what is wrong and where.
 *
 * @param datasets the project's datasets, when known: the dataset and snapshot must be among them
 */
export function batchRequest(
  input: IBatchInput,
  datasets?: ReadonlyArray<Pick<DatasetChoice, 'name' | 'snapshots'>>
): { request: BatchSubmit } | { field: BatchField; error: string } {
  const dataset = input.dataset.trim();
  if (!dataset) {
    return { field: 'dataset', error: 'Choose the dataset to score.' };
  }
  const known = datasets?.find(d => d.name === dataset);
  if (datasets && !known) {
    return { field: 'dataset', error: `The project has no dataset '${dataset}'.` };
  }
  const request: BatchSubmit = { dataset };

  const snapshot = input.snapshot.trim();
  if (snapshot) {
    if (!/^\d+$/.test(snapshot)) {
      return { field: 'snapshot', error: 'A snapshot is a whole number (its id).' };
    }
    if (known && !known.snapshots.some(s => s.snapshot_id === snapshot)) {
      return { field: 'snapshot', error: `Dataset '${dataset}' has no snapshot ${snapshot}.` };
    }
    request.snapshot_id = snapshot;
  }

  const output = input.output.trim();
  if (output) {
    if (!DATASET_NAME_PATTERN.test(output)) {
      return {
        field: 'output',
        error: 'An output dataset name is lowercase letters, digits and _, starting with a letter (at most 63).'
      };
    }
    if (output === dataset) {
      return { field: 'output', error: 'Write the scores to another dataset: this one is the input.' };
    }
    request.output_dataset = output;
  }

  const chunk = input.chunkRows.trim();
  if (!/^\d+$/.test(chunk) || Number(chunk) < 1 || Number(chunk) > MAX_CHUNK_ROWS) {
    return {
      field: 'chunkRows',
      error: `Rows per chunk is a whole number from 1 to ${MAX_CHUNK_ROWS.toLocaleString('en-US')}.`
    };
  }
  request.chunk_rows = Number(chunk);
  return { request };
}

/** The snapshot picker's choices, newest first, the current one marked. */
export function snapshotChoices(
  dataset: Pick<DatasetChoice, 'current_snapshot_id' | 'snapshots'> | undefined,
  formatTime: (ms: number) => string
): { value: string; label: string }[] {
  if (!dataset) {
    return [];
  }
  return [...dataset.snapshots]
    .sort((a, b) => b.timestamp_ms - a.timestamp_ms)
    .map(s => ({
      value: s.snapshot_id,
      label: `${s.snapshot_id} · ${formatTime(s.timestamp_ms)}${
        s.snapshot_id === dataset.current_snapshot_id ? ' (current)' : ''
      }`
    }));
}
