/**
 * The Ship's progress view: every step (the stage base image before the pipeline run), its timing, message and
 * progress lines, links into the panels, the stop with its reason, and at the end the endpoint, its API key (shown
 * once) and requests to copy. Pure React (no JupyterLab imports), so that jest renders it.
 */
import React, { useState } from 'react';

import type { ShipOut, ShipStep } from '../../common/endpoints/ship';
import { stepLine, stepLink, STEP_TITLES } from '../ship';

export type ShipPanel = 'pipelines' | 'models' | 'deployments' | 'monitoring';
export type OpenPanel = (panel: ShipPanel, args: Record<string, string | number>) => void;

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

function StepItem({ step, open }: { step: ShipStep; open: OpenPanel }): JSX.Element {
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

export function Progress({ ship, apiKey, open }: { ship: ShipOut; apiKey: string | null; open: OpenPanel }): JSX.Element {
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

