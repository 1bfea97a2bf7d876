import React from 'react';

import type { IFormField, RunFormState } from '../runForm';

export interface IRunFormProps {
  form: RunFormState;
  /** Parameter name → why its value cannot be sent (the form's own checks and the server's). */
  errors: Record<string, string>;
  /** Names of the parameters whose value differs from the default (the ones that will be sent). */
  changed: string[];
  busy: boolean;
  /** A refusal that names no parameter. */
  generalError: string | null;
  onEdit: (name: string, input: string | boolean) => void;
  onReset: () => void;
  onSubmit: () => void;
}

function FieldControl({
  field,
  invalid,
  describedBy,
  onEdit
}: {
  field: IFormField;
  invalid: boolean;
  describedBy: string;
  onEdit: (input: string | boolean) => void;
}): JSX.Element {
  const common = {
    'data-param': field.name,
    'aria-invalid': invalid ? ('true' as const) : ('false' as const),
    'aria-describedby': describedBy
  };
  switch (field.control) {
    case 'bool':
      return (
        <input
          {...common}
          type="checkbox"
          checked={field.input === true}
          onChange={e => onEdit(e.target.checked)}
        />
      );
    case 'int':
    case 'float':
      return (
        <input
          {...common}
          className="jp-mlp-input"
          type="number"
          step={field.control === 'int' ? 1 : 'any'}
          value={String(field.input)}
          onChange={e => onEdit(e.target.value)}
        />
      );
    case 'str':
      return (
        <input
          {...common}
          className="jp-mlp-input"
          type="text"
          value={String(field.input)}
          onChange={e => onEdit(e.target.value)}
        />
      );
    default:
      return (
        <textarea
          {...common}
          className="jp-mlp-input jp-mlp-json-input"
          rows={Math.min(6, Math.max(1, String(field.input).split('\n').length))}
          spellCheck={false}
          value={String(field.input)}
          onChange={e => onEdit(e.target.value)}
        />
      );
  }
}

/** The Run form: one control per parameter, prefilled from the defaults; only changed values are sent. */
export function RunForm({
  form,
  errors,
  changed,
  busy,
  generalError,
  onEdit,
  onReset,
  onSubmit
}: IRunFormProps): JSX.Element {
  const blocked = Object.keys(errors).length > 0;
  return (
    <form
      className="jp-mlp-run-form"
      data-testid="mlp-run-form"
      onSubmit={e => {
        e.preventDefault();
        onSubmit();
      }}
    >
      {form.length === 0 && (
        <p className="jp-mlp-hint">This version has no parameters: it runs as promoted.</p>
      )}
      {form.map(field => {
        const errorId = `mlp-param-error-${field.name}`;
        const error = errors[field.name];
        const isChanged = changed.includes(field.name);
        return (
          <div
            key={field.name}
            className={`jp-mlp-param${isChanged ? ' jp-mod-changed' : ''}`}
            data-param-row={field.name}
          >
            <label className="jp-mlp-param-label">
              <span className="jp-mlp-param-name">{field.name}</span>
              <span className="jp-mlp-hint" title={`Default: ${field.defaultText}`}>
                {field.type}
                {field.control === 'json' && field.type !== 'list' && field.type !== 'dict' ? ' (JSON)' : ''}
                {isChanged ? ' · changed' : ''}
              </span>
            </label>
            <FieldControl
              field={field}
              invalid={!!error}
              describedBy={errorId}
              onEdit={input => onEdit(field.name, input)}
            />
            {error && (
              <div
                id={errorId}
                className="jp-mlp-param-error"
                data-testid="mlp-param-error"
                data-param-error={field.name}
                role="alert"
              >
                {error}
              </div>
            )}
          </div>
        );
      })}
      {generalError && (
        <div className="jp-mlp-error" data-testid="mlp-run-error" role="alert">
          {generalError}
        </div>
      )}
      <div className="jp-mlp-actions">
        <button
          type="submit"
          className="jp-mlp-button jp-mod-accept"
          data-testid="mlp-run-pipeline"
          disabled={busy || blocked}
        >
          {busy ? 'Starting…' : 'Run'}
        </button>
        <button type="button" className="jp-mlp-button" disabled={busy} onClick={onReset}>
          Reset to defaults
        </button>
        <span className="jp-mlp-hint">
          {changed.length === 0 ? 'All defaults.' : `Sends ${changed.join(', ')}.`}
        </span>
      </div>
    </form>
  );
}
