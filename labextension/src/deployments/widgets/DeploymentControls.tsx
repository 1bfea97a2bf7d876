import React, { useState } from 'react';

import type { Deployment, SwitchRequest } from '../../common/api';
import { DeployField, IScaling, parseTarget, scalingFields } from '../deployments';

/** Switch version, roll back, change the worker range and SLA, delete (scientists and up). */
export function DeploymentControls({
  deployment: d,
  working,
  onSwitch,
  onRollback,
  onScale,
  onDelete
}: {
  deployment: Deployment;
  working: boolean;
  onSwitch: (target: SwitchRequest) => void;
  onRollback: () => void;
  onScale: (body: IScaling) => void;
  onDelete: () => void;
}): JSX.Element {
  const [target, setTarget] = useState('');
  const [targetError, setTargetError] = useState<string | null>(null);
  const [scale, setScale] = useState({
    minWorkers: String(d.min_workers),
    maxWorkers: String(d.max_workers),
    slaMs: String(d.sla_ms)
  });
  const [scaleErrors, setScaleErrors] = useState<Partial<Record<DeployField, string>>>({});
  const [confirmDelete, setConfirmDelete] = useState(false);

  const submitSwitch = (e: React.FormEvent) => {
    e.preventDefault();
    const parsed = parseTarget(target);
    if ('error' in parsed) {
      setTargetError(parsed.error);
      return;
    }
    setTargetError(null);
    onSwitch(parsed);
  };

  const submitScale = (e: React.FormEvent) => {
    e.preventDefault();
    const checked = scalingFields(scale);
    if ('errors' in checked) {
      setScaleErrors(checked.errors);
      return;
    }
    setScaleErrors({});
    onScale(checked.value);
  };

  const number = (key: keyof typeof scale, field: DeployField, label: string) => (
    <label className="jp-mlp-field">
      <span>{label}</span>
      <input
        className="jp-mlp-input"
        value={scale[key]}
        aria-invalid={scaleErrors[field] ? 'true' : 'false'}
        onChange={e => setScale({ ...scale, [key]: e.target.value })}
      />
    </label>
  );
  const scaleProblem = Object.values(scaleErrors)[0];

  return (
    <section className="jp-mlp-deployment-manage">
      <h4 className="jp-mlp-heading">Versions and traffic</h4>
      <form className="jp-mlp-inline-form" onSubmit={submitSwitch}>
        <input
          className="jp-mlp-input"
          data-testid="mlp-switch-version"
          value={target}
          placeholder="champion, staging or 3"
          aria-label="Version or alias to serve"
          aria-invalid={targetError ? 'true' : 'false'}
          onChange={e => {
            setTarget(e.target.value);
            setTargetError(null);
          }}
        />
        <button type="submit" className="jp-mlp-button" data-testid="mlp-switch-submit" disabled={working}>
          Switch
        </button>
        <button
          type="button"
          className="jp-mlp-button"
          data-testid="mlp-rollback"
          disabled={working || d.previous_version === null}
          title={
            d.previous_version === null
              ? 'No earlier version to roll back to'
              : `Serve v${d.previous_version} again`
          }
          onClick={onRollback}
        >
          Roll back{d.previous_version === null ? '' : ` to v${d.previous_version}`}
        </button>
      </form>
      {targetError && <span className="jp-mlp-field-error">{targetError}</span>}
      <p className="jp-mlp-hint">
        The new version starts beside the old one; traffic moves only when it is ready, so no request is dropped.
      </p>
      <form className="jp-mlp-inline-form jp-mlp-deploy-scaling" onSubmit={submitScale}>
        {number('minWorkers', 'min_workers', 'Min workers')}
        {number('maxWorkers', 'max_workers', 'Max workers')}
        {number('slaMs', 'sla_ms', 'SLA p95 (ms)')}
        <button type="submit" className="jp-mlp-button" data-testid="mlp-scale-submit" disabled={working}>
          Save
        </button>
      </form>
      {scaleProblem && <span className="jp-mlp-field-error">{scaleProblem}</span>}
      <div className="jp-mlp-actions">
        {confirmDelete ? (
          <>
            <span className="jp-mlp-hint">Stop {d.name}? Its endpoint answers 404 from then on.</span>
            <button
              className="jp-mlp-button jp-mlp-button-small jp-mlp-danger"
              data-testid="mlp-delete-confirm"
              disabled={working}
              onClick={onDelete}
            >
              Stop and delete
            </button>
            <button className="jp-mlp-button jp-mlp-button-small" onClick={() => setConfirmDelete(false)}>
              Keep it
            </button>
          </>
        ) : (
          <button
            className="jp-mlp-button jp-mlp-button-small"
            data-testid="mlp-delete-deployment"
            disabled={working}
            onClick={() => setConfirmDelete(true)}
          >
            Delete…
          </button>
        )}
      </div>
    </section>
  );
}
