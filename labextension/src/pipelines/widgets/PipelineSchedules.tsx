import React, { useCallback, useEffect, useState } from 'react';

import { createSchedule, deleteSchedule, listSchedules, SchedulePage } from '../../common/api';
import { formatApiError } from '../../common/errors';
import { shortVersion } from '../promote';
import type { IRunBody } from '../runForm';
import { runFailure } from '../runForm';
import {
  CRON_PLACEHOLDER,
  DEFAULT_TIMEZONE,
  IScheduleProblem,
  scheduleFailure,
  scheduleRequest,
  scheduleRow,
  SCHEDULES_PAGE_SIZE
} from '../schedules';
import { clampOffset, lastPageOffset, pageRange } from '../../common/paging';

export interface IPipelineSchedulesProps {
  slug: string;
  name: string;
  /** The selected version's full hash (what a new schedule pins); null while none is selected. */
  version: string | null;
  /** The Run form's body: a new schedule sends its changed parameters. */
  body: IRunBody;
  /** Put the server's complaints about named parameters next to their Run form fields. */
  onParameterErrors: (fields: Record<string, string>) => void;
}

/**
 * A pipeline's schedules (Dagster schedules), and a form that schedules the selected version with the
 * Run form's values.
 */
export function PipelineSchedules({
  slug,
  name,
  version,
  body,
  onParameterErrors
}: IPipelineSchedulesProps): JSX.Element {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<SchedulePage | null>(null);
  const [loading, setLoading] = useState(false);
  const [listError, setListError] = useState<string | null>(null);
  const [cron, setCron] = useState('');
  const [timezone, setTimezone] = useState(DEFAULT_TIMEZONE);
  const [problem, setProblem] = useState<IScheduleProblem | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = useCallback(
    async (at: number) => {
      setLoading(true);
      try {
        const result = await listSchedules(slug, name, SCHEDULES_PAGE_SIZE, at);
        const clamped = clampOffset(at, result.total, SCHEDULES_PAGE_SIZE);
        if (clamped !== at) {
          setOffset(clamped); // rows went away under this page: the effect loads the last one
          return;
        }
        setPage(result);
        setListError(null);
      } catch (err) {
        setListError(formatApiError(err));
      } finally {
        setLoading(false);
      }
    },
    [slug, name]
  );

  useEffect(() => {
    void load(offset);
  }, [load, offset]);

  const create = async () => {
    if (!version) {
      return;
    }
    const built = scheduleRequest({ cron, timezone, version, body });
    if ('problem' in built) {
      setProblem(built.problem);
      return;
    }
    setBusy('create');
    setProblem(null);
    try {
      await createSchedule(slug, name, built.request);
      const total = (page?.total ?? 0) + 1;
      const last = lastPageOffset(total, SCHEDULES_PAGE_SIZE);
      setCron('');
      if (last === offset) {
        await load(offset);
      } else {
        setOffset(last); // the new schedule is the newest: show the page it is on
      }
    } catch (err) {
      const failure = scheduleFailure(err, formatApiError);
      setProblem(failure);
      if (failure.field === 'run-form') {
        onParameterErrors(runFailure(err, formatApiError).fields);
      }
    } finally {
      setBusy(null);
    }
  };

  const remove = async (id: number) => {
    setBusy(`delete:${id}`);
    setProblem(null);
    try {
      await deleteSchedule(slug, id);
      await load(offset);
    } catch (err) {
      setProblem({ message: formatApiError(err), field: null });
    } finally {
      setBusy(null);
    }
  };

  const items = page?.items ?? [];
  const total = page?.total ?? 0;
  const changed = Object.keys(body.parameters);
  return (
    <section className="jp-mlp-schedules" aria-label="Schedules">
      <h4 className="jp-mlp-heading">Schedules {page && total > 0 ? `(${total})` : ''}</h4>
      {listError && (
        <div className="jp-mlp-error" role="alert">
          {listError}
        </div>
      )}
      {!page && !listError && <div className="jp-mlp-loading">Loading schedules…</div>}
      {page && items.length === 0 && (
        <p className="jp-mlp-hint" data-testid="mlp-schedules-empty">
          No schedules.
        </p>
      )}
      {items.length > 0 && (
        <div className="jp-mlp-table-scroll">
          <table
            className="jp-mlp-table jp-mlp-schedules-table"
            data-testid="mlp-schedules"
            aria-busy={loading ? 'true' : 'false'}
          >
            <thead>
              <tr>
                <th>Cron</th>
                <th>Time zone</th>
                <th>Version</th>
                <th>Parameters</th>
                <th>Next run</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {items.map(schedule => {
                const row = scheduleRow(schedule);
                return (
                  <tr
                    key={row.id}
                    data-testid="mlp-schedule-row"
                    data-schedule-id={row.id}
                    title={`Schedule #${row.id} by ${schedule.created_by}`}
                  >
                    <td>
                      <code data-testid="mlp-schedule-cron-text">{row.cron}</code>
                    </td>
                    <td>{row.timezone}</td>
                    <td>
                      <code title={row.versionTitle}>{row.version}</code>
                    </td>
                    <td className="jp-mlp-schedule-params">
                      {row.parameters === 'defaults' ? (
                        <span className="jp-mlp-hint">defaults</span>
                      ) : (
                        <code>{row.parameters}</code>
                      )}
                    </td>
                    <td data-testid="mlp-schedule-next" title={row.nextRunTitle}>
                      {row.nextRun}
                    </td>
                    <td>
                      <button
                        className="jp-mlp-button jp-mlp-button-small"
                        data-testid="mlp-schedule-delete"
                        aria-label={`Delete schedule ${row.cron}`}
                        disabled={busy !== null}
                        onClick={() => void remove(row.id)}
                      >
                        {busy === `delete:${row.id}` ? 'Deleting…' : 'Delete'}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {total > SCHEDULES_PAGE_SIZE && (
        <div className="jp-mlp-pager">
          <span data-testid="mlp-schedules-count">{pageRange(offset, items.length, total)}</span>
          <span className="jp-mlp-actions">
            <button
              className="jp-mlp-button jp-mlp-button-small"
              disabled={loading || offset === 0}
              onClick={() => setOffset(Math.max(0, offset - SCHEDULES_PAGE_SIZE))}
            >
              ‹ Previous
            </button>
            <button
              className="jp-mlp-button jp-mlp-button-small"
              disabled={loading || offset + SCHEDULES_PAGE_SIZE >= total}
              onClick={() => setOffset(offset + SCHEDULES_PAGE_SIZE)}
            >
              Next ›
            </button>
          </span>
        </div>
      )}
      <form
        className="jp-mlp-schedule-form"
        aria-label="New schedule"
        onSubmit={e => {
          e.preventDefault();
          void create();
        }}
      >
        <label className="jp-mlp-field">
          <span>Cron</span>
          <input
            className="jp-mlp-input"
            type="text"
            data-testid="mlp-schedule-cron"
            placeholder={CRON_PLACEHOLDER}
            spellCheck={false}
            value={cron}
            aria-invalid={problem?.field === 'cron' ? 'true' : 'false'}
            onChange={e => {
              setCron(e.target.value);
              if (problem?.field === 'cron') {
                setProblem(null);
              }
            }}
          />
        </label>
        <label className="jp-mlp-field">
          <span>Time zone</span>
          <input
            className="jp-mlp-input"
            type="text"
            data-testid="mlp-schedule-timezone"
            placeholder={DEFAULT_TIMEZONE}
            spellCheck={false}
            value={timezone}
            aria-invalid={problem?.field === 'timezone' ? 'true' : 'false'}
            onChange={e => {
              setTimezone(e.target.value);
              if (problem?.field === 'timezone') {
                setProblem(null);
              }
            }}
          />
        </label>
        <button
          type="submit"
          className="jp-mlp-button jp-mod-accept"
          data-testid="mlp-schedule-create"
          disabled={busy !== null || !version}
        >
          {busy === 'create' ? 'Scheduling…' : 'Schedule'}
        </button>
      </form>
      <p className="jp-mlp-hint">
        {version ? (
          <>
            Schedules version <code title={version}>{shortVersion(version)}</code> with{' '}
            {changed.length === 0 ? 'all defaults' : `the Run form's ${changed.join(', ')}`}. Cron has five
            fields: minute hour day month weekday; the time zone is an IANA name such as Europe/Berlin.
          </>
        ) : (
          'Select a version to schedule it.'
        )}
      </p>
      {problem && (
        <div className="jp-mlp-error" data-testid="mlp-schedule-error" role="alert">
          {problem.message}
        </div>
      )}
    </section>
  );
}
