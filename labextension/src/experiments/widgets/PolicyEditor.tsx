/**
 * The column policy editor (leads and admins): a column of the dataset, a role and what that role sees of it, saved
 * with one PUT (the backend decides who may, and audits each change). Pure React (no JupyterLab imports), so that
 * jest renders it; the caller passes `onSave`.
 */
import React, { useState } from 'react';

import { currentAction, POLICY_ACTIONS, POLICY_ROLES, policyEditProblem, PolicyRow } from '../columnPolicies';

export function PolicyEditor({
  rows,
  onSave
}: {
  rows: PolicyRow[];
  onSave: (column: string, role: string, action: string) => Promise<void>;
}): JSX.Element | null {
  const [column, setColumn] = useState(rows[0]?.column ?? '');
  const [role, setRole] = useState<string>(POLICY_ROLES[0]);
  const [action, setAction] = useState<string | null>(null); // null: what the role sees now
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  if (rows.length === 0) {
    return null;
  }
  const shown = action ?? currentAction(rows, column, role);
  const problem = policyEditProblem(rows, column, role, shown);
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      await onSave(column, role, shown);
      setAction(null);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="jp-mlp-policy-editor" data-testid="mlp-policy-editor">
      <select
        className="jp-mlp-select"
        aria-label="Column"
        data-testid="mlp-policy-column"
        value={column}
        onChange={e => {
          setColumn(e.target.value);
          setAction(null);
        }}
      >
        {rows.map(r => (
          <option key={r.column} value={r.column}>
            {r.column}
          </option>
        ))}
      </select>
      <select
        className="jp-mlp-select"
        aria-label="Role"
        data-testid="mlp-policy-role"
        value={role}
        onChange={e => {
          setRole(e.target.value);
          setAction(null);
        }}
      >
        {POLICY_ROLES.map(r => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
      <select
        className="jp-mlp-select"
        aria-label="Action"
        data-testid="mlp-policy-action"
        value={shown}
        onChange={e => setAction(e.target.value)}
      >
        {POLICY_ACTIONS.map(a => (
          <option key={a} value={a}>
            {a}
          </option>
        ))}
      </select>
      <button
        className="jp-mlp-button jp-mlp-button-small"
        data-testid="mlp-policy-save"
        disabled={busy || problem !== null}
        title={problem ?? `Set ${column} to ${shown} for ${role}`}
        onClick={() => void save()}
      >
        {busy ? 'Saving…' : 'Save'}
      </button>
      {error && (
        <div className="jp-mlp-error" role="alert" data-testid="mlp-policy-error">
          {error}
        </div>
      )}
    </div>
  );
}
