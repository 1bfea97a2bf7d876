/**
 * Column policies as the panel shows them: a dataset's columns with what each role sees of each (issue 20 item 1),
 * and the policies that shaped a run's dataset read, from its lineage. Pure functions; the widgets draw them.
 */
import type { DatasetPolicies } from '../common/endpoints/datasets';

export const POLICY_ROLES = ['viewer', 'stakeholder', 'scientist', 'lead', 'admin'] as const;

export interface PolicyRow {
  column: string;
  /** False: the column is gone from the dataset's current schema; its policy stays. */
  inSchema: boolean;
  /** One per role of POLICY_ROLES: allow (not set), mask, hash or deny. */
  actions: string[];
  /** Whether any role sees less than the values. */
  shaped: boolean;
}

/** One row per column, the roles in POLICY_ROLES's order; a role with no policy reads 'allow'. */
export function policyRows(body: DatasetPolicies): PolicyRow[] {
  return body.columns.map(c => {
    const actions = POLICY_ROLES.map(r => c.policies[r] ?? 'allow');
    return { column: c.name, inSchema: c.in_schema, actions, shaped: actions.some(a => a !== 'allow') };
  });
}

/**
 * The policies recorded with a dataset read in a run's lineage ("credit.ssn:viewer=mask") in words:
 * "ssn masked, customer hashed"; '—' when none shaped the read.
 */
export function lineagePolicies(policies?: string[] | null): string {
  if (!policies || policies.length === 0) {
    return '—';
  }
  const words: Record<string, string> = { mask: 'masked', hash: 'hashed', deny: 'denied', allow: 'allowed' };
  return policies
    .map(p => {
      const m = /^[^.]+\.(.+):[a-z]+=([a-z]+)$/.exec(p);
      return m ? `${m[1]} ${words[m[2]] ?? m[2]}` : p;
    })
    .join(', ');
}

export const POLICY_ACTIONS = ['allow', 'mask', 'hash', 'deny'] as const;

export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/** Whether the panel offers to change policies: leads and admins (the backend decides: datasets.policy). */
export function canEditPolicies(role: string | null | undefined): boolean {
  return role === 'lead' || role === 'admin';
}

/** The current action of a column for a role, 'allow' when none is set (or the column is not listed). */
export function currentAction(rows: PolicyRow[], column: string, role: string): string {
  const row = rows.find(r => r.column === column);
  const i = POLICY_ROLES.indexOf(role as (typeof POLICY_ROLES)[number]);
  return row && i >= 0 ? row.actions[i] : 'allow';
}

/**
 * What stops the editor's Save: a missing column, role or action, an unknown role or action, or a change that
 * changes nothing. Null when the PUT may go.
 */
export function policyEditProblem(rows: PolicyRow[], column: string, role: string, action: string): string | null {
  if (!column.trim()) {
    return 'Choose a column';
  }
  if (!(POLICY_ROLES as readonly string[]).includes(role)) {
    return 'Choose a role';
  }
  if (!(POLICY_ACTIONS as readonly string[]).includes(action)) {
    return 'Choose allow, mask, hash or deny';
  }
  if (currentAction(rows, column.trim(), role) === action) {
    return `${role} already sees ${column.trim()} as ${action}`;
  }
  return null;
}
