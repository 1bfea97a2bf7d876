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
