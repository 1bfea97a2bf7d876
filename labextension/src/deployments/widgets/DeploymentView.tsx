import { Clipboard } from '@jupyterlab/apputils';
import React, { useCallback, useEffect, useRef, useState } from 'react';

import {
  deleteDeployment,
  Deployment,
  getDeployment,
  rollbackDeployment,
  Role,
  scaleDeployment,
  switchDeploymentVersion
} from '../../common/api';
import { METRICS_REFRESH_MS } from '../deploymentMetrics';
import {
  BACKEND_PLACEHOLDER,
  canDeploy,
  curlExample,
  exampleNote,
  deploymentStatus,
  describeTarget,
  isStarting,
  statusChipClass,
  workersLabel,
  workerUptime
} from '../deployments';
import { formatApiError } from '../../common/errors';
import { formatTimestamp } from '../../common/runFormat';
import { BatchJobs } from './BatchJobs';
import { DeploymentActivity } from './DeploymentActivity';
import { DeploymentCharts } from './DeploymentCharts';
import { DeploymentControls } from './DeploymentControls';
import { ErrorBanner } from '../../common/panel';

export interface IDeploymentViewProps {
  slug: string;
  name: string;
  role: Role | null;
  /** The panel is on screen: keep the status and the charts fresh. */
  visible: boolean;
  /** Something the list shows changed: a switch, a rollback, new settings. */
  onChanged: () => void;
  onDeleted: () => void;
  onClose: () => void;
  /** Open the Monitoring panel on this deployment (absent: no button). */
  onMonitor?: () => void;
}

/** A counter that goes up every `ms` while `active`: what polls the deployment, its charts and events. */
function useTicker(active: boolean, ms: number): number {
  const [tick, setTick] = useState(0);
  const shown = useRef(false);
  useEffect(() => {
    if (!active) {
      return;
    }
    if (shown.current) {
      setTick(t => t + 1); // back on screen: refresh at once
    }
    shown.current = true;
    const timer = window.setInterval(() => setTick(t => t + 1), ms);
    return () => window.clearInterval(timer);
  }, [active, ms]);
  return tick;
}

/** One deployment: status, version, endpoint, switch and rollback, scaling, charts, batch jobs, events and logs. */
export function DeploymentView({
  slug,
  name,
  role,
  visible,
  onChanged,
  onDeleted,
  onClose,
  onMonitor
}: IDeploymentViewProps): JSX.Element {
  const [deployment, setDeployment] = useState<Deployment | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [working, setWorking] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const tick = useTicker(visible, METRICS_REFRESH_MS);
  // Bumped after this view changed the deployment: events and logs reload.
  const [ownToken, setOwnToken] = useState(0);

  // A failed refresh is said quietly while the last answer stays on screen; the next tick tries again.
  const [stale, setStale] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setDeployment(await getDeployment(slug, name));
      setStale(null);
    } catch (err) {
      setStale(formatApiError(err));
    }
  }, [slug, name]);

  useEffect(() => {
    void load();
  }, [load, tick]);

  /** Run a change, show what it did, and reload what depends on it. */
  const act = async (progress: string, change: () => Promise<Deployment>, said: (d: Deployment) => string) => {
    setWorking(progress);
    setError(null);
    setDone(null);
    try {
      const d = await change();
      setDeployment(d);
      setDone(said(d));
      setOwnToken(t => t + 1);
      onChanged();
    } catch (err) {
      setError(formatApiError(err));
      void load();
    } finally {
      setWorking(null);
    }
  };

  const mayWrite = canDeploy(role);
  const d = deployment;
  const status = d ? deploymentStatus(d.status) : null;
  return (
    <section className="jp-mlp-model jp-mlp-deployment" data-testid="mlp-deployment-view" data-deployment={name}>
      <header className="jp-mlp-header">
        <span className="jp-mlp-model-title">
          <h3 className="jp-mlp-title">{name}</h3>
          {d && status && (
            <>
              <span
                className={statusChipClass(d.status)}
                data-testid="mlp-deployment-status"
                data-status={d.status}
                title={status.title}
              >
                {isStarting(d.status) && <span className="jp-mlp-spinner" aria-hidden="true" />}
                {status.label}
              </span>
              <span data-testid="mlp-deployment-version" data-version={d.version}>
                serves <strong>{d.model}</strong> v{d.version}
              </span>
              {d.previous_version !== null && (
                <span className="jp-mlp-hint">before: v{d.previous_version}</span>
              )}
              <span className="jp-mlp-hint">
                {workersLabel(d)} · batches of up to {d.max_batch} rows
              </span>
            </>
          )}
        </span>
        <span className="jp-mlp-actions">
          {onMonitor && (
            <button
              className="jp-mlp-button jp-mlp-button-small"
              data-testid="mlp-deployment-monitoring"
              title="Drift, performance, alerts and retraining of this deployment"
              onClick={onMonitor}
            >
              Monitoring
            </button>
          )}
          <button className="jp-mlp-button jp-mlp-button-small" aria-label="Close deployment" onClick={onClose}>
            ×
          </button>
        </span>
      </header>
      {d?.message && (
        <div className={d.status === 'ready' ? 'jp-mlp-hint' : 'jp-mlp-error'} role="status">
          {d.message}
        </div>
      )}
      <ErrorBanner error={error} onDismiss={() => setError(null)} testid="mlp-deployment-error" />
      {working && (
        <div className="jp-mlp-progress" role="status">
          <span className="jp-mlp-spinner" aria-hidden="true" />
          {working}
        </div>
      )}
      {done && !working && (
        <div className="jp-mlp-ok" role="status" data-testid="mlp-deployment-done">
          {done}
        </div>
      )}
      {stale && (
        <div className={d ? 'jp-mlp-hint' : 'jp-mlp-error'} role="status">
          {d ? `Could not refresh just now (${stale}); trying again in a few seconds.` : stale}
        </div>
      )}
      {!d && !error && !stale && <div className="jp-mlp-loading">Loading…</div>}
      {d && (
        <>
          <div className="jp-mlp-model-columns">
            <Endpoint deployment={d} />
            {mayWrite && (
              <DeploymentControls
                deployment={d}
                working={working !== null}
                onSwitch={target =>
                  void act(
                    `Starting ${describeTarget(target)} beside v${d.version}; traffic moves when it is ready…`,
                    () => switchDeploymentVersion(slug, name, target),
                    x => `Now serving v${x.version} (was v${x.previous_version ?? d.version}).`
                  )
                }
                onRollback={() =>
                  void act(
                    `Rolling back to v${d.previous_version}…`,
                    () => rollbackDeployment(slug, name),
                    x => `Rolled back: serving v${x.version} again.`
                  )
                }
                onScale={body =>
                  void act(
                    'Saving the worker range and SLA…',
                    () => scaleDeployment(slug, name, body),
                    x => `Workers ${x.min_workers}–${x.max_workers}, SLA ${x.sla_ms} ms.`
                  )
                }
                onDelete={async () => {
                  setWorking(`Stopping ${name}…`);
                  try {
                    await deleteDeployment(slug, name);
                    onDeleted();
                  } catch (err) {
                    setError(formatApiError(err));
                    setWorking(null);
                  }
                }}
              />
            )}
          </div>
          <Workers deployment={d} />
          <DeploymentCharts slug={slug} name={name} tick={tick} />
          <BatchJobs slug={slug} name={name} mayWrite={mayWrite} visible={visible} tick={tick} />
          <DeploymentActivity slug={slug} name={name} tick={tick} reloadToken={ownToken} />
        </>
      )}
    </section>
  );
}

