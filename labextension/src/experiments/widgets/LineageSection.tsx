import React from 'react';

import { Lineage } from '../../common/api';
import { shortHash } from '../../common/runFormat';
import { lineagePolicies } from '../columnPolicies';

function Hash({ value }: { value: string | null | undefined }): JSX.Element {
  return <code title={value ?? undefined}>{shortHash(value)}</code>;
}

/** Where a run came from: notebook, code, environment and data. */
export function LineageSection({ lineage }: { lineage: Lineage | null | undefined }): JSX.Element {
  if (!lineage) {
    return <p className="jp-mlp-hint">This run recorded no lineage.</p>;
  }
  const dirty =
    lineage.git_dirty === null || lineage.git_dirty === undefined
      ? ''
      : lineage.git_dirty
        ? ' (uncommitted changes)'
        : ' (clean)';
  return (
    <div className="jp-mlp-lineage" data-testid="mlp-lineage">
      <table className="jp-mlp-table jp-mlp-kv">
        <tbody>
          <tr>
            <th>Notebook</th>
            <td>{lineage.notebook_path ?? '—'}</td>
          </tr>
          <tr>
            <th>Notebook sha256</th>
            <td>
              <Hash value={lineage.notebook_sha256} />
            </td>
          </tr>
          <tr>
            <th>Git commit</th>
            <td>
              {lineage.git_commit ? (
                <code title={lineage.git_commit}>{lineage.git_commit.slice(0, 10)}</code>
              ) : (
                '—'
              )}
              {lineage.git_commit ? dirty : ''}
            </td>
          </tr>
          <tr>
            <th>Python</th>
            <td>{lineage.python_version ?? '—'}</td>
          </tr>
          <tr>
            <th>Package freeze sha256</th>
            <td>
              <Hash value={lineage.freeze_sha256} />
            </td>
          </tr>
        </tbody>
      </table>
      <h4 className="jp-mlp-heading">Datasets</h4>
      {(lineage.datasets ?? []).length === 0 ? (
        <p className="jp-mlp-hint">No datasets recorded.</p>
      ) : (
        <table className="jp-mlp-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Path</th>
              <th>Version</th>
              <th>Rows</th>
              <th title="Column policies that shaped the rows this run read (its model was trained on them)">
                Column policies
              </th>
            </tr>
          </thead>
          <tbody>
            {(lineage.datasets ?? []).map((d, i) => (
              <tr key={`${d.name}-${i}`}>
                <td>{d.name}</td>
                <td>{d.path ?? '—'}</td>
                <td>
                  {d.snapshot_id ? (
                    <span title="Iceberg snapshot id">snapshot {d.snapshot_id}</span>
                  ) : (
                    <Hash value={d.sha256} />
                  )}
                </td>
                <td>{d.rows ?? '—'}</td>
                <td>{lineagePolicies(d.policies)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
