import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import type { ShipOut, ShipPlan, ShipPlanOut, ShipStep } from '../../common/endpoints/ship';
import { formatApiError } from '../../common/errors';
import { numberField, parameterText, parameterValue, shipEnded, stepLine, stepLink, STEP_TITLES } from '../ship';

export type ShipPanel = 'pipelines' | 'models' | 'deployments' | 'monitoring';

/** What the Ship dialog shows and does. */
export interface IShipDialogProps {
  path: string;
  project: string;
  planned: ShipPlanOut;
  start: (plan: ShipPlan) => Promise<ShipOut>;
  poll: (shipId: string) => Promise<ShipOut>;
  open: (panel: ShipPanel, args: Record<string, string | number>) => void;
  /** Milliseconds between two reads of the Ship's progress. */
  every?: number;
}

/**
 * The body of the Ship dialog: the whole plan, every default editable; then one progress view of every step with
 * links into the panels, a clear stop with the reason, and at the end the endpoint, its API key (shown once) and
 * requests to copy.
 */
export class ShipDialogBody extends ReactWidget {
  constructor(private readonly _props: IShipDialogProps) {
    super();
    this.addClass('jp-mlp-ship');
    this.node.dataset.testid = 'mlp-ship-dialog';
  }

  protected render(): JSX.Element {
    return <ShipView {...this._props} />;
  }
}

function Field(props: {
  label: string;
  value: string | number;
  onChange: (v: string) => void;
  testid: string;
  type?: string;
  title?: string;
}): JSX.Element {
  return (
    <label className="jp-mlp-field" title={props.title}>
      <span>{props.label}</span>
      <input
        className="jp-mlp-input"
        data-testid={props.testid}
        type={props.type ?? 'text'}
        value={props.value}
        onChange={e => props.onChange(e.target.value)}
      />
    </label>
  );
}

function Copy({ text, testid }: { text: string; testid: string }): JSX.Element {
  const [done, setDone] = useState(false);
  return (
    <button
      className="jp-mlp-button"
      data-testid={testid}
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => setDone(true));
      }}
    >
      {done ? 'Copied' : 'Copy'}
    </button>
  );
}

