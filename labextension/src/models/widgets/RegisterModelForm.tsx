import React, { useState } from 'react';

import { registerModel } from '../../common/api';
import { formatApiError } from '../../common/errors';
import { RegisterField, registerFailure, registerRequest } from '../models';

/** Register a run's logged model as a new version (scientists and up). */
export function RegisterModelForm({
  slug,
  onRegistered
}: {
  slug: string;
  onRegistered: (name: string) => void;
}): JSX.Element {
  const [runId, setRunId] = useState('');
  const [path, setPath] = useState('model');
  const [name, setName] = useState('');
  const [fields, setFields] = useState<Partial<Record<RegisterField, string>>>({});
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const edit = (field: RegisterField, value: string, set: (v: string) => void) => {
    set(value);
    setDone(null);
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
    setDone(null);
    const checked = registerRequest({ name, runId, artifactPath: path });
    if ('errors' in checked) {
      setFields(checked.errors);
      return;
    }
    setBusy(true);
    setFields({});
    try {
      const version = await registerModel(slug, checked.request);
      setDone(`Registered ${version.name} v${version.version} (${version.files} files, signed).`);
      setRunId('');
      onRegistered(version.name);
    } catch (err) {
      const failure = registerFailure(err, formatApiError);
      setFields(failure.fields);
      setError(failure.general);
    } finally {
      setBusy(false);
    }
  };

  const field = (
    id: RegisterField,
    label: string,
    testid: string,
    value: string,
    set: (v: string) => void,
    placeholder: string
  ) => (
    <label className="jp-mlp-field jp-mlp-register-field">
      <span>{label}</span>
      <input
        className="jp-mlp-input"
        data-testid={testid}
        value={value}
        placeholder={placeholder}
        aria-invalid={fields[id] ? 'true' : 'false'}
        spellCheck={false}
        onChange={e => edit(id, e.target.value, set)}
      />
      {/* Said once: a 404 for the run is both the run id's problem and the form's error. */}
      {fields[id] && fields[id] !== error && (
        <span className="jp-mlp-field-error" data-testid={`${testid}-error`}>
          {fields[id]}
        </span>
      )}
    </label>
  );

  return (
    <form className="jp-mlp-register-form" data-testid="mlp-register-form" onSubmit={e => void submit(e)}>
      <h3 className="jp-mlp-heading">Register a model</h3>
      <p className="jp-mlp-hint">
        A run&apos;s logged model becomes a new, signed version. The run must belong to this project.
      </p>
      {field('run_id', 'Run id', 'mlp-register-run', runId, setRunId, 'MLflow run id')}
      {field('artifact_path', 'Artifact path', 'mlp-register-path', path, setPath, 'model')}
      {field('name', 'Model name', 'mlp-register-name', name, setName, 'e.g. credit-risk')}
      <div className="jp-mlp-actions">
        <button
          type="submit"
          className="jp-mlp-button jp-mod-accept"
          data-testid="mlp-register-submit"
          disabled={busy}
        >
          {busy ? 'Registering…' : 'Register'}
        </button>
      </div>
      {error && (
        <div className="jp-mlp-error" data-testid="mlp-register-error" role="alert">
          {error}
        </div>
      )}
      {done && (
        <div className="jp-mlp-ok" data-testid="mlp-register-result" role="status">
          {done}
        </div>
      )}
    </form>
  );
}
