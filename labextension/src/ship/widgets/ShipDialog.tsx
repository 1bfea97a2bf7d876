import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import type { ShipOut, ShipPlan, ShipPlanOut } from '../../common/endpoints/ship';
import { formatApiError } from '../../common/errors';
import {
  challengerText,
  newClaim,
  numberField,
  parameterText,
  parameterValue,
  shipEnded,
  withChallenger
} from '../ship';
import { Progress, type ShipPanel } from './ShipProgress';

export type { ShipPanel };

/** What the Ship dialog shows and does. */
export interface IShipDialogProps {
  path: string;
  project: string;
  planned: ShipPlanOut;
  start: (plan: ShipPlan) => Promise<ShipOut>;
  /** A read of the Ship's progress; `claim` is the view's own id (the new API key is handed to this view only). */
  poll: (shipId: string, claim: string) => Promise<ShipOut>;
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
      {(g.challenger || planned.plan.gates.challenger) && (
        <div className="jp-mlp-row" data-testid="mlp-ship-challenger">
          <label className="jp-mlp-field">
            <input
              type="checkbox"
              data-testid="mlp-ship-challenger-on"
              checked={!!g.challenger}
              disabled={g.source === 'model' && !planned.plan.gates.challenger}
              onChange={e => setPlan({ ...plan, gates: withChallenger(plan.gates, planned.plan.gates, e.target.checked) })}
            />
            <span>Challenger beats champion{planned.champion === null || planned.champion === undefined ? ' (once there is one)' : ''}</span>
          </label>
          {g.challenger && (
            <>
              <Field
                label="Margin"
                type="number"
                testid="mlp-ship-challenger-margin"
                value={Number(g.challenger.margin ?? 0)}
                onChange={v => set(p => ((p.gates.challenger as Record<string, unknown>).margin = numberField(v) ?? 0))}
              />
              <span className="jp-mlp-hint" data-testid="mlp-ship-challenger-text">
                {challengerText(g)}
              </span>
            </>
          )}
        </div>
      )}
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

function ShipView({ planned, start, poll, open, every }: IShipDialogProps): JSX.Element {
  const [plan, setPlan] = useState<ShipPlan>(planned.plan);
  const [ship, setShip] = useState<ShipOut | null>(null);
  // This view's reads carry one claim: the read that takes the new key, and any later read of this view, get it
  // (a read whose answer was lost, or failed, is made again and still gets the key); no other reader does.
  const [claim] = useState(newClaim);
  const [failedReads, setFailedReads] = useState(0);
  const [apiKey, setApiKey] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const blocked = planned.problems.some(p => p.severity === 'error');

  useEffect(() => {
    if (!ship || shipEnded(ship.status)) {
      return;
    }
    const timer = setTimeout(() => {
      poll(ship.id, claim)
        .then(next => {
          if (next.endpoint?.api_key) {
            setApiKey(next.endpoint.api_key); // shown once: keep it from the read that carried it
          }
          setError(null);
          setShip(next);
        })
        .catch(err => {
          // a read that failed is made again: the view goes on, and the key is still this view's to read
          setError(formatApiError(err));
          setFailedReads(n => n + 1);
        });
    }, every ?? 1500);
    return () => clearTimeout(timer);
  }, [ship, failedReads]);

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
          {/* Kept in view at the bottom of the scrolling plan: the form is taller than small screens. */}
          <div className="jp-mlp-ship-actions">
            <button
              className="jp-mlp-button jp-mod-accept"
              data-testid="mlp-ship-run"
              disabled={busy || blocked}
              onClick={() => void onShip()}
            >
              Ship
            </button>
          </div>
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
