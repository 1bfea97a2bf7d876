import React, { useCallback, useEffect, useState } from 'react';

import {
  ApiError,
  evaluateMonitor,
  getMonitor,
  listMonitorWindows,
  MonitorOut,
  MonitorWindowPage,
  putMonitor,
  Role
} from '../../common/api';
import { formatApiError } from '../../common/errors';
import { evaluationWords, IMonitorInput, monitorInput, MonitorField, monitorRequest } from '../forms';
import { canWriteMonitoring, chipClass, firingBanner, driftStatusWords, WINDOWS_PAGE_SIZE } from '../monitoring';
import { METRIC_SHORT, PERF_METRICS } from '../performance';
import { formatTimestamp } from '../../common/runFormat';
import { clampOffset } from '../../common/paging';
import { DriftHeatmap, IWindowFocus } from './DriftHeatmap';
import { AlertsTable, RetrainingsTable } from './MonitorTables';
import { PerformanceCharts } from './PerformanceCharts';
import { ErrorBanner } from '../../common/panel';

/** One deployment's monitor: status and "Check now", the drift heatmap, performance, alerts and retrainings. */
export function MonitorView({
  slug,
  name,
  role,
  tick,
  focusWindow = null
}: {
  slug: string;
  name: string;
  role: Role | null;
  /** Goes up every few seconds while the panel is visible: reload. */
  tick: number;
  /** A window whose drift report to open (a citation asked for it). */
  focusWindow?: IWindowFocus | null;
}): JSX.Element {
  // undefined: loading; null: the deployment has no monitor.
  const [monitor, setMonitor] = useState<MonitorOut | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [stale, setStale] = useState<string | null>(null);
  const [working, setWorking] = useState<string | null>(null);
  const [evaluation, setEvaluation] = useState<string | null>(null);
  const [editing, setEditing] = useState(false);
  // Bumped after this view changed something: every part reloads at once.
  const [ownToken, setOwnToken] = useState(0);

  const load = useCallback(async () => {
    try {
      setMonitor(await getMonitor(slug, name));
      setStale(null);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        setMonitor(null);
        setStale(null);
      } else {
        setStale(formatApiError(err));
      }
    }
  }, [slug, name]);

  useEffect(() => {
    void load();
  }, [load, tick, ownToken]);

  const checkNow = async () => {
    setWorking('Reading new predictions and labels, checking drift and performance…');
    setError(null);
    setEvaluation(null);
    try {
      setEvaluation(evaluationWords(await evaluateMonitor(slug, name)));
      setOwnToken(t => t + 1);
    } catch (err) {
      setError(formatApiError(err));
    } finally {
      setWorking(null);
    }
  };

  const mayWrite = canWriteMonitoring(role);
  const m = monitor;
  return (
    <section className="jp-mlp-model jp-mlp-monitor" data-testid="monitor-view" data-deployment={name}>
      <ErrorBanner error={error} onDismiss={() => setError(null)} testid="monitor-error" />
      {stale && (
        <div className={m ? 'jp-mlp-hint' : 'jp-mlp-error'} role="status">
          {m ? `Could not refresh just now (${stale}); trying again in a few seconds.` : stale}
        </div>
      )}
      {m === undefined && !stale && <div className="jp-mlp-loading">Loading…</div>}
      {m === null && (
        <div className="jp-mlp-monitor-none" data-testid="monitor-none">
          <p className="jp-mlp-hint">
            <strong>{name}</strong> is not monitored yet. A monitor cuts its predictions into windows, compares each
            with the training data (drift per feature) and, as labels arrive, scores it against the validated
            baseline; alerts go to the project&apos;s webhooks.
          </p>
          {mayWrite ? (
            <MonitorForm
              slug={slug}
              name={name}
              monitor={null}
              onSaved={saved => {
                setMonitor(saved);
                setOwnToken(t => t + 1);
              }}
            />
          ) : (
            <p className="jp-mlp-hint">A scientist or lead of the project creates monitors.</p>
          )}
        </div>
      )}
      {m && (
        <>
          <MonitorStatus monitor={m} />
          <div className="jp-mlp-actions jp-mlp-monitor-actions">
            {mayWrite && (
              <button
                className="jp-mlp-button jp-mod-accept"
                data-testid="monitor-check-now"
                disabled={working !== null}
                title="Evaluate now instead of waiting for the sensor: new windows, alerts, webhooks, retraining"
                onClick={() => void checkNow()}
              >
                Check now
              </button>
            )}
            {mayWrite && (
              <button
                className="jp-mlp-button"
                data-testid="monitor-edit-toggle"
                aria-expanded={editing}
                onClick={() => setEditing(e => !e)}
              >
                {editing ? 'Close settings' : 'Settings…'}
              </button>
            )}
            {working && (
              <span className="jp-mlp-progress" role="status">
                <span className="jp-mlp-spinner" aria-hidden="true" />
                {working}
              </span>
            )}
          </div>
          {evaluation && !working && (
            <div className="jp-mlp-ok" role="status" data-testid="monitor-evaluation">
              {evaluation}
            </div>
          )}
          {editing && mayWrite && (
            <MonitorForm
              slug={slug}
              name={name}
              monitor={m}
              onSaved={saved => {
                setMonitor(saved);
                setEditing(false);
                setOwnToken(t => t + 1);
              }}
            />
          )}
          <MonitorWindows slug={slug} name={name} monitor={m} tick={tick} reloadToken={ownToken} focus={focusWindow} />
          <div className="jp-mlp-model-columns">
            <AlertsTable slug={slug} name={name} tick={tick} reloadToken={ownToken} />
            <RetrainingsTable slug={slug} name={name} tick={tick} reloadToken={ownToken} retrain={m.retrain} />
          </div>
        </>
      )}
    </section>
  );
}

