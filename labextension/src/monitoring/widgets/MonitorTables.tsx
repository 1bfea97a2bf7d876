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
import { everyPageFollowed, IDeploymentTableProps, PagedSection } from '../../common/widgets/PagedSection';

function when(iso: string | null | undefined): string {
  return formatTimestamp(iso ? Date.parse(iso) : null);
}

/** The deployment's alerts, firing ones first, each with what its webhooks answered. */
export function AlertsTable(props: IDeploymentTableProps): JSX.Element {
  const { slug, name } = props;
  const load = usePagedLoad(
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
    everyPageFollowed(props, ALERTS_PAGE_SIZE)
  );

  return (
    <PagedSection
      load={load}
      sectionClassName="jp-mlp-monitor-alerts"
      sectionTestId="alerts-section"
      title="Alerts"
      level="h4"
      errorRole="status"
      errorWhat="the alerts"
      empty="No alert so far. One fires when the newest window drifts, its schema changes, or a metric falls below its tolerance; it resolves when a later window no longer shows it."
      emptyTestId="alerts-empty"
      tableClassName="jp-mlp-alerts-table"
      tableTestId="alerts-table"
      pagerTestId="alerts-pager"
      columns={['State', 'Alert', 'Since', { label: 'Windows', title: 'Windows that showed it' }, 'Webhooks']}
      row={a => {
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
      }}
    />
  );
}

/** The deployment's automatic retrainings: alert → pipeline run → version → gate decision → outcome. */
export function RetrainingsTable({
  retrain,
  ...table
}: IDeploymentTableProps & {
  /** The monitor retrains automatically (else an empty list says how to turn it on). */
  retrain: boolean;
}): JSX.Element {
  const { slug, name } = table;
  const load = usePagedLoad(
    (limit, at, signal) => listRetrainings(slug, name, limit, at, signal),
    everyPageFollowed(table, RETRAININGS_PAGE_SIZE)
  );

  return (
    <PagedSection
      load={load}
      sectionClassName="jp-mlp-monitor-retrainings"
      sectionTestId="retrainings-section"
      title="Retraining history"
      level="h4"
      errorRole="status"
      errorWhat="the retrainings"
      empty={
        retrain
          ? 'No retraining yet: one starts when an alert fires (at most once per cooldown).'
          : 'Automatic retraining is off (see Settings).'
      }
      emptyTestId="retrainings-empty"
      tableClassName="jp-mlp-retrainings-table"
      tableTestId="retrainings-table"
      pagerTestId="retrainings-pager"
      columns={['Started', 'Alert → run → version → gate decision', 'Outcome']}
      row={r => {
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
      }}
    />
  );
}
