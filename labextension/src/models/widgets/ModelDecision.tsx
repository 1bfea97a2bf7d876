import React from 'react';

import type { GateDecision } from '../../common/api';
import {
  decisionChipClass,
  decisionHeadline,
  decisionStatusLabel,
  decisionTone,
  evaluationSummary,
  gateResults
} from '../models';
import { formatMetric, formatTimestamp } from '../../common/runFormat';

/** Each gate's result: a green tick or a red cross, and what it found. */
export function GateResultList({ evidence }: { evidence: GateDecision['evidence'] }): JSX.Element {
  const results = gateResults(evidence);
  if (results.length === 0) {
    return <p className="jp-mlp-hint">No gate results were recorded.</p>;
  }
  return (
    <ul className="jp-mlp-gate-results" data-testid="mlp-gate-results">
      {results.map((r, i) => (
        <li
          key={i}
          className={r.passed ? 'jp-mlp-gate-passed' : 'jp-mlp-gate-failed'}
          data-gate={r.gate}
          data-passed={r.passed ? 'true' : 'false'}
        >
          <span className="jp-mlp-gate-mark" aria-label={r.passed ? 'passed' : 'failed'}>
            {r.passed ? '✓' : '✗'}
          </span>
          <span className="jp-mlp-gate-name">{r.label}</span>
          <span className="jp-mlp-gate-message">{r.message}</span>
        </li>
      ))}
    </ul>
  );
}

/** The metrics the evaluation computed, challenger beside champion. */
export function EvaluationTable({ evidence }: { evidence: GateDecision['evidence'] }): JSX.Element | null {
  const ev = evaluationSummary(evidence);
  if (!ev) {
    return null;
  }
  return (
    <div className="jp-mlp-evaluation" data-testid="mlp-decision-evaluation">
      <p className="jp-mlp-hint">
        Scored on <code>{ev.dataset}</code>
        {ev.snapshotId ? ` @ snapshot ${ev.snapshotId}` : ''}
        {ev.rows !== null ? `, ${ev.rows} rows` : ''}, label <code>{ev.target}</code>
      </p>
      {ev.metrics.length > 0 && (
        <table className="jp-mlp-table jp-mlp-evaluation-table">
          <thead>
            <tr>
              <th>Metric</th>
              <th>Challenger</th>
              {ev.hasChampion && <th>Champion</th>}
            </tr>
          </thead>
          <tbody>
            {ev.metrics.map(row => (
              <tr key={row.metric} data-metric={row.metric}>
                <th>{row.metric}</th>
                <td>{formatMetric(row.challenger)}</td>
                {ev.hasChampion && <td>{formatMetric(row.champion)}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** A gate decision: what it means, each gate's result and the evaluation's metrics. */
export function ModelDecision({
  decision,
  onClose
}: {
  decision: GateDecision;
  onClose?: () => void;
}): JSX.Element {
  const d = decision;
  return (
    <section
      className={`jp-mlp-decision jp-mlp-decision-box-${decisionTone(d.status)}`}
      data-testid="mlp-decision"
      data-status={d.status}
      data-decision={d.id}
      role="status"
    >
      <header className="jp-mlp-decision-header">
        <span className={decisionChipClass(d.status)}>{decisionStatusLabel(d.status)}</span>
        <strong className="jp-mlp-decision-headline">{decisionHeadline(d)}</strong>
        {onClose && (
          <button
            className="jp-mlp-button jp-mlp-button-small"
            aria-label="Close decision"
            onClick={onClose}
          >
            ×
          </button>
        )}
      </header>
      <p className="jp-mlp-hint">
        Decision #{d.id}: v{d.version} → {d.alias}, asked by {d.requested_by} at{' '}
        {formatTimestamp(Date.parse(d.created_at))}
        {d.decided_at && d.decided_by && d.decided_by !== 'gates'
          ? `; decided by ${d.decided_by} at ${formatTimestamp(Date.parse(d.decided_at))}`
          : ''}
        {d.reason ? ` — “${d.reason}”` : ''}
      </p>
      <GateResultList evidence={d.evidence} />
      <EvaluationTable evidence={d.evidence} />
    </section>
  );
}
