import React, { useEffect, useState } from 'react';

import { fetchModelCardMarkdown, getModelCard, ModelCard, ModelCardCitation } from '../../common/api';
import { formatApiError } from '../../common/errors';
import type { IModelsActions } from '../actions';

/** Save text as a file through the browser (the card's Markdown). */
function download(filename: string, body: string, type: string): void {
  const url = URL.createObjectURL(new Blob([body], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** How a citation reads on its chip: its type and id (and the event or file it names). */
export function citationText(c: ModelCardCitation): string {
  const extra = c.event !== null && c.event !== undefined ? ` event ${c.event}` : c.file ? ` ${c.file}` : '';
  return `${c.type} ${c.id}${extra}`;
}

/**
 * A version's model card, made by the backend from the records: every statement with its citation chips (a cited
 * run opens in Experiments). Record text is rendered as text, never as markup.
 */
export function ModelCardView({
  slug,
  name,
  version,
  actions,
  onClose
}: {
  slug: string;
  name: string;
  version: number;
  actions: IModelsActions;
  onClose: () => void;
}): JSX.Element {
  const [card, setCard] = useState<ModelCard | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    setCard(null);
    setError(null);
    getModelCard(slug, name, version)
      .then(c => live && setCard(c))
      .catch(err => live && setError(formatApiError(err)));
    return () => {
      live = false;
    };
  }, [slug, name, version]);

  const saveMarkdown = async () => {
    try {
      download(`${name}-v${version}-card.md`, await fetchModelCardMarkdown(slug, name, version), 'text/markdown');
    } catch (err) {
      setError(formatApiError(err));
    }
  };

  return (
    <div className="jp-mlp-model-card" data-testid="mlp-model-card-section" data-version={version}>
      <div className="jp-mlp-diff-header">
        <h4 className="jp-mlp-heading">
          Model card · {name} v{version}
        </h4>
        <span className="jp-mlp-hint">from the records, every statement cited</span>
        <button
          className="jp-mlp-button jp-mlp-button-small"
          data-testid="mlp-model-card-markdown"
          onClick={() => void saveMarkdown()}
        >
          Download Markdown
        </button>
        <button className="jp-mlp-button jp-mlp-button-small" aria-label="Close model card" onClick={onClose}>
          ×
        </button>
      </div>
      {error && (
        <div className="jp-mlp-error" role="alert">
          {error}
        </div>
      )}
      {!card && !error && (
        <div className="jp-mlp-progress" role="status">
          <span className="jp-mlp-spinner" aria-hidden="true" />
          Reading the records…
        </div>
      )}
      {card && (
        <div className="jp-mlp-model-card-body" data-testid="mlp-model-card">
          <p className="jp-mlp-hint">
            Generated at {card.generated_at}. Every statement cites the record it comes from; what the records do
            not say is marked as not stated.
          </p>
          {card.sections.map(s => (
            <section key={s.id} data-section={s.id}>
              <h5 className="jp-mlp-model-card-title">{s.title}</h5>
              <ul>
                {s.statements.map((st, i) => (
                  <li key={i}>
                    {st.text}
                    {st.citations.map((c, j) =>
                      c.type === 'run' ? (
                        <button
                          key={j}
                          className="jp-mlp-card-cite jp-mlp-link"
                          data-type={c.type}
                          data-id={c.id}
                          title={`Show run ${c.id} in Experiments`}
                          onClick={() => actions.openMlflowRun(c.id)}
                        >
                          {citationText(c)}
                        </button>
                      ) : (
                        <span key={j} className="jp-mlp-card-cite" data-type={c.type} data-id={c.id}>
                          {citationText(c)}
                        </span>
                      )
                    )}
                  </li>
                ))}
              </ul>
            </section>
          ))}
        </div>
      )}
    </div>
  );
}