function Endpoint({ deployment: d }: { deployment: Deployment }): JSX.Element {
  const [copied, setCopied] = useState(false);
  const base = d.base_url || BACKEND_PLACEHOLDER;
  const curl = curlExample(d.url, d.base_url, d.example);
  const shaped = exampleNote(d.example);
  return (
    <section className="jp-mlp-deployment-endpoint">
      <h4 className="jp-mlp-heading">Endpoint</h4>
      <table className="jp-mlp-table jp-mlp-kv">
        <tbody>
          <tr>
            <th>MLflow scoring</th>
            <td>
              POST <code data-testid="mlp-deployment-url">{base + d.url}</code>
            </td>
          </tr>
          <tr>
            <th>Open Inference v2</th>
            <td>
              POST <code>{base + d.v2_url}</code>
            </td>
          </tr>
        </tbody>
      </table>
      <div className="jp-mlp-curl">
        <pre data-testid="mlp-deployment-curl">{curl}</pre>
        <button
          className="jp-mlp-button jp-mlp-button-small"
          onClick={() => {
            Clipboard.copyToSystem(curl);
            setCopied(true);
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
      <p className="jp-mlp-hint">
        {d.base_url
          ? 'The backend\'s address as this panel reaches it (a platform admin sets the public one); '
          : `${BACKEND_PLACEHOLDER} is the platform backend's address as the client system reaches it. `}
        {d.example ? 'the example row has the model signature\'s columns. ' : ''}A client sends an API key
        (below) as <code>Authorization: Bearer …</code> or <code>X-API-Key</code>.
      </p>
      {shaped && (
        <p className="jp-mlp-hint" data-testid="mlp-deployment-example-note">
          {shaped}
        </p>
      )}
    </section>
  );
}

function Workers({ deployment: d }: { deployment: Deployment }): JSX.Element {
  if (d.workers.length === 0) {
    return <p className="jp-mlp-hint">No worker is running.</p>;
  }
  return (
    <div className="jp-mlp-workers" data-testid="mlp-workers">
      {d.workers.map(w => (
        <span key={w.index} className="jp-mlp-worker" title={`Started ${formatTimestamp(w.started_at * 1000)}`}>
          worker {w.index} · v{w.version} · pid {w.pid ?? '—'} · {w.inflight} in flight · up{' '}
          {workerUptime(w.uptime_s)}
        </span>
      ))}
    </div>
  );
}
