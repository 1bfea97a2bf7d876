import React from 'react';

import { listAlerts, listRetrainings } from '../../common/api';
import {
  ALERTS_PAGE_SIZE,
  alertStateWords,
  chipClass,
  deliveryWords,
  resolvedSlice,
  RETRAININGS_PAGE_SIZE,
  retrainingChain,
  retrainingStatusWords,
  sortAlerts
} from '../monitoring';
import { formatTimestamp } from '../../common/runFormat';
import { usePagedLoad } from '../../common/usePagedLoad';
import { Pager } from '../../common/widgets/Pager';

function when(iso: string | null | undefined): string {
  return formatTimestamp(iso ? Date.parse(iso) : null);
}

/** The deployment's alerts, firing ones first, each with what its webhooks answered. */
export function AlertsTable({
  slug,
  name,
  tick,
  reloadToken
}: {
  slug: string;
  name: string;
  tick: number;
  reloadToken: number;
}): JSX.Element {
  // Every page follows the ticks (alerts resolve and fire), each tick's requests abort the last ones.
  const { page, offset, error, pager } = usePagedLoad(
    async (limit, at, signal) => {
      const firing = await listAlerts(slug, { state: 'firing', deployment: name, limit, offset: at }, signal);
      const slice = resolvedSlice(at, limit, firing.total, firing.items.length);
      const resolved = await listAlerts(
        slug,
        { state: 'resolved', deployment: name, limit: slice.limit, offset: slice.offset },
        signal
      );
      return {
        items: sortAlerts([...firing.items, ...resolved.items.slice(0, slice.take)]),
        total: firing.total + resolved.total
      };
    },
    {
      pageSize: ALERTS_PAGE_SIZE,
      source: `${slug}/${name}`,
      refresh: `${tick}/${reloadToken}`,
      cancelStale: true
    }
  );
  const items = page?.items ?? null;

  return (
    <section className="jp-mlp-monitor-alerts" data-testid="alerts-section">
      <h4 className="jp-mlp-heading">Alerts</h4>
      {error && (
        <div className={items ? 'jp-mlp-hint' : 'jp-mlp-error'} role="status">
          {items ? `Could not refresh the alerts just now (${error}).` : error}
        </div>
      )}
      {!items && !error && <div className="jp-mlp-loading">Loading…</div>}
      {items && items.length === 0 && offset === 0 && (
        <p className="jp-mlp-hint" data-testid="alerts-empty">
          No alert so far. One fires when the newest window drifts, its schema changes, or a metric falls below its
          tolerance; it resolves when a later window no longer shows it.
        </p>
      )}
      {items && items.length > 0 && (
        <table className="jp-mlp-table jp-mlp-alerts-table" data-testid="alerts-table">
          <thead>
            <tr>
              <th>State</th>
              <th>Alert</th>
              <th>Since</th>
              <th title="Windows that showed it">Windows</th>
              <th>Webhooks</th>
            </tr>
          </thead>
          <tbody>
            {items.map(a => {
              const state = alertStateWords(a);
              return (
                <tr
                  key={a.id}
                  data-testid={`alert-row-${a.key}`}
                  data-alert-id={a.id}
                  data-state={a.state}
                  data-kind={a.kind}
                  className={a.state === 'firing' ? 'jp-mlp-alert-firing' : undefined}
                >
                  <td>
                    <span className={chipClass(state.tone)} title={state.title}>
                      {state.label}
                    </span>
                  </td>
                  <td>
                    <div>{a.title}</div>
                    <div className="jp-mlp-hint">
                      <code>{a.key}</code> · {a.severity}
                    </div>
                  </td>
                  <td className="jp-mlp-hint jp-mlp-nowrap">
                    {when(a.started_at)}
                    {a.resolved_at && <div>resolved {when(a.resolved_at)}</div>}
                  </td>
                  <td>{a.windows}</td>
                  <td>
                    {a.deliveries.length === 0 ? (
                      <span className="jp-mlp-hint">none</span>
                    ) : (
                      <span className="jp-mlp-deliveries">
                        {a.deliveries.map((d, i) => {
                          const words = deliveryWords(d);
                          return (
                            <span
                              key={i}
                              className={chipClass(words.ok ? 'success' : 'failure')}
                              data-testid="alert-delivery"
                              data-ok={words.ok ? 'true' : 'false'}
                              title={words.title}
                            >
                              {d.state === 'resolved' ? '↺ ' : ''}
                              {words.text}
                            </span>
                          );
                        })}
                      </span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager {...pager} testid="alerts-pager" />
    </section>
  );
}

/** The deployment's automatic retrainings: alert → pipeline run → version → gate decision → outcome. */
export function RetrainingsTable({
  slug,
  name,
  tick,
  reloadToken,
  retrain
}: {
  slug: string;
  name: string;
  tick: number;
  reloadToken: number;
  /** The monitor retrains automatically (else an empty list says how to turn it on). */
  retrain: boolean;
}): JSX.Element {
  const { page, offset, error, pager } = usePagedLoad(
    (limit, at, signal) => listRetrainings(slug, name, limit, at, signal),
    {
      pageSize: RETRAININGS_PAGE_SIZE,
      source: `${slug}/${name}`,
      refresh: `${tick}/${reloadToken}`,
      cancelStale: true
    }
  );

  const items = page?.items ?? [];
  return (
    <section className="jp-mlp-monitor-retrainings" data-testid="retrainings-section">
      <h4 className="jp-mlp-heading">Retraining history</h4>
      {error && (
        <div className={page ? 'jp-mlp-hint' : 'jp-mlp-error'} role="status">
          {page ? `Could not refresh the retrainings just now (${error}).` : error}
        </div>
      )}
      {!page && !error && <div className="jp-mlp-loading">Loading…</div>}
      {page && items.length === 0 && offset === 0 && (
        <p className="jp-mlp-hint" data-testid="retrainings-empty">
          {retrain
            ? 'No retraining yet: one starts when an alert fires (at most once per cooldown).'
            : 'Automatic retraining is off (see Settings).'}
        </p>
      )}
      {items.length > 0 && (
        <table className="jp-mlp-table jp-mlp-retrainings-table" data-testid="retrainings-table">
          <thead>
            <tr>
              <th>Started</th>
              <th>Alert → run → version → gate decision</th>
              <th>Outcome</th>
            </tr>
          </thead>
          <tbody>
            {items.map(r => {
              const status = retrainingStatusWords(r.status);
              return (
                <tr key={r.id} data-testid={`retraining-row-${r.id}`} data-status={r.status}>
                  <td className="jp-mlp-hint jp-mlp-nowrap">{when(r.created_at)}</td>
                  <td>
                    <span className="jp-mlp-chain">
                      {retrainingChain(r).map((step, i) => (
                        <React.Fragment key={step.key}>
                          {i > 0 && <span className="jp-mlp-chain-arrow">→</span>}
                          <span
                            className={step.value ? 'jp-mlp-chain-step' : 'jp-mlp-chain-step jp-mod-missing'}
                            data-testid={`retraining-${step.key}`}
                            title={step.label}
                          >
                            {step.value ? <code>{step.value}</code> : `no ${step.label}`}
                          </span>
                        </React.Fragment>
                      ))}
                    </span>
                  </td>
                  <td>
                    <span className={chipClass(status.tone)} title={status.title} data-testid="retraining-status">
                      {status.label}
                    </span>
                    {r.message && <div className="jp-mlp-hint jp-mlp-retraining-message">{r.message}</div>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager {...pager} testid="retrainings-pager" />
    </section>
  );
}
