import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useCallback, useEffect, useState } from 'react';

import { getProject, listModels, ModelPage, Role } from '../../common/api';
import type { ICurrentProject } from '../../common/currentProject';
import { formatApiError } from '../../common/errors';
import { aliasChipClass, aliasEntries, canWriteModels, MODELS_PAGE_SIZE } from '../models';
import { formatTimestamp } from '../../common/runFormat';
import { clampOffset, pageRange } from '../../pipelines/schedules';
import type { IModelsActions } from '../actions';
import { ModelView } from './ModelView';
import { RegisterModelForm } from './RegisterModelForm';

/** The Models main-area panel: the current project's registered models, their versions, gates and decisions. */
export class ModelsPanel extends ReactWidget {
  private readonly _visibility = new Signal<this, boolean>(this);
  private readonly _target = new Signal<this, string>(this);
  private _pending: string | null = null;

  constructor(
    private readonly _store: ICurrentProject,
    private readonly _actions: IModelsActions
  ) {
    super();
    this.addClass('jp-mlp-models');
    this.node.dataset.testid = 'mlp-models';
  }

  /** Select a model of the current project. */
  showModel(name: string): void {
    this._pending = name;
    this._target.emit(name);
  }

  /** The model asked for before the view was first drawn; read once. */
  takePending(): string | null {
    const pending = this._pending;
    this._pending = null;
    return pending;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._visibility.emit(true);
  }

  protected onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this._visibility.emit(false);
  }

  protected render(): JSX.Element {
    return (
      <ModelsView
        panel={this}
        store={this._store}
        actions={this._actions}
        visibility={this._visibility}
        target={this._target}
      />
    );
  }
}

interface IViewProps {
  panel: ModelsPanel;
  store: ICurrentProject;
  actions: IModelsActions;
  visibility: ISignal<ModelsPanel, boolean>;
  target: ISignal<ModelsPanel, string>;
}

function ModelsView({ panel, store, actions, visibility, target }: IViewProps): JSX.Element {
  const [slug, setSlug] = useState(store.get());
  const [selected, setSelected] = useState<string | null>(() => panel.takePending());
  const [role, setRole] = useState<Role | null>(null);
  // Bumped whenever the list may be stale: a version registered, an alias moved, the panel shown again.
  const [listToken, setListToken] = useState(0);
  // Bumped to make the open model reload (the panel came back into view, Refresh).
  const [modelToken, setModelToken] = useState(0);

  useEffect(() => {
    const onProject = (_: ICurrentProject, next: string) => {
      setSlug(next);
      setSelected(null);
    };
    const onVisibility = (_: ModelsPanel, shown: boolean) => {
      if (shown) {
        setListToken(t => t + 1);
        setModelToken(t => t + 1);
      }
    };
    const onTarget = (_: ModelsPanel, name: string) => {
      panel.takePending();
      setSelected(name);
      setListToken(t => t + 1);
    };
    store.changed.connect(onProject);
    visibility.connect(onVisibility);
    target.connect(onTarget);
    return () => {
      store.changed.disconnect(onProject);
      visibility.disconnect(onVisibility);
      target.disconnect(onTarget);
    };
  }, [panel, store, visibility, target]);

  // The caller's role decides what the panel offers; the backend decides anyway.
  useEffect(() => {
    setRole(null);
    if (!slug) {
      return;
    }
    let live = true;
    getProject(slug)
      .then(project => live && setRole(project.role))
      .catch(() => live && setRole('viewer'));
    return () => {
      live = false;
    };
  }, [slug]);

  if (!slug) {
    return (
      <div className="jp-mlp-body jp-mlp-empty-state">
        <h2 className="jp-mlp-title">Models</h2>
        <p>No project is selected. Choose a project in the ML Platform sidebar to see its models.</p>
      </div>
    );
  }
  return (
    <div className="jp-mlp-experiments-body jp-mlp-models-body">
      <header className="jp-mlp-experiments-toolbar">
        <h2 className="jp-mlp-title">Models · {slug}</h2>
        {role && (
          <span className="jp-mlp-hint jp-mlp-models-role" data-testid="mlp-models-role">
            your role: {role}
          </span>
        )}
      </header>
      <div className="jp-mlp-models-top">
        <ModelList
          key={slug}
          slug={slug}
          reloadToken={listToken}
          selected={selected}
          onSelect={name => {
            setSelected(name);
            setModelToken(t => t + 1);
          }}
        />
        {canWriteModels(role) && (
          <RegisterModelForm
            key={`register-${slug}`}
            slug={slug}
            onRegistered={name => {
              setSelected(name);
              setListToken(t => t + 1);
              setModelToken(t => t + 1);
            }}
          />
        )}
      </div>
      {selected && (
        <ModelView
          key={`${slug}/${selected}`}
          slug={slug}
          name={selected}
          role={role}
          reloadToken={modelToken}
          actions={actions}
          onChanged={() => setListToken(t => t + 1)}
          onClose={() => setSelected(null)}
        />
      )}
    </div>
  );
}

