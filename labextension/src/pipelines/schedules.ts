/**
 * Pipeline schedules in the Pipelines panel: the request built from the schedule form and the Run form,
 * how a schedule reads in the table, paging, and which input a refusal points at.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import { ApiError } from '../common/errors';
import { shortVersion } from './promote';
import type { IRunBody } from './runForm';
import { inlineJson } from './runForm';
import { formatTimestamp } from '../common/runFormat';

/** Schedules listed per page. */
export const SCHEDULES_PAGE_SIZE = 20;

/** The time zone a new schedule gets unless the user names another. */
export const DEFAULT_TIMEZONE = 'UTC';

/** The cron input's placeholder: 06:00 on weekdays. */
export const CRON_PLACEHOLDER = '0 6 * * 1-5';

/** What the table needs of a schedule (the API's ScheduleOut). */
export interface IScheduleLike {
  id: number;
  version: string;
  cron: string;
  timezone: string;
  parameters: Record<string, unknown>;
  created_by: string;
  next_ticks: string[];
  last_run?: string | null;
}

/** One row of the schedules table, as text. */
export interface IScheduleRow {
  id: number;
  cron: string;
  timezone: string;
  /** The first 12 hex digits; the full hash is `versionTitle`. */
  version: string;
  versionTitle: string;
  /** The parameters as compact JSON with sorted keys; `defaults` when none were set. */
  parameters: string;
  /** The next tick in local time, or '—' when none is known. */
  nextRun: string;
  /** Every known next tick as the server wrote it (ISO 8601, the schedule's time zone), one per line. */
  nextRunTitle: string;
}

/** The parameters of a schedule in one line, keys sorted: `{"alpha": 2, "epochs": 3}`. */
export function compactParameters(parameters: Record<string, unknown> | null | undefined): string {
  const entries = Object.entries(parameters ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? 'defaults' : inlineJson(Object.fromEntries(entries));
}

/** A schedule as the table shows it. */
export function scheduleRow(schedule: IScheduleLike): IScheduleRow {
  const next = schedule.next_ticks[0];
  return {
    id: schedule.id,
    cron: schedule.cron,
    timezone: schedule.timezone,
    version: shortVersion(schedule.version),
    versionTitle: schedule.version,
    parameters: compactParameters(schedule.parameters),
    nextRun: next ? formatTimestamp(Date.parse(next)) : '—',
    nextRunTitle: schedule.next_ticks.join('\n')
  };
}

/** A cron expression with its fields separated by single spaces. */
export function normalizeCron(cron: string): string {
  return cron.trim().split(/\s+/).filter(Boolean).join(' ');
}

/** Why `cron` cannot be a schedule's expression (a first check; the server has the last word), or null. */
export function validateCron(cron: string): string | null {
  const fields = normalizeCron(cron);
  if (!fields) {
    return `Enter a cron expression, e.g. ${CRON_PLACEHOLDER} (06:00 on weekdays).`;
  }
  const count = fields.split(' ').length;
  if (count !== 5) {
    return `A cron expression has five fields (minute hour day month weekday); this one has ${count}.`;
  }
  return null;
}

/** The schedule form's inputs, and the selected version and Run form it schedules. */
export interface IScheduleInput {
  cron: string;
  timezone: string;
  /** The selected version's full hash. */
  version: string;
  /** The Run form's body: only its changed parameters are sent, as for a run. */
  body: IRunBody;
}

/** The request body of a new schedule (the API's ScheduleRequest). */
export interface IScheduleBody {
  cron: string;
  timezone: string;
  version: string;
  parameters: Record<string, unknown>;
}

/** Why the form cannot be sent, and which input is at fault (`run-form` for the Run form's fields). */
export interface IScheduleProblem {
  message: string;
  field: 'cron' | 'timezone' | 'run-form' | null;
}

/** The request for a new schedule, or why it cannot be sent (the Run form's errors first). */
export function scheduleRequest(
  input: IScheduleInput
): { request: IScheduleBody } | { problem: IScheduleProblem } {
  const formErrors = Object.entries(input.body.errors);
  if (formErrors.length > 0) {
    const list = formErrors.map(([name, why]) => `${name}: ${why}`).join(' ');
    return {
      problem: { message: `Fix the Run form's parameters first. ${list}`, field: 'run-form' }
    };
  }
  const cronProblem = validateCron(input.cron);
  if (cronProblem) {
    return { problem: { message: cronProblem, field: 'cron' } };
  }
  return {
    request: {
      cron: normalizeCron(input.cron),
      timezone: input.timezone.trim() || DEFAULT_TIMEZONE,
      version: input.version,
      parameters: { ...input.body.parameters }
    }
  };
}

/** A refused schedule in words, with the input its detail names (`cron`, `timezone`, or a parameter). */
export function scheduleFailure(err: unknown, describe: (err: unknown) => string): IScheduleProblem {
  let field: IScheduleProblem['field'] = null;
  if (err instanceof ApiError && Array.isArray(err.detail)) {
    for (const item of err.detail) {
      const named = (item as { field?: unknown } | null)?.field;
      if (named === 'cron' || named === 'timezone') {
        field = named;
        break;
      }
      if (typeof named === 'string' && named.startsWith('parameters.')) {
        field = 'run-form';
        break;
      }
    }
  }
  return { message: describe(err), field };
}