/** The monitor's header: drift status, firing alerts, version, window size and pending rows. */
function MonitorStatus({ monitor: m }: { monitor: MonitorOut }): JSX.Element {
  const status = driftStatusWords(m.status, m.status_message);
  const banner = firingBanner(m.firing, m.firing_critical ?? 0);
  const profile = m.profile;
  return (
    <div
      className="jp-mlp-monitor-status"
      data-testid="monitor-status"
      data-status={m.status}
      data-firing={m.firing}
      data-pending={m.pending_rows}
      data-version={m.version}
    >
      {banner && (
        <div
          className={`jp-mlp-firing-banner jp-mlp-tone-${banner.tone}`}
          role="alert"
          data-testid="monitor-firing-banner"
          data-tone={banner.tone}
        >
          {banner.text}
        </div>
      )}
      <div className="jp-mlp-figures">
        <div className="jp-mlp-figure" title={status.title}>
          <span className="jp-mlp-figure-value">
            <span className={chipClass(status.tone)} data-testid="monitor-drift-status">
              {status.label}
            </span>
          </span>
          <span className="jp-mlp-figure-label">drift, newest window</span>
        </div>
        <div
          className={`jp-mlp-figure${m.firing > 0 ? ((m.firing_critical ?? 0) > 0 ? ' jp-mod-bad jp-mod-critical' : ' jp-mod-bad') : ''}`}
          title="Alerts that the newest windows still show"
          data-testid="monitor-firing"
        >
          <span className="jp-mlp-figure-value">{m.firing}</span>
          <span className="jp-mlp-figure-label">firing alert{m.firing === 1 ? '' : 's'}</span>
        </div>
        <div className="jp-mlp-figure" title={`${m.model}, the version the deployment serves now`}>
          <span className="jp-mlp-figure-value">v{m.version}</span>
          <span className="jp-mlp-figure-label">{m.model}</span>
        </div>
        <div className="jp-mlp-figure" title="Predictions per window">
          <span className="jp-mlp-figure-value">{m.window_size}</span>
          <span className="jp-mlp-figure-label">window size</span>
        </div>
        <div className="jp-mlp-figure" title="Predictions of the served version not yet in a full window">
          <span className="jp-mlp-figure-value" data-testid="monitor-pending">
            {m.pending_rows}
          </span>
          <span className="jp-mlp-figure-label">pending rows</span>
        </div>
      </div>
      <p className="jp-mlp-hint">
        {m.enabled ? 'Evaluated' : 'Paused; evaluated'} {m.evaluated_at ? formatTimestamp(Date.parse(m.evaluated_at)) : 'never yet'}
        {' · '}
        {m.retrain ? `retrains on ${m.retrain_on === 'any' ? 'any alert' : `${m.retrain_on} alerts`}` : 'no automatic retraining'}
        {' · '}
        reference:{' '}
        {profile
          ? profile.status === 'ready'
            ? `${profile.rows} rows of ${profile.dataset ?? 'the training data'}`
            : profile.status
          : 'not built yet'}
        {' · '}created by {m.created_by}
      </p>
      {profile?.message && (
        <div className="jp-mlp-error" role="status" data-testid="monitor-profile-message">
          {profile.message}
        </div>
      )}
      {m.message && (
        <p className="jp-mlp-hint" role="status" data-testid="monitor-message">
          {m.message}
        </p>
      )}
    </div>
  );
}

