import React, { useCallback, useEffect, useState } from 'react';

import { Deployment, listDeployments } from '../../common/api';
import type { ICurrentProject } from '../../common/currentProject';
import { NoProject, PanelHeader, ProjectPanel, useProjectPanel, useProjectRole, useTicker } from '../../common/panel';
import { LIVE_TYPES, useLiveToken } from '../../common/useLiveEvents';
import { deploymentStatus, statusChipClass } from '../../deployments/deployments';
import { formatApiError } from '../../common/errors';
import { canManageWebhooks, MONITOR_REFRESH_MS } from '../monitoring';
import type { IWindowFocus } from './DriftHeatmap';
import { MonitorView } from './MonitorView';
import { Webhooks } from './Webhooks';

/** Deployments offered in the picker (a project rarely has more; the rest are named in a hint). */
const DEPLOYMENT_CHOICES = 100;

/** The Monitoring main-area panel: drift, performance, alerts and retraining of the current project's deployments. */
export class MonitoringPanel extends ProjectPanel<string> {
  constructor(store: ICurrentProject) {
    super(store, { classes: ['jp-mlp-deployments', 'jp-mlp-monitoring'], testid: 'monitoring-panel' });
  }

  private _window: IWindowFocus | null = null;

  /** Select a deployment of the current project, and open one of its windows' drift report when `window` is set. */
  showDeployment(name: string, window?: number): void {
    this._window = window === undefined ? null : { window };
    this.showTarget(name);
  }

  /** The window asked for with the last deployment; read once. */
  takeWindow(): IWindowFocus | null {
    const focus = this._window;
    this._window = null;
    return focus;
  }

  protected render(): JSX.Element {
    return <MonitoringView panel={this} />;
  }
}

function MonitoringView({ panel }: { panel: MonitoringPanel }): JSX.Element {
  const [focus, setFocus] = useState<IWindowFocus | null>(() => panel.takeWindow());
  const { slug, selected, setSelected, visible } = useProjectPanel(panel, {
    target: () => setFocus(panel.takeWindow())
  });
  const role = useProjectRole(slug);
  // Polled while on screen, and at once when an alert fires or resolves, a retraining starts or ends, or a
  // deployment's status changes (live updates). Twice the live count: the slow half of the refresh follows too.
  const tick = useTicker(visible, MONITOR_REFRESH_MS) + 2 * useLiveToken(slug, LIVE_TYPES.monitoring);

  if (!slug) {
    return <NoProject title="Monitoring" purpose="monitor its deployments" />;
  }
  return (
    <div className="jp-mlp-experiments-body jp-mlp-deployments-body jp-mlp-monitoring-body">
      <PanelHeader title="Monitoring" slug={slug} role={role} />
      <DeploymentPicker key={slug} slug={slug} selected={selected} onSelect={setSelected} tick={tick} />
      {selected && (
        <MonitorView
          key={`${slug}/${selected}`}
          slug={slug}
          name={selected}
          role={role}
          tick={tick}
          focusWindow={focus}
        />
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
