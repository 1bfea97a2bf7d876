import React, { useEffect, useMemo, useState } from 'react';

import { diffModelVersions, DiffRow, VersionDiff } from '../../common/api';
import { formatApiError } from '../../common/errors';
import { defaultDiffPair } from '../models';
import {
  changedSummary,
  diffLineClass,
  diffLines,
  diffStats,
  diffValueTitle,
  formatDiffValue
} from '../modelsDiff';

type Section = 'params' | 'metrics' | 'data' | 'lineage';

const SECTIONS: { key: Section; title: string }[] = [
  { key: 'params', title: 'Parameters' },
  { key: 'metrics', title: 'Metrics' },
  { key: 'data', title: 'Data snapshots' },
  { key: 'lineage', title: 'Digests' }
];

function DiffTable({
  section,
  title,
  rows,
  a,
  b
}: {
  section: Section;
  title: string;
  rows: DiffRow[];
  a: number;
  b: number;
}): JSX.Element {
  return (
    <div className="jp-mlp-diff-section" data-section={section}>
      <h5 className="jp-mlp-heading">
        {title} <span className="jp-mlp-hint">({changedSummary(rows)})</span>
      </h5>
      {rows.length > 0 && (
        <table className="jp-mlp-table jp-mlp-compare-table">
          <thead>
            <tr>
              <th />
              <th>v{a}</th>
              <th>v{b}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(row => (
              <tr
                key={row.key}
                data-key={row.key}
                data-changed={row.changed ? 'true' : 'false'}
                className={row.changed ? 'jp-mlp-diff' : undefined}
              >
                <th>{row.key}</th>
                <td title={diffValueTitle(row.a)}>{formatDiffValue(row.a, section)}</td>
                <td title={diffValueTitle(row.b)}>{formatDiffValue(row.b, section)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Two versions side by side: parameters, metrics, data snapshots, digests and the stage notebooks' code. */
export function ModelDiff({
  slug,
  name,
  versions
}: {
  slug: string;
  name: string;
  /** The version numbers to choose from, newest first. */
  versions: number[];
}): JSX.Element {
  const first = useMemo(() => defaultDiffPair(versions), [versions]);
  const [pair, setPair] = useState<{ a: number; b: number } | null>(first);
  const [diff, setDiff] = useState<VersionDiff | null>(null);
  const [error, setError] = useState<string | null>(null);

  // A chosen version that is no longer on the page falls back to the default pair.
  useEffect(() => {
    setPair(current =>
      current && versions.includes(current.a) && versions.includes(current.b) ? current : first
    );
  }, [versions, first]);

  useEffect(() => {
    setDiff(null);
    setError(null);
    if (!pair || pair.a === pair.b) {
      return;
    }
    let live = true;
    diffModelVersions(slug, name, pair.a, pair.b)
      .then(found => live && setDiff(found))
      .catch(err => live && setError(formatApiError(err)));
    return () => {
      live = false;
    };
  }, [slug, name, pair]);

  const chooser = (side: 'a' | 'b') => (
    <select
      className="jp-mlp-select"
      data-testid={`mlp-diff-${side}`}
      aria-label={side === 'a' ? 'Left version' : 'Right version'}
      value={pair?.[side] ?? ''}
      disabled={!pair}
      onChange={e => pair && setPair({ ...pair, [side]: Number(e.target.value) })}
    >
      {versions.map(v => (
        <option key={v} value={v}>
          v{v}
        </option>
      ))}
    </select>
  );

  const code = diff ? diffLines(diff.code) : [];
  const stats = diff ? diffStats(diff.code) : null;
  return (
    <section className="jp-mlp-model-diff" data-testid="mlp-diff">
      <div className="jp-mlp-diff-header">
        <h4 className="jp-mlp-heading">Compare versions</h4>
        {chooser('a')}
        <span aria-hidden="true">↔</span>
        {chooser('b')}
      </div>
      {!pair && <p className="jp-mlp-hint">Register a second version to compare two versions.</p>}
      {pair && pair.a === pair.b && <p className="jp-mlp-hint">Choose two different versions.</p>}
      {error && (
        <div className="jp-mlp-error" role="alert">
          {error}
        </div>
      )}
      {pair && pair.a !== pair.b && !diff && !error && <div className="jp-mlp-loading">Loading…</div>}
      {diff && (
        <>
          <div className="jp-mlp-diff-tables">
            {SECTIONS.map(s => (
              <DiffTable
                key={s.key}
                section={s.key}
                title={s.title}
                rows={diff[s.key]}
                a={diff.a}
                b={diff.b}
              />
            ))}
          </div>
          <h5 className="jp-mlp-heading">
            Code of the stage notebooks{' '}
            {stats && (stats.added > 0 || stats.removed > 0) && (
              <span className="jp-mlp-hint">
                (+{stats.added} −{stats.removed})
              </span>
            )}
          </h5>
          <pre className="jp-mlp-code-diff" data-testid="mlp-diff-code">
            {code.map((line, i) => (
              <div key={i} className={diffLineClass(line.kind)}>
                {line.text || ' '}
              </div>
            ))}
          </pre>
        </>
      )}
    </section>
  );
}