/** The windows (one page, shared by the heatmap and the performance charts). */
function MonitorWindows({
  slug,
  name,
  monitor,
  tick,
  reloadToken,
  focus
}: {
  slug: string;
  name: string;
  monitor: MonitorOut;
  tick: number;
  reloadToken: number;
  focus: IWindowFocus | null;
}): JSX.Element {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<MonitorWindowPage | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    listMonitorWindows(slug, name, WINDOWS_PAGE_SIZE, offset, abort.signal)
      .then(found => {
        const fixed = clampOffset(offset, found.total, WINDOWS_PAGE_SIZE);
        if (fixed !== offset) {
          setOffset(fixed);
          return;
        }
        setPage(found);
        setError(null);
      })
      .catch(err => !abort.signal.aborted && setError(formatApiError(err)));
    return () => abort.abort();
  }, [slug, name, offset, tick, reloadToken]);

  return (
    <>
      {error && (
        <div className={page ? 'jp-mlp-hint' : 'jp-mlp-error'} role="status">
          {page ? `Could not refresh the windows just now (${error}).` : error}
        </div>
      )}
      <DriftHeatmap
        slug={slug}
        name={name}
        monitor={monitor}
        page={page}
        offset={offset}
        onOlder={() => setOffset(offset + WINDOWS_PAGE_SIZE)}
        onNewer={() => setOffset(Math.max(0, offset - WINDOWS_PAGE_SIZE))}
        focus={focus}
      />
      <PerformanceCharts monitor={monitor} windows={page?.items ?? null} />
    </>
  );
}

