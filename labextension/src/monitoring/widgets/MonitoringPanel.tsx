import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useCallback, useEffect, useRef, useState } from 'react';

import { Deployment, getProject, listDeployments, Role } from '../../common/api';
import type { ICurrentProject } from '../../common/currentProject';
import { deploymentStatus, statusChipClass } from '../../deployments/deployments';
import { formatApiError } from '../../common/errors';
import { canManageWebhooks, MONITOR_REFRESH_MS } from '../monitoring';
import { MonitorView } from './MonitorView';
import { Webhooks } from './Webhooks';

/** Deployments offered in the picker (a project rarely has more; the rest are named in a hint). */
const DEPLOYMENT_CHOICES = 100;

/** The Monitoring main-area panel: drift, performance, alerts and retraining of the current project's deployments. */
export class MonitoringPanel extends ReactWidget {
  private readonly _visibility = new Signal<this, boolean>(this);
  private readonly _target = new Signal<this, string>(this);
  private _pendingTarget: string | null = null;

  constructor(private readonly _store: ICurrentProject) {
    super();
    this.addClass('jp-mlp-deployments');
    this.addClass('jp-mlp-monitoring');
    this.node.dataset.testid = 'monitoring-panel';
  }

  /** Select a deployment of the current project. */
  showDeployment(name: string): void {
    this._pendingTarget = name;
    this._target.emit(name);
  }

  /** What was asked for before the view was first drawn; read once. */
  takePending(): string | null {
    const target = this._pendingTarget;
    this._pendingTarget = null;
    return target;
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
    return <MonitoringView panel={this} store={this._store} visibility={this._visibility} target={this._target} />;
  }
}

/** A counter that goes up every `ms` while `active` (and once at once when shown again): what polls the panel. */
export function useTicker(active: boolean, ms: number): number {
  const [tick, setTick] = useState(0);
  const shown = useRef(false);
  useEffect(() => {
    if (!active) {
      return;
    }
    if (shown.current) {
      setTick(t => t + 1);
    }
    shown.current = true;
    const timer = window.setInterval(() => setTick(t => t + 1), ms);
    return () => window.clearInterval(timer);
  }, [active, ms]);
  return tick;
}

interface IViewProps {
  panel: MonitoringPanel;
  store: ICurrentProject;
  visibility: ISignal<MonitoringPanel, boolean>;
  target: ISignal<MonitoringPanel, string>;
}

function MonitoringView({ panel, store, visibility, target }: IViewProps): JSX.Element {
  const [slug, setSlug] = useState(store.get());
  const [selected, setSelected] = useState<string | null>(() => panel.takePending());
  const [role, setRole] = useState<Role | null>(null);
  const [visible, setVisible] = useState(panel.isVisible);
  const tick = useTicker(visible, MONITOR_REFRESH_MS);

  useEffect(() => {
    const onProject = (_: ICurrentProject, next: string) => {
      setSlug(next);
      setSelected(null);
    };
    const onVisibility = (_: MonitoringPanel, shown: boolean) => setVisible(shown);
    const onTarget = (_: MonitoringPanel, name: string) => {
      panel.takePending();
      setSelected(name);
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
        <h2 className="jp-mlp-title">Monitoring</h2>
        <p>No project is selected. Choose a project in the ML Platform sidebar to monitor its deployments.</p>
      </div>
    );
  }
  return (
    <div className="jp-mlp-experiments-body jp-mlp-deployments-body jp-mlp-monitoring-body">
      <header className="jp-mlp-experiments-toolbar">
        <h2 className="jp-mlp-title">Monitoring · {slug}</h2>
        {role && <span className="jp-mlp-hint jp-mlp-models-role">your role: {role}</span>}
      </header>
      <DeploymentPicker key={slug} slug={slug} selected={selected} onSelect={setSelected} tick={tick} />
      {selected && (
        <MonitorView key={`${slug}/${selected}`} slug={slug} name={selected} role={role} tick={tick} />
      )}
      {canManageWebhooks(role) && <Webhooks key={`hooks-${slug}`} slug={slug} />}
    </div>
  );
}

/** The deployments of the project, one chosen; the first is chosen when none is. */
function DeploymentPicker({
  slug,
  selected,
  onSelect,
  tick
}: {
  slug: string;
  selected: string | null;
  onSelect: (name: string) => void;
  tick: number;
}): JSX.Element {
  const [items, setItems] = useState<Deployment[] | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const page = await listDeployments(slug, DEPLOYMENT_CHOICES, 0);
      setItems(page.items);
      setTotal(page.total);
      setError(null);
    } catch (err) {
      setError(formatApiError(err));
    }
  }, [slug]);

  // Loaded when the project changes and every other tick: a retraining moves the served version.
  const slow = Math.floor(tick / 2);
  useEffect(() => {
    void load();
  }, [load, slow]);

  useEffect(() => {
    if (!selected && items && items.length > 0) {
      onSelect(items[0].name);
    }
  }, [selected, items, onSelect]);

  const chosen = items?.find(d => d.name === selected) ?? null;
  const names = items?.map(d => d.name) ?? [];
  if (selected && !names.includes(selected)) {
    names.unshift(selected);
  }
  return (
    <section className="jp-mlp-monitoring-picker" data-testid="monitoring-deployments">
      {error && (
        <div className={items ? 'jp-mlp-hint' : 'jp-mlp-error'} role="status">
          {items ? `Could not refresh the deployments just now (${error}).` : error}
        </div>
      )}
      {items && items.length === 0 && (
        <p className="jp-mlp-hint" data-testid="monitoring-empty">
          Nothing is deployed in this project yet. Deploy a model in the Deployments panel, then watch it here.
        </p>
      )}
      {names.length > 0 && (
        <label className="jp-mlp-monitoring-choice">
          <span className="jp-mlp-heading">Deployment</span>
          <select
            className="jp-mlp-select"
            data-testid="monitoring-deployment"
            aria-label="Deployment to monitor"
            value={selected ?? ''}
            onChange={e => onSelect(e.target.value)}
          >
            {names.map(n => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
          {chosen && (
            <>
              <span className={statusChipClass(chosen.status)} title={deploymentStatus(chosen.status).title}>
                {deploymentStatus(chosen.status).label}
              </span>
              <span>
                serves <strong>{chosen.model}</strong> v{chosen.version}
              </span>
            </>
          )}
          {total > DEPLOYMENT_CHOICES && (
            <span className="jp-mlp-hint">
              the first {DEPLOYMENT_CHOICES} of {total} deployments are listed
            </span>
          )}
        </label>
      )}
    </section>
  );
}
