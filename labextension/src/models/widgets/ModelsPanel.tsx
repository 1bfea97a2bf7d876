import React, { useEffect, useState } from 'react';

import { listModels } from '../../common/api';
import type { ICurrentProject } from '../../common/currentProject';
import { NoProject, PanelHeader, ProjectPanel, useProjectPanel, useProjectRole } from '../../common/panel';
import { LIVE_TYPES, useLiveToken } from '../../common/useLiveEvents';
import { aliasChipClass, aliasEntries, canWriteModels, MODELS_PAGE_SIZE } from '../models';
import { formatTimestamp } from '../../common/runFormat';
import { IProjectListProps, PagedList, SelectableRow } from '../../common/widgets/PagedSection';
import type { IModelsActions } from '../actions';
import { IVersionFocus, ModelView } from './ModelView';
import { RegisterModelForm } from './RegisterModelForm';

/** The Models main-area panel: the current project's registered models, their versions, gates and decisions. */
export class ModelsPanel extends ProjectPanel<string> {
  constructor(
    store: ICurrentProject,
    private readonly _actions: IModelsActions
  ) {
    super(store, { classes: ['jp-mlp-models'], testid: 'mlp-models' });
  }

  private _version: (IVersionFocus & { model: string }) | null = null;

  /** Select a model of the current project, and single out one of its versions when `version` is set. */
  showModel(name: string, version?: number): void {
    this._version = version === undefined ? null : { model: name, version };
    this.showTarget(name);
  }

  /** The version asked for with the last model; read once. */
  takeVersion(): (IVersionFocus & { model: string }) | null {
    const focus = this._version;
    this._version = null;
    return focus;
  }

  protected render(): JSX.Element {
    return <ModelsView panel={this} actions={this._actions} />;
  }
}

function ModelsView({ panel, actions }: { panel: ModelsPanel; actions: IModelsActions }): JSX.Element {
  // Bumped whenever the list may be stale: a version registered, an alias moved, the panel shown again.
  const [listToken, setListToken] = useState(0);
  // Bumped to make the open model reload (the panel came back into view, Refresh).
  const [modelToken, setModelToken] = useState(0);
  // The version a command asked for, with its model (dropped when another model is picked).
  const [focus, setFocus] = useState(() => panel.takeVersion());
  const { slug, selected, setSelected } = useProjectPanel(panel, {
    shown: () => {
      setListToken(t => t + 1);
      setModelToken(t => t + 1);
    },
    target: () => {
      setFocus(panel.takeVersion());
      setListToken(t => t + 1);
    }
  });
  const role = useProjectRole(slug);
  // Live updates: a version registered, an alias moved, a gate or approval decided (by anyone) reloads both.
  const live = useLiveToken(slug, LIVE_TYPES.models);
  useEffect(() => {
    if (live > 0) {
      setListToken(t => t + 1);
      setModelToken(t => t + 1);
    }
  }, [live]);

  if (!slug) {
    return <NoProject title="Models" purpose="see its models" />;
  }
  return (
    <div className="jp-mlp-experiments-body jp-mlp-models-body">
      <PanelHeader title="Models" slug={slug} role={role} roleTestId="mlp-models-role" />
      <div className="jp-mlp-models-top">
        <ModelList
          key={slug}
          slug={slug}
          reloadToken={listToken}
          selected={selected}
          onSelect={name => {
            setSelected(name);
            setFocus(null);
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
          focus={focus?.model === selected ? focus : null}
          reloadToken={modelToken}
          actions={actions}
          onChanged={() => setListToken(t => t + 1)}
          onClose={() => setSelected(null)}
        />
      )}
    </div>
  );
}

function ModelList({ slug, reloadToken, selected, onSelect }: IProjectListProps): JSX.Element {
  return (
    <PagedList
      fetchPage={(limit, at) => listModels(slug, limit, at)}
      paging={{ pageSize: MODELS_PAGE_SIZE, source: slug, refresh: reloadToken }}
      sectionClassName="jp-mlp-models-list-section"
      sectionTestId="mlp-models-list"
      title="Registered models"
      empty="No registered models yet. Register a run's logged model with the form."
      emptyTestId="mlp-models-empty"
      tableClassName="jp-mlp-models-table"
      countTestId="mlp-models-count"
      columns={['Model', 'Latest', 'Aliases', 'Approvals', 'Created']}
      row={m => (
        <SelectableRow
          key={m.name}
          selected={m.name === selected}
          onSelect={() => onSelect(m.name)}
          data-testid="mlp-model-row"
          data-model={m.name}
          title={`MLflow name: ${m.mlflow_name}`}
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
        </SelectableRow>
      )}
    />
  );
}
