/**
 * Pipeline runs in words and colours: which statuses are final, how a status is shown, when to poll,
 * and where a stage's output notebook is found and saved.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */

/** Statuses after which a run or a stage never changes. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['SUCCESS', 'FAILURE', 'CANCELED']);

/** How often the panel asks for the state of unfinished runs, in milliseconds. */
export const POLL_INTERVAL_MS = 1500;

/** Pipelines listed per page. */
export const PIPELINES_PAGE_SIZE = 50;

/** Whether a run or stage with this status is finished. */
export function isTerminal(status: string): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** The colour family of a status: success green, failure red, running blue, pending grey. */
export type StatusTone = 'success' | 'failure' | 'running' | 'pending' | 'skipped' | 'canceled';

const TONES: Record<string, StatusTone> = {
  SUCCESS: 'success',
  FAILURE: 'failure',
  STARTED: 'running',
  IN_PROGRESS: 'running',
  STARTING: 'running',
  CANCELING: 'running',
  PENDING: 'pending',
  QUEUED: 'pending',
  NOT_STARTED: 'pending',
  SKIPPED: 'skipped',
  CANCELED: 'canceled'
};

/** The tone of a status; unknown statuses are pending. */
export function statusTone(status: string): StatusTone {
  return TONES[status] ?? 'pending';
}

/** The CSS class of a status chip, e.g. `jp-mlp-chip jp-mlp-tone-success`. */
export function chipClass(status: string): string {
  return `jp-mlp-chip jp-mlp-tone-${statusTone(status)}`;
}

/** A status as a person reads it: `IN_PROGRESS` → `In progress`. */
export function statusLabel(status: string): string {
  const words = status.toLowerCase().replace(/_/g, ' ');
  return words ? words[0].toUpperCase() + words.slice(1) : '';
}

/** What polling needs of a run. */
export interface IRunLike {
  run_id: string;
  status: string;
}

/** The runs to ask about again: those shown that have not finished, while the panel is visible. */
export function runsToPoll(runs: readonly IRunLike[], visible: boolean): string[] {
  return visible ? runs.filter(run => !isTerminal(run.status)).map(run => run.run_id) : [];
}

/** The delay before the next poll, or null when nothing needs polling. */
export function nextPollDelay(runs: readonly IRunLike[], visible: boolean): number | null {
  return runsToPoll(runs, visible).length > 0 ? POLL_INTERVAL_MS : null;
}

/** The list with fresh copies of runs put in place of the stale ones (others kept, order kept). */
export function mergeRuns<T extends IRunLike>(runs: readonly T[], fresh: readonly T[]): T[] {
  const byId = new Map(fresh.map(run => [run.run_id, run]));
  return runs.map(run => byId.get(run.run_id) ?? run);
}

/** Whether a run can still be cancelled. */
export function canCancel(run: IRunLike): boolean {
  return !isTerminal(run.status);
}

/** A failed stage's error as the backend records it. */
export interface IStageError {
  stage: string;
  cell: number | null;
  error: string;
  traceback: string;
}

/** Read a stage's `error` object; null when it has none or it is not the expected shape. */
export function stageError(error: unknown): IStageError | null {
  if (typeof error !== 'object' || error === null) {
    return null;
  }
  const e = error as Record<string, unknown>;
  return {
    stage: typeof e.stage === 'string' ? e.stage : '',
    cell: typeof e.cell === 'number' ? e.cell : null,
    error: typeof e.error === 'string' ? e.error : JSON.stringify(e.error ?? 'Unknown error'),
    traceback: typeof e.traceback === 'string' ? e.traceback : ''
  };
}

/** The headline of a stage error: `Cell 3: ValueError: boom`. */
export function stageErrorHeadline(error: IStageError): string {
  return error.cell === null ? error.error : `Cell ${error.cell}: ${error.error}`;
}

/** The artifact of a stage's MLflow child run that holds its executed notebook. */
export function outputNotebookArtifact(stage: string): string {
  return `output/${stage}.ipynb`;
}

function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The MLflow search filter that finds a stage's child run under the pipeline run's parent run. */
export function stageChildFilter(parentRunId: string, stage: string): string {
  return `tags.mlflow.parentRunId = ${quote(parentRunId)} and tags.mlp.pipeline.stage = ${quote(stage)}`;
}

function safeSegment(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_');
}

/** Where a stage's output notebook is saved in the workspace (a visible folder; Jupyter refuses hidden ones). */
export function outputNotebookPath(runId: string, stage: string): string {
  return `mlp-pipeline-runs/${safeSegment(runId)}/${safeSegment(stage)}.ipynb`;
}

/** Stage name → status, for colouring the stage graph. */
export function stageStatuses(stages: readonly { name: string; status: string }[]): Record<string, string> {
  return Object.fromEntries(stages.map(s => [s.name, s.status]));
}