/** Create a monitor, or change one: window size, retraining, tolerances. */
function MonitorForm({
  slug,
  name,
  monitor,
  onSaved
}: {
  slug: string;
  name: string;
  monitor: MonitorOut | null;
  onSaved: (m: MonitorOut) => void;
}): JSX.Element {
  const [input, setInput] = useState<IMonitorInput>(() => monitorInput(monitor));
  const [errors, setErrors] = useState<Partial<Record<MonitorField, string>>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const creating = monitor === null;

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const checked = monitorRequest(input);
    if ('errors' in checked) {
      setErrors(checked.errors);
      return;
    }
    setErrors({});
    setError(null);
    setBusy(true);
    try {
      onSaved(await putMonitor(slug, name, checked.request));
    } catch (err) {
      setError(formatApiError(err));
    } finally {
      setBusy(false);
    }
  };

  const set = (patch: Partial<IMonitorInput>) => setInput(i => ({ ...i, ...patch }));
  return (
    <form
      className="jp-mlp-monitor-form"
      data-testid={creating ? 'monitor-create' : 'monitor-edit'}
      onSubmit={e => void submit(e)}
    >
      <h4 className="jp-mlp-heading">{creating ? `Monitor ${name}` : 'Monitor settings'}</h4>
      <div className="jp-mlp-inline-form">
        <label className="jp-mlp-field">
          <span>Window size</span>
          <input
            className="jp-mlp-input"
            data-testid="monitor-window-size"
            inputMode="numeric"
            placeholder="platform default"
            value={input.windowSize}
            aria-invalid={errors.window_size ? 'true' : 'false'}
            onChange={e => set({ windowSize: e.target.value })}
          />
        </label>
        <label className="jp-mlp-field" title="Leave empty for windows of a number of predictions">
          <span>Or by time (s)</span>
          <input
            className="jp-mlp-input"
            data-testid="monitor-window-seconds"
            inputMode="numeric"
            placeholder="by count"
            value={input.windowSeconds}
            aria-invalid={errors.window_seconds ? 'true' : 'false'}
            onChange={e => set({ windowSeconds: e.target.value })}
          />
        </label>
        <label className="jp-mlp-field jp-mlp-check">
          <span>Retrain</span>
          <span>
            <input
              type="checkbox"
              data-testid="monitor-retrain"
              checked={input.retrain}
              onChange={e => set({ retrain: e.target.checked })}
            />{' '}
            on alerts
          </span>
        </label>
        <label className="jp-mlp-field">
          <span>on</span>
          <select
            className="jp-mlp-select"
            data-testid="monitor-retrain-on"
            value={input.retrainOn}
            disabled={!input.retrain}
            onChange={e => set({ retrainOn: e.target.value as IMonitorInput['retrainOn'] })}
          >
            <option value="any">any alert</option>
            <option value="drift">drift alerts</option>
            <option value="performance">performance alerts</option>
          </select>
        </label>
        <label className="jp-mlp-field">
          <span>Cooldown (s)</span>
          <input
            className="jp-mlp-input"
            data-testid="monitor-cooldown"
            inputMode="numeric"
            value={input.cooldownS}
            disabled={!input.retrain}
            aria-invalid={errors.cooldown_s ? 'true' : 'false'}
            onChange={e => set({ cooldownS: e.target.value })}
          />
        </label>
        {!creating && (
          <label className="jp-mlp-field jp-mlp-check">
            <span>Enabled</span>
            <span>
              <input
                type="checkbox"
                data-testid="monitor-enabled"
                checked={input.enabled}
                onChange={e => set({ enabled: e.target.checked })}
              />{' '}
              evaluate
            </span>
          </label>
        )}
      </div>
      <div className="jp-mlp-inline-form">
        {PERF_METRICS.map(metric => (
          <label key={metric} className="jp-mlp-field">
            <span>{METRIC_SHORT[metric]} tolerance</span>
            <input
              className="jp-mlp-input"
              data-testid={`monitor-tolerance-${metric}`}
              inputMode="decimal"
              placeholder={metric === 'rmse' ? '10% of baseline' : '0.05'}
              value={input.tolerance[metric]}
              aria-invalid={errors[`tolerance.${metric}`] ? 'true' : 'false'}
              onChange={e => set({ tolerance: { ...input.tolerance, [metric]: e.target.value } })}
            />
          </label>
        ))}
      </div>
      <p className="jp-mlp-hint">
        A tolerance is the loss allowed against the validated baseline before a performance alert fires (empty: the
        default). Retraining reruns the pipeline that produced the served version, as you; only a version that passes
        its gates is deployed.
      </p>
      {Object.values(errors).map(text => (
        <div key={text} className="jp-mlp-field-error">
          {text}
        </div>
      ))}
      {error && (
        <div className="jp-mlp-error" role="alert" data-testid="monitor-form-error">
          {error}
        </div>
      )}
      <div className="jp-mlp-actions">
        <button type="submit" className="jp-mlp-button jp-mod-accept" data-testid="monitor-save" disabled={busy}>
          {creating ? 'Create monitor' : 'Save'}
        </button>
        {busy && (
          <span className="jp-mlp-progress" role="status">
            <span className="jp-mlp-spinner" aria-hidden="true" />
            Profiling the training data and calibrating the thresholds…
          </span>
        )}
      </div>
    </form>
  );
}
