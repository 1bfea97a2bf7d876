/**
 * Where pipeline stages run, in words: the Pipelines panel's notice and a run's "ran in" line.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */

/** What the backend says about where stages run (the API's ExecutorOut). */
export interface IExecutorLike {
  /** docker, subprocess or unavailable (anything else is read as unavailable). */
  kind: string;
  /** The backend's sentence, e.g. `Stages run in a local subprocess: no Docker engine answers.` */
  detail: string;
}

/** How loudly the notice speaks: quiet for Docker, a warning otherwise. */
export type NoticeTone = 'info' | 'warning';

/** The panel's one-line notice about where stages run. */
export interface IExecutorNotice {
  kind: string;
  tone: NoticeTone;
  text: string;
  /** The CSS classes of the notice. */
  className: string;
}

const KNOWN_KINDS = new Set(['docker', 'subprocess', 'unavailable']);

const FALLBACK_TEXT: Record<string, string> = {
  docker: 'Stages run in Docker containers.',
  subprocess: 'Stages run in a local subprocess — no Docker engine answers.',
  unavailable: 'Pipeline stages cannot run: no executor is available.'
};

function sentence(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  if (!trimmed) {
    return trimmed;
  }
  return /[.!?…]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** The notice for an executor: the server's words (a fallback when it gave none), quiet only for Docker. */
export function executorNotice(executor: IExecutorLike): IExecutorNotice {
  const kind = KNOWN_KINDS.has(executor.kind) ? executor.kind : 'unavailable';
  const tone: NoticeTone = kind === 'docker' ? 'info' : 'warning';
  const text = sentence(executor.detail ?? '') || FALLBACK_TEXT[kind];
  const className = `jp-mlp-executor-notice jp-mlp-notice-${tone}`;
  return { kind, tone, text, className };
}

/** Where a run's stages ran, in words: `Docker container`, `local subprocess`, or not yet known. */
export function runExecutorLabel(executor: string | null | undefined): string {
  switch (executor) {
    case 'docker':
      return 'Docker container';
    case 'subprocess':
      return 'local subprocess';
    case null:
    case undefined:
    case '':
      return 'not known yet';
    default:
      return executor;
  }
}

/** The run's origin when a schedule launched it (`scheduled (#3)`), or null for a run started by hand. */
export function scheduleLabel(scheduleId: number | null | undefined): string | null {
  return scheduleId === null || scheduleId === undefined ? null : `scheduled (#${scheduleId})`;
}

/** The whole executor line of a run: `Executor: local subprocess · scheduled (#3)`. */
export function runExecutorLine(run: {
  executor?: string | null;
  schedule_id?: number | null;
}): string {
  const origin = scheduleLabel(run.schedule_id);
  return `Executor: ${runExecutorLabel(run.executor)}${origin ? ` · ${origin}` : ''}`;
}
