import React, { useEffect, useState } from 'react';

import { datasetPolicies, setDatasetPolicy } from '../../common/endpoints/datasets';
import { formatApiError } from '../../common/errors';
import { canEditPolicies, POLICY_ROLES, policyRows, PolicyRow } from '../columnPolicies';
import { PolicyEditor } from './PolicyEditor';

/**
 * A dataset's columns with what each role sees of them (column policies); leads and admins change them here (or
 * with mlp datasets policy), everyone else reads them.
 */
export function ColumnPolicies({
  slug,
  dataset,
  role
}: {
  slug: string;
  dataset: string;
  role?: string | null;
}): JSX.Element | null {
  const [rows, setRows] = useState<PolicyRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setRows(null);
    setError(null);
    if (!dataset) {
      return;
    }
    let live = true;
    datasetPolicies(slug, dataset)
      .then(body => live && setRows(policyRows(body)))
      .catch(err => live && setError(formatApiError(err)));
    return () => {
      live = false;
    };
  }, [slug, dataset]);

  if (error) {
    return <div className="jp-mlp-error">{error}</div>;
  }
  if (rows === null) {
    return null;
  }
  const save = async (column: string, forRole: string, action: string) => {
    try {
      const body = await setDatasetPolicy(slug, dataset, {
        column,
        role: forRole as (typeof POLICY_ROLES)[number],
        action: action as 'allow' | 'mask' | 'hash' | 'deny'
      });
      setRows(policyRows(body));
    } catch (err) {
      throw new Error(formatApiError(err));
    }
  };
  return (
    <>
      <table className="jp-mlp-table" data-testid="mlp-column-policies">
        <thead>
          <tr>
            <th>Column</th>
            {POLICY_ROLES.map(r => (
              <th key={r}>{r}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map(r => (
            <tr key={r.column} className={r.shaped ? 'jp-mlp-policy-shaped' : undefined}>
              <td title={r.inSchema ? undefined : 'no longer in the current schema'}>
                {r.column}
                {r.inSchema ? '' : ' (gone)'}
              </td>
              {r.actions.map((a, i) => (
                <td key={POLICY_ROLES[i]}>{a}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {canEditPolicies(role) && <PolicyEditor key={dataset} rows={rows} onSave={save} />}
    </>
  );
}
