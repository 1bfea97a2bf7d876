import React, { useCallback, useEffect, useState } from 'react';

import { getDeploymentLogs, listDeploymentEvents, WorkerLog } from '../../common/api';
import { eventSentence, eventTone, EVENTS_PAGE_SIZE, LOG_LINES } from '../deployments';
import { formatApiError } from '../../common/errors';
import { formatTimestamp } from '../../common/runFormat';
import { usePagedLoad } from '../../common/usePagedLoad';
import { IDeploymentTableProps, PagedSection } from '../../common/widgets/PagedSection';

/** What happened to a deployment (events, newest first) and what its workers wrote (logs). */
export function DeploymentActivity({ slug, name, tick, reloadToken }: IDeploymentTableProps): JSX.Element {
  return (
    <div className="jp-mlp-model-columns">
      <Events slug={slug} name={name} tick={tick} reloadToken={reloadToken} />
      <Logs slug={slug} name={name} reloadToken={reloadToken} />
    </div>
  );
}

function Events({ slug, name, tick, reloadToken }: IDeploymentTableProps): JSX.Element {
  // Only the newest page follows the ticks: an older page would shift under the reader.
  const load = usePagedLoad((limit, at) => listDeploymentEvents(slug, name, limit, at), {
    pageSize: EVENTS_PAGE_SIZE,
    source: `${slug}/${name}`,
    refresh: reloadToken,
    follow: tick
  });

  return (
    <PagedSection
      load={load}
      sectionClassName="jp-mlp-deployment-events"
      sectionTestId="mlp-events"
      title="Events"
      level="h4"
      empty="No events yet."
      newest
      row={e => (
        <tr key={e.id} data-testid="mlp-event-row" data-action={e.action}>
          <td className="jp-mlp-event-action">
            <span className={`jp-mlp-chip jp-mlp-tone-${eventTone(e.action)}`}>{e.action}</span>
          </td>
          <td>{eventSentence(e)}</td>
          <td className="jp-mlp-hint jp-mlp-nowrap">
            {e.actor} · {formatTimestamp(Date.parse(e.at))}
          </td>
        </tr>
      )}
    />
  );
}

function Logs({ slug, name, reloadToken }: Omit<IDeploymentTableProps, 'tick'>): JSX.Element {
  const [logs, setLogs] = useState<WorkerLog[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    setBusy(true);
    try {
      setLogs(await getDeploymentLogs(slug, name, LOG_LINES));
      setError(null);
    } catch (err) {
      setError(formatApiError(err));
    } finally {
      setBusy(false);
    }
  }, [slug, name]);

  useEffect(() => {
    void load();
  }, [load, reloadToken]);

  return (
    <section className="jp-mlp-deployment-logs" data-testid="mlp-logs" aria-busy={busy ? 'true' : 'false'}>
      <div className="jp-mlp-diff-header">
        <h4 className="jp-mlp-heading">Worker logs</h4>
        <span className="jp-mlp-hint">last {LOG_LINES} lines of each</span>
        <button className="jp-mlp-button jp-mlp-button-small" disabled={busy} onClick={() => void load()}>
          Refresh
        </button>
      </div>
      {error && (
        <div className="jp-mlp-error" role="alert">
          {error}
        </div>
      )}
      {logs && logs.length === 0 && <p className="jp-mlp-hint">No worker has written anything yet.</p>}
      {logs?.map((log, i) => (
        <details key={log.worker} className="jp-mlp-worker-log" open={i === 0}>
          <summary>
            {log.worker} <span className="jp-mlp-hint">({log.lines.length} lines)</span>
          </summary>
          {log.lines.length > 0 ? (
            <pre>{log.lines.join('\n')}</pre>
          ) : (
            <p className="jp-mlp-hint">Nothing written yet.</p>
          )}
        </details>
      ))}
    </section>
  );
}