function PlanForm(props: {
  planned: ShipPlanOut;
  plan: ShipPlan;
  setPlan: (p: ShipPlan) => void;
}): JSX.Element {
  const { plan, setPlan, planned } = props;
  const set = (change: (p: ShipPlan) => void) => {
    const next = JSON.parse(JSON.stringify(plan)) as ShipPlan;
    change(next);
    setPlan(next);
  };
  const g = plan.gates;
  return (
    <div data-testid="mlp-ship-plan">
      <h3>Pipeline</h3>
      <Field label="Name" testid="mlp-ship-pipeline" value={plan.pipeline.name} onChange={v => set(p => (p.pipeline.name = v))} />
      <p className="jp-mlp-hint">Stages: {(plan.pipeline.stages ?? []).join(' → ') || 'none'}</p>
      {Object.entries(plan.pipeline.parameters ?? {}).map(([k, v]) => (
        <Field
          key={k}
          label={`Parameter ${k}`}
          testid={`mlp-ship-param-${k}`}
          value={parameterText(v)}
          onChange={t => set(p => ((p.pipeline.parameters as Record<string, unknown>)[k] = parameterValue(t)))}
        />
      ))}
      <h3>Model</h3>
      <Field label="Registered as" testid="mlp-ship-model" value={plan.model.name} onChange={v => set(p => (p.model.name = v))} />
      <p className="jp-mlp-hint" data-testid="mlp-ship-metric">
        {plan.model.metric && plan.model.value !== null && plan.model.value !== undefined
          ? `${plan.model.metric} = ${plan.model.value} in the notebook's last run ${plan.model.run_id}`
          : 'No validated metric: the notebook has no run from this path yet.'}
      </p>
      <h3>Gates {g.source === 'model' ? '(set by a lead on this model)' : '(proposed)'}</h3>
      {(g.thresholds ?? []).map((t, i) => (
        <div key={i} className="jp-mlp-row" data-testid="mlp-ship-threshold">
          <Field label="Metric" testid={`mlp-ship-threshold-metric-${i}`} value={t.metric} onChange={v => set(p => ((p.gates.thresholds ?? [])[i].metric = v))} />
          <label className="jp-mlp-field">
            <span>Op</span>
            <select
              value={t.op ?? '>='}
              onChange={e => set(p => ((p.gates.thresholds ?? [])[i].op = e.target.value as '>='))}
            >
              {['>=', '>', '<=', '<'].map(op => (
                <option key={op}>{op}</option>
              ))}
            </select>
          </label>
          <Field
            label="Threshold"
            type="number"
            testid={`mlp-ship-threshold-value-${i}`}
            value={t.value}
            onChange={v => set(p => ((p.gates.thresholds ?? [])[i].value = numberField(v) ?? 0))}
          />
        </div>
      ))}
      <label className="jp-mlp-field">
        <input
          type="checkbox"
          data-testid="mlp-ship-approval"
          checked={!!g.require_approval}
          onChange={e => set(p => (p.gates.require_approval = e.target.checked))}
        />
        <span>A lead approves before the version is champion</span>
      </label>
      {planned.champion !== null && planned.champion !== undefined && (
        <p className="jp-mlp-hint">Champion now: v{planned.champion}</p>
      )}
      <h3>Deployment {plan.deployment.exists ? '(switched to the new version once it passed the gates)' : '(new)'}</h3>
      <Field label="Name" testid="mlp-ship-deployment" value={plan.deployment.name} onChange={v => set(p => (p.deployment.name = v))} />
      <Field label="SLA p95 (ms)" type="number" testid="mlp-ship-sla" value={plan.deployment.sla_ms ?? 100} onChange={v => set(p => (p.deployment.sla_ms = numberField(v) ?? 100))} />
      <Field label="Workers min" type="number" testid="mlp-ship-min" value={plan.deployment.min_workers ?? 1} onChange={v => set(p => (p.deployment.min_workers = numberField(v) ?? 1))} />
      <Field label="Workers max" type="number" testid="mlp-ship-max" value={plan.deployment.max_workers ?? 2} onChange={v => set(p => (p.deployment.max_workers = numberField(v) ?? 2))} />
      <h3>Monitor</h3>
      <Field label="Window (predictions)" type="number" testid="mlp-ship-window" value={plan.monitor.window_size ?? 500} onChange={v => set(p => (p.monitor.window_size = numberField(v) ?? 500))} />
      <p className="jp-mlp-hint">Drift per feature on every window; performance once labels come as feedback.</p>
      <label className="jp-mlp-field">
        <input
          type="checkbox"
          data-testid="mlp-ship-retrain"
          checked={!!plan.monitor.retrain}
          onChange={e => set(p => (p.monitor.retrain = e.target.checked))}
        />
        <span>Retrain through the pipeline and the gates when an alert fires</span>
      </label>
      {(planned.notes.length > 0 || planned.problems.length > 0) && (
        <ul className="jp-mlp-problems" data-testid="mlp-ship-notes">
          {planned.problems.map((p, i) => (
            <li key={`p${i}`} data-severity={String(p.severity)}>
              {String(p.message)}
            </li>
          ))}
          {planned.notes.map((n, i) => (
            <li key={`n${i}`}>{n}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function StepItem({ step, open }: { step: ShipStep; open: IShipDialogProps['open'] }): JSX.Element {
  const link = stepLink(step.name, step.links ?? {});
  return (
    <li className="jp-mlp-ship-step" data-step={step.name} data-status={step.status}>
      <span>{stepLine(step)}</span>
      {link && step.status !== 'pending' && (
        <button className="jp-mlp-button jp-mlp-link" onClick={() => open(link.panel, link.args)}>
          Open {STEP_TITLES[step.name] ? link.panel : ''}
        </button>
      )}
      {(step.progress ?? []).length > 0 && <pre className="jp-mlp-ship-progress-lines">{(step.progress ?? []).join('\n')}</pre>}
    </li>
  );
}

function Progress({ ship, apiKey, open }: { ship: ShipOut; apiKey: string | null; open: IShipDialogProps['open'] }): JSX.Element {
  const e = ship.endpoint;
  return (
    <div data-testid="mlp-ship-progress" data-status={ship.status}>
      <ol className="jp-mlp-ship-steps">
        {ship.steps.map(s => (
          <StepItem key={s.name} step={s} open={open} />
        ))}
      </ol>
      {ship.status === 'failed' || ship.status === 'interrupted' ? (
        <p className="jp-mlp-error" role="alert" data-testid="mlp-ship-failure">
          {ship.message}
        </p>
      ) : null}
      {ship.status === 'waiting' && (
        <p className="jp-mlp-hint" role="status">
          Waiting for a lead's approval: they approve in the Models panel; this view goes on by itself.
        </p>
      )}
      {e && ship.status === 'succeeded' && (
        <div data-testid="mlp-ship-endpoint">
          <h3>Endpoint</h3>
          <p>
            <code data-testid="mlp-ship-url">{e.url}</code> <Copy text={e.url} testid="mlp-ship-copy-url" />
          </p>
          {apiKey ? (
            <p>
              API key (shown once — copy it now): <code data-testid="mlp-ship-key">{apiKey}</code>{' '}
              <Copy text={apiKey} testid="mlp-ship-copy-key" />
            </p>
          ) : (
            <p className="jp-mlp-hint">{e.key_message ?? 'The API key was shown once, in an earlier view.'}</p>
          )}
          <p className="jp-mlp-hint">Example row: {e.example_from ?? 'none found'}. The requests read the key from MLP_API_KEY.</p>
          {(
            [
              ['curl', e.requests.curl],
              ['Python (requests)', e.requests.python],
              ['mlflow.deployments', e.requests.mlflow_deployments]
            ] as [string, string][]
          ).map(([label, text]) => (
            <div key={label} className="jp-mlp-ship-request" data-request={label}>
              <h4>
                {label} <Copy text={text} testid={`mlp-ship-copy-${label.split(' ')[0].toLowerCase()}`} />
              </h4>
              <pre>{text}</pre>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

function ShipView({ planned, start, poll, open, every }: IShipDialogProps): JSX.Element {
  const [plan, setPlan] = useState<ShipPlan>(planned.plan);
  const [ship, setShip] = useState<ShipOut | null>(null);
  const [apiKey, setApiKey] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const blocked = planned.problems.some(p => p.severity === 'error');

  useEffect(() => {
    if (!ship || shipEnded(ship.status)) {
      return;
    }
    const timer = setTimeout(() => {
      poll(ship.id)
        .then(next => {
          if (next.endpoint?.api_key) {
            setApiKey(next.endpoint.api_key); // shown once: keep it from the read that carried it
          }
          setShip(next);
        })
        .catch(err => setError(formatApiError(err)));
    }, every ?? 1500);
    return () => clearTimeout(timer);
  }, [ship]);

  const onShip = async () => {
    setBusy(true);
    setError(null);
    try {
      setShip(await start(plan));
    } catch (err) {
      setError(formatApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      {ship ? (
        <Progress ship={ship} apiKey={apiKey} open={open} />
      ) : (
        <>
          <PlanForm planned={planned} plan={plan} setPlan={setPlan} />
          <button
            className="jp-mlp-button jp-mod-accept"
            data-testid="mlp-ship-run"
            disabled={busy || blocked}
            onClick={() => void onShip()}
          >
            Ship
          </button>
        </>
      )}
      {error && (
        <p className="jp-mlp-error" role="alert" data-testid="mlp-ship-error">
          {error}
        </p>
      )}
    </div>
  );
}
