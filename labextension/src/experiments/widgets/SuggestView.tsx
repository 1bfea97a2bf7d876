import { Clipboard } from '@jupyterlab/apputils';
import React, { useEffect, useState } from 'react';

import type { DatasetChoice } from '../../common/apiSchemas';
import { listDatasets } from '../../common/endpoints/deployments';
import { suggest, Suggestion } from '../../common/endpoints/recommender';
import { formatApiError } from '../../common/errors';
import { useProjectRole } from '../../common/panel';
import { evidenceChips, optunaSnippet, spaceLines, suggestFormProblem } from '../suggestion';
import { ColumnPolicies } from './ColumnPolicies';

/** The Suggest pane: pick a dataset snapshot and a target, see the ranked families with their evidence. */
export function SuggestView({
  slug,
  onOpenRun,
  onClose
}: {
  slug: string;
  onOpenRun: (runId: string) => void;
  onClose: () => void;
}): JSX.Element {
  const [datasets, setDatasets] = useState<DatasetChoice[] | null>(null);
  const [dataset, setDataset] = useState('');
  const [snapshot, setSnapshot] = useState('');
  const [target, setTarget] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<Suggestion | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const role = useProjectRole(slug);

  useEffect(() => {
    listDatasets(slug)
      .then(items => {
        setDatasets(items);
        if (items.length > 0) {
          setDataset(items[0].name);
        }
      })
      .catch(err => setError(formatApiError(err)));
  }, [slug]);

  const snapshots = datasets?.find(d => d.name === dataset)?.snapshots ?? [];
  const problem = suggestFormProblem(dataset, target);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await suggest(slug, dataset, target.trim(), snapshot || undefined));
    } catch (err) {
      setError(formatApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="jp-mlp-side jp-mlp-suggest" data-testid="mlp-suggest">
      <header className="jp-mlp-header">
        <h3 className="jp-mlp-title">Suggest</h3>
        <button className="jp-mlp-button jp-mlp-button-small" aria-label="Close suggestions" onClick={onClose}>
          ×
        </button>
      </header>
      <div className="jp-mlp-suggest-form">
        <label>
          Dataset{' '}
          <select
            className="jp-mlp-input"
            data-testid="mlp-suggest-dataset"
            value={dataset}
            onChange={e => {
              setDataset(e.target.value);
              setSnapshot('');
            }}
          >
            {(datasets ?? []).map(d => (
              <option key={d.name} value={d.name}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Snapshot{' '}
          <select
            className="jp-mlp-input"
            data-testid="mlp-suggest-snapshot"
            value={snapshot}
            onChange={e => setSnapshot(e.target.value)}
          >
            <option value="">current</option>
            {snapshots.map(s => (
              <option key={s.snapshot_id} value={s.snapshot_id}>
                {s.snapshot_id} ({new Date(s.timestamp_ms).toISOString().slice(0, 16).replace('T', ' ')})
              </option>
            ))}
          </select>
        </label>
        <label>
          Target{' '}
          <input
            className="jp-mlp-input"
            data-testid="mlp-suggest-target"
            placeholder="column to predict"
            value={target}
            onChange={e => setTarget(e.target.value)}
          />
        </label>
        <button
          className="jp-mlp-button"
          data-testid="mlp-suggest-run"
          disabled={busy || problem !== null}
          title={problem ?? 'Suggest model families for this dataset'}
          onClick={() => void run()}
        >
          {busy ? 'Suggesting…' : 'Suggest'}
        </button>
        {datasets !== null && datasets.length === 0 && (
          <div className="jp-mlp-muted">This project has no datasets yet (jupyter_mlp.datasets.register).</div>
        )}
      </div>
      {dataset && (
        <details className="jp-mlp-suggest-columns">
          <summary>Columns and what each role sees of them</summary>
          <ColumnPolicies slug={slug} dataset={dataset} role={role} />
        </details>
      )}
      {error && (
        <div className="jp-mlp-error" role="alert" data-testid="mlp-suggest-error">
          {error}
        </div>
      )}
      {result && (
        <ol className="jp-mlp-suggest-families" data-testid="mlp-suggest-families">
          {result.families.map(f => (
            <li key={f.family} data-family={f.family}>
              <div className="jp-mlp-suggest-family">
                <strong title={`ranker score ${f.score}`}>{f.family}</strong>{' '}
                <button
                  className="jp-mlp-button jp-mlp-button-small"
                  data-testid="mlp-suggest-copy"
                  title="Copy the search space as Optuna distributions"
                  onClick={() => {
                    Clipboard.copyToSystem(optunaSnippet(f, result.suggestion_id));
                    setCopied(f.family);
                  }}
                >
                  {copied === f.family ? 'Copied' : 'Copy search space'}
                </button>
              </div>
              <ul className="jp-mlp-suggest-space">
                {spaceLines(f.search_space).map(line => (
                  <li key={line}>
                    <code>{line}</code>
                  </li>
                ))}
              </ul>
              <div className="jp-mlp-suggest-evidence">
                {evidenceChips(f.evidence).map((chip, i) =>
                  chip.run && chip.run.project === slug ? (
                    <button
                      key={i}
                      className="jp-mlp-chip jp-mlp-chip-link"
                      data-testid="mlp-suggest-chip"
                      data-id={chip.run.id}
                      title={chip.title}
                      onClick={() => onOpenRun(chip.run!.id)}
                    >
                      {chip.label}
                    </button>
                  ) : (
                    <span key={i} className="jp-mlp-chip" data-testid="mlp-suggest-chip" title={chip.title}>
                      {chip.label}
                    </span>
                  )
                )}
              </div>
              {f.preprocessing.length > 0 && (
                <div className="jp-mlp-muted">
                  Preprocessing: {f.preprocessing.map(s => `${s.sklearn} (${s.why})`).join('; ')}
                </div>
              )}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
