/**
 * Promoting a notebook to a pipeline, in words: the default name, problems, refusals and results.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type { PreflightReport, Problem, PromoteResult } from '../common/api';
import { ApiError, formatApiError } from '../common/errors';

/** How many hex digits of a version the dialog shows (the full hash is on hover). */
export const SHORT_VERSION_LENGTH = 12;

/** The backend's limit on a pipeline name's length. */
export const PIPELINE_NAME_MAX = 63;

/** The default pipeline name: the notebook's file name without extension, slugified to `[a-z0-9-]`. */
export function pipelineNameFromPath(path: string): string {
  const file = path.split('/').pop() ?? '';
  const stem = file.includes('.') && !file.startsWith('.') ? file.slice(0, file.lastIndexOf('.')) : file;
  const slug = stem
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, PIPELINE_NAME_MAX)
    .replace(/-+$/, '');
  return slug || 'pipeline';
}

/**
 * The name the dialog proposes: the pipeline this notebook was promoted to before (the backend finds it by the
 * notebook's path, so a re-promotion adds a version to it), else the file name.
 */
export function proposedPipelineName(report: Pick<PreflightReport, 'pipeline'> | null, path: string): string {
  return report?.pipeline || pipelineNameFromPath(path);
}

/** What promoting under `name` will do, when it adds a version to an existing pipeline. */
export function promoteTarget(report: Pick<PreflightReport, 'pipeline' | 'existing'>, name: string): string | null {
  return report.existing && name === report.pipeline
    ? `Adds a new version to the existing pipeline '${name}'.`
    : null;
}

/** A pipeline's versions newest first (by creation time; equal times keep the given order): the first is the latest. */
export function newestFirst<T extends { created_at: string }>(versions: readonly T[]): T[] {
  return versions
    .map((version, index) => ({ version, index }))
    .sort((a, b) => Date.parse(b.version.created_at) - Date.parse(a.version.created_at) || a.index - b.index)
    .map(entry => entry.version);
}

/** Why `name` is not a valid pipeline name, or null when it is. */
export function validatePipelineName(name: string): string | null {
  if (!name) {
    return 'Give the pipeline a name.';
  }
  if (!/^[a-z0-9-]+$/.test(name)) {
    return 'Use only lowercase letters, digits and hyphens.';
  }
  if (!/^[a-z0-9]/.test(name)) {
    return 'Start the name with a letter or a digit.';
  }
  if (name.length > PIPELINE_NAME_MAX) {
    return `Keep the name to ${PIPELINE_NAME_MAX} characters or fewer.`;
  }
  return null;
}

/** The first 12 hex digits of a version hash. */
export function shortVersion(version: string): string {
  return version.slice(0, SHORT_VERSION_LENGTH);
}

/** Problems with errors first, then by cell (notebook-wide problems first), keeping the server's order otherwise. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  const rank = (p: Problem) => (p.severity === 'error' ? 0 : 1);
  const cell = (p: Problem) => p.cell ?? 0;
  return problems
    .map((problem, index) => ({ problem, index }))
    .sort((a, b) => rank(a.problem) - rank(b.problem) || cell(a.problem) - cell(b.problem) || a.index - b.index)
    .map(entry => entry.problem);
}

/** Where a problem is: "Cell 3", or "Notebook" for the notebook as a whole. */
export function problemLocation(problem: Problem): string {
  return problem.cell === null || problem.cell === undefined ? 'Notebook' : `Cell ${problem.cell}`;
}

/** A problem's message without a leading "cell N:" that repeats its location. */
export function problemMessage(problem: Problem): string {
  if (problem.cell === null || problem.cell === undefined) {
    return problem.message;
  }
  const prefix = new RegExp(`^\\s*cell\\s+${problem.cell}\\s*:\\s*`, 'i');
  const rest = problem.message.replace(prefix, '');
  if (rest === problem.message || !rest) {
    return problem.message;
  }
  return rest[0].toUpperCase() + rest.slice(1);
}

/** The errors among the problems. */
export function errorsOf(problems: readonly Problem[]): Problem[] {
  return problems.filter(p => p.severity === 'error');
}

/** Why promotion is refused, or null when there are no errors. */
export function refusalText(problems: readonly Problem[]): string | null {
  const errors = errorsOf(problems).length;
  if (errors === 0) {
    return null;
  }
  const these = errors === 1 ? 'this error' : `these ${errors} errors`;
  return `Promotion is refused: fix ${these} in the notebook, save it, and promote again. Warnings alone do not block promotion.`;
}

/** Whether the version was new or already stored, in words. */
export function promoteOutcome(result: Pick<PromoteResult, 'created'>): string {
  return result.created ? 'New version' : 'Unchanged — same content as an existing version';
}

/** A problem from an error's detail, or null when `value` is not one. */
function asProblem(value: unknown): Problem | null {
  if (typeof value !== 'object' || value === null) {
    return null;
  }
  const item = value as Record<string, unknown>;
  if (typeof item.message !== 'string') {
    return null;
  }
  const cell = typeof item.cell === 'number' ? item.cell : null;
  return {
    severity: item.severity === 'warning' ? 'warning' : 'error',
    cell,
    code: typeof item.code === 'string' ? item.code : '',
    message: item.message
  };
}

/** A failed promotion in words, with the problems when the backend refused it for preflight errors. */
export interface IPromoteFailure {
  message: string;
  problems: Problem[] | null;
}

/** Turn an error from the preflight or promote call into words (and problems, for `preflight_failed`). */
export function promoteFailure(err: unknown): IPromoteFailure {
  if (err instanceof ApiError && err.code === 'preflight_failed') {
    const problems = Array.isArray(err.detail)
      ? err.detail.map(asProblem).filter((p): p is Problem => p !== null)
      : [];
    const base = err.message.trim() || 'The notebook did not pass preflight.';
    const message = refusalText(problems) ?? base;
    return { message, problems };
  }
  if (err instanceof ApiError && err.status === 403 && !err.message.trim()) {
    return {
      message: 'Promoting a notebook needs the scientist role or above in this project.',
      problems: null
    };
  }
  return { message: formatApiError(err), problems: null };
}
