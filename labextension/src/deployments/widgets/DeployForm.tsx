import React, { useEffect, useRef, useState } from 'react';

import { createDeployment, listModels } from '../../common/api';
import {
  DeployField,
  deployFailure,
  deployInput,
  deployRequest,
  describeTarget,
  IDeployInput,
  IDeployPrefill
} from '../deployments';
import { formatApiError } from '../../common/errors';

/** Deploy a validated model version to a new endpoint (scientists and up). */
export function DeployForm({
  slug,
  prefill,
  focus,
  onDeployed
}: {
  slug: string;
  prefill: IDeployPrefill | null;
  /** Scroll to the form and focus it: it was just filled from elsewhere. */
  focus: boolean;
  onDeployed: (name: string) => void;
}): JSX.Element {
  const [input, setInput] = useState<IDeployInput>(() => deployInput(prefill));
  const [models, setModels] = useState<string[]>([]);
  const [fields, setFields] = useState<Partial<Record<DeployField, string>>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const formRef = useRef<HTMLFormElement>(null);

  // Suggestions for the model input; the form works without them.
  useEffect(() => {
    let live = true;
    listModels(slug, 100)
      .then(page => live && setModels(page.items.map(m => m.name)))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [slug]);

  useEffect(() => {
    if (focus) {
      formRef.current?.scrollIntoView({ block: 'nearest' });
      formRef.current?.querySelector<HTMLInputElement>('[data-testid=mlp-deploy-name]')?.focus();
    }
  }, [focus]);

  const edit = (field: DeployField, key: keyof IDeployInput, value: string) => {
    setInput(current => ({ ...current, [key]: value }));
    setFields(current => {
      if (!(field in current)) {
        return current;
      }
      const next = { ...current };
      delete next[field];
      return next;
    });
  };

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    const checked = deployRequest(input);
    if ('errors' in checked) {
      setFields(checked.errors);
      return;
    }
    const { request } = checked;
    setFields({});
    setBusy(`Starting ${request.model} ${describeTarget(request)} as ${request.name}: workers verify its signature and load it…`);
    try {
      const deployed = await createDeployment(slug, request);
      onDeployed(deployed.name);
      setInput(deployInput(null));
    } catch (err) {
      const failure = deployFailure(err, formatApiError);
      setFields(failure.fields);
      setError(failure.general);
    } finally {
      setBusy(null);
    }
  };

  const field = (
    id: DeployField,
    key: keyof IDeployInput,
    label: string,
    testid: string,
    extra: React.InputHTMLAttributes<HTMLInputElement> = {}
  ) => (
    <label className={`jp-mlp-field jp-mlp-deploy-field jp-mlp-deploy-${key}`}>
      <span>{label}</span>
      <input
        className="jp-mlp-input"
        data-testid={testid}
        value={input[key]}
        aria-invalid={fields[id] ? 'true' : 'false'}
        spellCheck={false}
        disabled={busy !== null}
        onChange={e => edit(id, key, e.target.value)}
        {...extra}
      />
      {fields[id] && fields[id] !== error && <span className="jp-mlp-field-error">{fields[id]}</span>}
    </label>
  );

  return (
    <form
      ref={formRef}
      className="jp-mlp-register-form jp-mlp-deploy-form"
      data-testid="mlp-deploy-form"
      onSubmit={e => void submit(e)}
    >
      <h3 className="jp-mlp-heading">Deploy a model</h3>
      <p className="jp-mlp-hint">
        Only versions that passed their gates are served. Each worker checks the signature before loading.
      </p>
      {field('model', 'model', 'Model', 'mlp-deploy-model', {
        list: 'jp-mlp-deploy-models',
        placeholder: 'registered model'
      })}
      <datalist id="jp-mlp-deploy-models">
        {models.map(m => (
          <option key={m} value={m} />
        ))}
      </datalist>
      {field('target', 'target', 'Version or alias', 'mlp-deploy-target', {
        placeholder: 'champion, staging or 3'
      })}
      {field('name', 'name', 'Deployment name (in the URL)', 'mlp-deploy-name', { placeholder: 'e.g. credit-api' })}
      <div className="jp-mlp-deploy-scaling">
        {field('min_workers', 'minWorkers', 'Min workers', 'mlp-deploy-min', { inputMode: 'numeric' })}
        {field('max_workers', 'maxWorkers', 'Max workers', 'mlp-deploy-max', { inputMode: 'numeric' })}
        {field('sla_ms', 'slaMs', 'SLA p95 (ms)', 'mlp-deploy-sla', { inputMode: 'decimal' })}
      </div>
      <div className="jp-mlp-actions">
        <button
          type="submit"
          className="jp-mlp-button jp-mod-accept"
          data-testid="mlp-deploy-submit"
          disabled={busy !== null}
        >
          {busy ? 'Deploying…' : 'Deploy'}
        </button>
      </div>
      {busy && (
        <div className="jp-mlp-progress" role="status" data-testid="mlp-deploy-progress">
          <span className="jp-mlp-spinner" aria-hidden="true" />
          {busy}
        </div>
      )}
      {error && (
        <div className="jp-mlp-error" data-testid="mlp-deploy-error" role="alert">
          {error}
        </div>
      )}
    </form>
  );
}