function ModelList({
  slug,
  reloadToken,
  selected,
  onSelect
}: {
  slug: string;
  reloadToken: number;
  selected: string | null;
  onSelect: (name: string) => void;
}): JSX.Element {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<ModelPage | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    setBusy(true);
    try {
      const found = await listModels(slug, MODELS_PAGE_SIZE, offset);
      const fixed = clampOffset(offset, found.total, MODELS_PAGE_SIZE);
      if (fixed !== offset) {
        setOffset(fixed); // rows went away under the last page: load the page that has some
        return;
      }
      setPage(found);
      setError(null);
    } catch (err) {
      setError(formatApiError(err));
    } finally {
      setBusy(false);
    }
  }, [slug, offset]);

  useEffect(() => {
    void load();
  }, [load, reloadToken]);

  const total = page?.total ?? 0;
  const shown = page?.items.length ?? 0;
  return (
    <section
      className="jp-mlp-models-list-section"
      data-testid="mlp-models-list"
      aria-busy={busy ? 'true' : 'false'}
    >
      <h3 className="jp-mlp-heading">Registered models</h3>
      {error && (
        <div className="jp-mlp-error" role="alert">
          {error}
        </div>
      )}
      {page && page.items.length === 0 && offset === 0 && (
        <p className="jp-mlp-hint" data-testid="mlp-models-empty">
          No registered models yet. Register a run&apos;s logged model with the form.
        </p>
      )}
      {page && page.items.length > 0 && (
        <table className="jp-mlp-table jp-mlp-models-table" aria-busy={busy ? 'true' : 'false'}>
          <thead>
            <tr>
              <th>Model</th>
              <th>Latest</th>
              <th>Aliases</th>
              <th>Approvals</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map(m => (
              <tr
                key={m.name}
                data-testid="mlp-model-row"
                data-model={m.name}
                className={m.name === selected ? 'jp-mod-selected' : undefined}
                aria-selected={m.name === selected}
                tabIndex={0}
                title={`MLflow name: ${m.mlflow_name}`}
                onClick={() => onSelect(m.name)}
                onKeyDown={e => e.key === 'Enter' && onSelect(m.name)}
              >
                <td className="jp-mlp-model-name">{m.name}</td>
                <td>
                  {m.latest_version === null ? '—' : `v${m.latest_version}`}
                  <span className="jp-mlp-hint"> of {m.versions}</span>
                </td>
                <td>
                  <span className="jp-mlp-alias-chips">
                    {aliasEntries(m.aliases).map(([alias, version]) => (
                      <span
                        key={alias}
                        className={aliasChipClass(alias)}
                        data-alias={alias}
                        data-version={version}
                      >
                        {alias} v{version}
                      </span>
                    ))}
                  </span>
                </td>
                <td>
                  {m.pending_approvals > 0 ? (
                    <span
                      className="jp-mlp-chip jp-mlp-decision-chip jp-mlp-decision-waiting"
                      data-testid="mlp-model-pending"
                      title={`${m.pending_approvals} decision(s) wait for a lead`}
                    >
                      {m.pending_approvals} pending
                    </span>
                  ) : (
                    <span className="jp-mlp-hint">—</span>
                  )}
                </td>
                <td>{formatTimestamp(Date.parse(m.created_at))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="jp-mlp-pager">
        <span data-testid="mlp-models-count">{page ? pageRange(offset, shown, total) : 'Loading…'}</span>
        <span className="jp-mlp-actions">
          <button className="jp-mlp-button jp-mlp-button-small" onClick={() => void load()}>
            Refresh
          </button>
          {total > MODELS_PAGE_SIZE && (
            <>
              <button
                className="jp-mlp-button jp-mlp-button-small"
                disabled={offset === 0}
                onClick={() => setOffset(Math.max(0, offset - MODELS_PAGE_SIZE))}
              >
                ‹ Previous
              </button>
              <button
                className="jp-mlp-button jp-mlp-button-small"
                disabled={offset + shown >= total}
                onClick={() => setOffset(offset + MODELS_PAGE_SIZE)}
              >
                Next ›
              </button>
            </>
          )}
        </span>
      </div>
    </section>
  );
}
