import React, { useState } from 'react';

import {
  approveGateDecision,
  GateDecision,
  GateDecisionPage,
  GateDecisionStatus,
  listGateDecisions,
  rejectGateDecision
} from '../../common/api';
import { formatApiError } from '../../common/errors';
import { decisionBrief, decisionChipClass, decisionStatusLabel, DECISIONS_SHOWN } from '../models';
import { formatTimestamp } from '../../common/runFormat';
import { usePagedLoad } from '../../common/usePagedLoad';
import { GateResultList } from './ModelDecision';
import { Pager } from '../../common/widgets/Pager';

/** A page of a model's decisions (of one status, or all), reloaded when `token` changes. */
function useDecisions(
  slug: string,
  name: string,
  status: GateDecisionStatus | undefined,
  token: number
): {
  page: GateDecisionPage | null;
  offset: number;
  setOffset: (offset: number) => void;
  error: string | null;
  busy: boolean;
} {
  const { page, offset, setOffset, error, busy } = usePagedLoad(
    (limit, at) => listGateDecisions(slug, { model: name, status, limit, offset: at }),
    { pageSize: DECISIONS_SHOWN, source: `${slug}/${name}/${status ?? ''}`, refresh: token }
  );
  return { page, offset, setOffset, error, busy };
}

/**
 * What waits for a lead (with Approve and Reject for leads) and the model's recent decisions; a click
 * on a past decision shows its evidence.
 */
export function ModelApprovals({
  slug,
  name,
  mayDecide,
  reloadToken,
  onDecided,
  onShow
}: {
  slug: string;
  name: string;
  mayDecide: boolean;
  /** Changed by the caller after anything that may change the decisions, a decision made here included. */
  reloadToken: number;
  onDecided: (decision: GateDecision) => void;
  onShow: (decision: GateDecision) => void;
}): JSX.Element {
  const pending = useDecisions(slug, name, 'pending', reloadToken);
  const history = useDecisions(slug, name, undefined, reloadToken);
  const waiting = pending.page?.items ?? [];
  const past = history.page?.items ?? [];

  return (
    <section className="jp-mlp-model-approvals" data-testid="mlp-approvals">
      <h4 className="jp-mlp-heading">Pending approvals</h4>
      {pending.error && (
        <div className="jp-mlp-error" role="alert">
          {pending.error}
        </div>
      )}
      {!pending.page && !pending.error && <div className="jp-mlp-loading">Loading…</div>}
      {pending.page && waiting.length === 0 && (
        <p className="jp-mlp-hint" data-testid="mlp-approvals-empty">
          Nothing waits for a lead.
        </p>
      )}
      {waiting.map(d => (
        <ApprovalRow
          key={d.id}
          slug={slug}
          decision={d}
          mayDecide={mayDecide}
          onDecided={onDecided}
        />
      ))}
      <Pager
        offset={pending.offset}
        shown={waiting.length}
        total={pending.page?.total ?? 0}
        pageSize={DECISIONS_SHOWN}
        onOffset={pending.setOffset}
        newest
      />

      <h4 className="jp-mlp-heading">Decisions</h4>
      {history.error && (
        <div className="jp-mlp-error" role="alert">
          {history.error}
        </div>
      )}
      {history.page && past.length === 0 && (
        <p className="jp-mlp-hint">No promotion was asked for yet.</p>
      )}
      {past.length > 0 && (
        <ul className="jp-mlp-decision-list" data-testid="mlp-decision-history" aria-busy={history.busy}>
          {past.map(d => (
            <li
              key={d.id}
              data-decision={d.id}
              data-status={d.status}
              tabIndex={0}
              title="Show the evidence"
              onClick={() => onShow(d)}
              onKeyDown={e => e.key === 'Enter' && onShow(d)}
            >
              <span className={decisionChipClass(d.status)}>{decisionStatusLabel(d.status)}</span>
              <span>{decisionBrief(d)}</span>
              <span className="jp-mlp-hint">
                #{d.id} · {d.requested_by} · {formatTimestamp(Date.parse(d.created_at))}
              </span>
            </li>
          ))}
        </ul>
      )}
      <Pager
        offset={history.offset}
        shown={past.length}
        total={history.page?.total ?? 0}
        pageSize={DECISIONS_SHOWN}
        onOffset={history.setOffset}
        newest
      />
    </section>
  );
}

/** A pending decision: its gate results, and for leads a reason with Approve and Reject. */
function ApprovalRow({
  slug,
  decision: d,
  mayDecide,
  onDecided
}: {
  slug: string;
  decision: GateDecision;
  mayDecide: boolean;
  onDecided: (decision: GateDecision) => void;
}): JSX.Element {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState<'approve' | 'reject' | null>(null);
  const [error, setError] = useState<string | null>(null);

  const decide = async (verdict: 'approve' | 'reject') => {
    setBusy(verdict);
    setError(null);
    try {
      const call = verdict === 'approve' ? approveGateDecision : rejectGateDecision;
      onDecided(await call(slug, d.id, reason.trim()));
    } catch (err) {
      setError(formatApiError(err));
      setBusy(null);
    }
  };

  const noReason = reason.trim() === '';
  return (
    <div className="jp-mlp-approval" data-testid="mlp-approval-row" data-decision={d.id}>
      <div className="jp-mlp-approval-header">
        <span className={decisionChipClass(d.status)}>{decisionStatusLabel(d.status)}</span>
        <strong>
          v{d.version} → {d.alias}
        </strong>
        <span className="jp-mlp-hint">
          #{d.id}, asked by {d.requested_by} at {formatTimestamp(Date.parse(d.created_at))}
        </span>
      </div>
      <GateResultList evidence={d.evidence} />
      {mayDecide ? (
        <div className="jp-mlp-approval-form">
          <input
            className="jp-mlp-input"
            data-testid="mlp-approval-reason"
            value={reason}
            maxLength={2000}
            placeholder="Reason (recorded in the audit log)"
            aria-label={`Reason for decision ${d.id}`}
            onChange={e => setReason(e.target.value)}
          />
          <button
            className="jp-mlp-button jp-mod-accept"
            data-testid="mlp-approve"
            disabled={busy !== null || noReason}
            title={noReason ? 'Give a reason first' : `Move ${d.alias} to v${d.version}`}
            onClick={() => void decide('approve')}
          >
            {busy === 'approve' ? 'Approving…' : 'Approve'}
          </button>
          <button
            className="jp-mlp-button"
            data-testid="mlp-reject"
            disabled={busy !== null || noReason}
            title={noReason ? 'Give a reason first' : `Leave ${d.alias} where it is`}
            onClick={() => void decide('reject')}
          >
            {busy === 'reject' ? 'Rejecting…' : 'Reject'}
          </button>
        </div>
      ) : (
        <p className="jp-mlp-hint">A project lead approves or rejects this.</p>
      )}
      {error && (
        <div className="jp-mlp-error" data-testid="mlp-approval-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}
