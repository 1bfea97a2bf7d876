import React, { useEffect, useState } from 'react';

import { datasetPolicies } from '../../common/endpoints/datasets';
import { formatApiError } from '../../common/errors';
import { POLICY_ROLES, policyRows, PolicyRow } from '../columnPolicies';

/** A dataset's columns with what each role sees of them (column policies; leads set them: mlp datasets policy). */
export function ColumnPolicies({ slug, dataset }: { slug: string; dataset: string }): JSX.Element | null {
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
  return (
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
  );
}
