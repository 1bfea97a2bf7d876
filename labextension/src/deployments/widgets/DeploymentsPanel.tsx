import { ISignal, Signal } from '@lumino/signaling';
import React, { useEffect, useState } from 'react';

import { listDeployments } from '../../common/api';
import type { ICurrentProject } from '../../common/currentProject';
import { NoProject, PanelHeader, ProjectPanel, useProjectPanel, useProjectRole } from '../../common/panel';
import { LIVE_TYPES, useLiveToken } from '../../common/useLiveEvents';
import {
  canDeploy,
  canManageKeys,
  deploymentStatus,
  DEPLOYMENTS_PAGE_SIZE,
  IDeployPrefill,
  statusChipClass,
  workersLabel
} from '../deployments';
import { formatTimestamp } from '../../common/runFormat';
import { IProjectListProps, PagedList, SelectableRow } from '../../common/widgets/PagedSection';
import { ApiKeys } from './ApiKeys';
import { DeployForm } from './DeployForm';
import { DeploymentView } from './DeploymentView';

/** The Deployments main-area panel: endpoints of the current project, their traffic, keys and logs. */
export class DeploymentsPanel extends ProjectPanel<string> {
  private readonly _prefill = new Signal<this, IDeployPrefill>(this);
  private _pendingPrefill: IDeployPrefill | null = null;

  constructor(
    store: ICurrentProject,
    /** Open the Monitoring panel on a deployment (absent: no Monitoring button). */
    private readonly _openMonitoring?: (name: string) => void
  ) {
    super(store, { classes: ['jp-mlp-deployments'], testid: 'mlp-deployments' });
  }

  /** Emits each Deploy form filling asked for while the view is drawn. */
  get prefill(): ISignal<this, IDeployPrefill> {
    return this._prefill;
  }

  /** Fill the Deploy form, e.g. from a model version's Deploy button. */
  showDeployForm(prefill: IDeployPrefill): void {
    this._pendingPrefill = prefill;
    this._prefill.emit(prefill);
  }

  /** Select a deployment of the current project. */
  showDeployment(name: string): void {
    this.showTarget(name);
  }

  /** The form filling asked for before the view was first drawn; read once. */
  takePendingPrefill(): IDeployPrefill | null {
    const pending = this._pendingPrefill;
    this._pendingPrefill = null;
    return pending;
  }

  protected render(): JSX.Element {
    return <DeploymentsView panel={this} openMonitoring={this._openMonitoring} />;
  }
}

function DeploymentsView({
  panel,
  openMonitoring
}: {
  panel: DeploymentsPanel;
  openMonitoring?: (name: string) => void;
}): JSX.Element {
  const [form, setForm] = useState<{ prefill: IDeployPrefill | null; token: number }>(() => ({
    prefill: panel.takePendingPrefill(),
    token: 0
  }));
  // Bumped whenever the list may be stale: a deploy, a switch, a delete, the panel shown again.
  const [listToken, setListToken] = useState(0);
  const [keysToken, setKeysToken] = useState(0);
  const { slug, selected, setSelected, visible } = useProjectPanel(panel, {
    shown: () => {
      setListToken(t => t + 1);
      setKeysToken(t => t + 1);
    },
    target: () => setListToken(t => t + 1)
  });
  const role = useProjectRole(slug);
  // Live updates: a deployment's status changed, or an alias it follows moved.
  const live = useLiveToken(slug, LIVE_TYPES.deployments);
  useEffect(() => {
    if (live > 0) {
      setListToken(t => t + 1);
    }
  }, [live]);

  useEffect(() => {
    const onPrefill = (_: DeploymentsPanel, next: IDeployPrefill) => {
      panel.takePendingPrefill();
      setForm(f => ({ prefill: next, token: f.token + 1 }));
    };
    panel.prefill.connect(onPrefill);
    return () => {
      panel.prefill.disconnect(onPrefill);
    };
  }, [panel]);

  if (!slug) {
    return <NoProject title="Deployments" purpose="see its deployments" />;
  }
  return (
    <div className="jp-mlp-experiments-body jp-mlp-deployments-body">
      <PanelHeader title="Deployments" slug={slug} role={role} />
      <div className="jp-mlp-models-top">
        <DeploymentList
          key={slug}
          slug={slug}
          reloadToken={listToken}
          selected={selected}
          onSelect={setSelected}
        />
        {canDeploy(role) && (
          <DeployForm
            key={`deploy-${slug}-${form.token}`}
            slug={slug}
            prefill={form.prefill}
            focus={form.token > 0}
            onDeployed={name => {
              setSelected(name);
              setListToken(t => t + 1);
            }}
          />
        )}
      </div>
      {selected && (
        <DeploymentView
          key={`${slug}/${selected}`}
          slug={slug}
          name={selected}
          role={role}
          visible={visible}
          onChanged={() => setListToken(t => t + 1)}
          onDeleted={() => {
            setSelected(null);
            setListToken(t => t + 1);
          }}
          onClose={() => setSelected(null)}
          onMonitor={openMonitoring ? () => openMonitoring(selected) : undefined}
        />
      )}
      <ApiKeys
        key={`keys-${slug}`}
        slug={slug}
        mayManage={canManageKeys(role)}
        reloadToken={keysToken + listToken}
        deployment={selected}
      />
    </div>
  );
}

function DeploymentList({ slug, reloadToken, selected, onSelect }: IProjectListProps): JSX.Element {
  return (
    <PagedList
      fetchPage={(limit, at) => listDeployments(slug, limit, at)}
      paging={{ pageSize: DEPLOYMENTS_PAGE_SIZE, source: slug, refresh: reloadToken }}
      sectionClassName="jp-mlp-models-list-section"
      sectionTestId="mlp-deployments-list"
      title="Deployments"
      empty="Nothing is deployed yet. Deploy a model version that passed its gates (staging or champion)."
      emptyTestId="mlp-deployments-empty"
      tableClassName="jp-mlp-models-table"
      columns={['Deployment', 'Status', 'Serves', 'Workers', 'SLA (p95)', 'Updated']}
      row={d => (
        <SelectableRow
          key={d.name}
          selected={d.name === selected}
          onSelect={() => onSelect(d.name)}
          data-testid="mlp-deployment-row"
          data-deployment={d.name}
          data-status={d.status}
        >
          <td className="jp-mlp-model-name">{d.name}</td>
          <td>
            <span className={statusChipClass(d.status)} title={deploymentStatus(d.status).title}>
              {deploymentStatus(d.status).label}
            </span>
          </td>
          <td>
            {d.model} <strong>v{d.version}</strong>
          </td>
          <td>{workersLabel(d)}</td>
          <td>{d.sla_ms} ms</td>
          <td className="jp-mlp-hint">{formatTimestamp(Date.parse(d.updated_at))}</td>
        </SelectableRow>
      )}
    />
  );
}
