import React, { useState } from 'react';

import { GateConfig, setModelGates } from '../../common/api';
import { formatApiError } from '../../common/errors';
import {
  emptyThreshold,
  gateForm,
  gatesBody,
  GateErrors,
  gatesFailure,
  gatesSummary,
  IGateForm,
  IThresholdRow,
  MAX_THRESHOLDS,
  OP_LABELS,
  THRESHOLD_OPS,
  ThresholdOp
} from '../modelsGates';

function FieldError({ errors, field }: { errors: Partial<GateErrors>; field: string }): JSX.Element | null {
  return errors[field] ? (
    <span className="jp-mlp-field-error" data-field={field}>
      {errors[field]}
    </span>
  ) : null;
}

/** The model's validation gates: a form for leads, the rules in words for everyone else. */
export function ModelGates({
  slug,
  name,
  gates,
  mayEdit,
  onSaved
}: {
  slug: string;
  name: string;
  gates: GateConfig;
  mayEdit: boolean;
  onSaved: (gates: GateConfig) => void;
}): JSX.Element {
  const [form, setForm] = useState<IGateForm>(() => gateForm(gates));
  const [errors, setErrors] = useState<Partial<GateErrors>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  if (!mayEdit) {
    return (
      <section className="jp-mlp-model-gates" data-testid="mlp-gates">
        <h4 className="jp-mlp-heading">Gates</h4>
        <ul className="jp-mlp-gates-summary">
          {gatesSummary(gates).map((line, i) => (
            <li key={i}>{line}</li>
          ))}
        </ul>
        <p className="jp-mlp-hint">A project lead sets the gates.</p>
      </section>
    );
  }

  const edit = (change: Partial<IGateForm>) => {
    setForm(current => ({ ...current, ...change }));
    setSaved(false);
  };
  const editRow = (i: number, change: Partial<IThresholdRow>) =>
    edit({ thresholds: form.thresholds.map((row, j) => (j === i ? { ...row, ...change } : row)) });

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    setGeneral(null);
    const checked = gatesBody(form);
    if ('errors' in checked) {
      setErrors(checked.errors);
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const stored = await setModelGates(slug, name, checked.body);
      setForm(gateForm(stored));
      setSaved(true);
      onSaved(stored);
    } catch (err) {
      const failure = gatesFailure(err, formatApiError);
      setErrors(failure.fields);
      setGeneral(failure.general);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="jp-mlp-model-gates jp-mlp-gates-form"
      data-testid="mlp-gates-form"
      onSubmit={e => void save(e)}
    >
      <h4 className="jp-mlp-heading">Gates</h4>
      <p className="jp-mlp-hint">
        Before staging or champion moves to a version, its files must match their signed manifest and
        these must hold.
      </p>

      <fieldset className="jp-mlp-gates-group">
        <legend>Metric thresholds</legend>
        {form.thresholds.length === 0 && <p className="jp-mlp-hint">No thresholds.</p>}
        {form.thresholds.map((row, i) => (
          <div key={i} className="jp-mlp-threshold" data-testid="mlp-gates-threshold">
            <input
              className="jp-mlp-input"
              placeholder="metric, e.g. accuracy"
              aria-label={`Threshold ${i + 1} metric`}
              aria-invalid={errors[`thresholds.${i}.metric`] ? 'true' : 'false'}
              value={row.metric}
              onChange={e => editRow(i, { metric: e.target.value })}
            />
            <select
              className="jp-mlp-select"
              aria-label={`Threshold ${i + 1} comparison`}
              value={row.op}
              onChange={e => editRow(i, { op: e.target.value as ThresholdOp })}
            >
              {THRESHOLD_OPS.map(op => (
                <option key={op} value={op}>
                  {OP_LABELS[op]}
                </option>
              ))}
            </select>
            <input
              className="jp-mlp-input jp-mlp-threshold-value"
              placeholder="value"
              inputMode="decimal"
              aria-label={`Threshold ${i + 1} value`}
              aria-invalid={errors[`thresholds.${i}.value`] ? 'true' : 'false'}
              value={row.value}
              onChange={e => editRow(i, { value: e.target.value })}
            />
            <button
              type="button"
              className="jp-mlp-button jp-mlp-button-small"
              aria-label={`Remove threshold ${i + 1}`}
              onClick={() => edit({ thresholds: form.thresholds.filter((_, j) => j !== i) })}
            >
              ×
            </button>
            <FieldError errors={errors} field={`thresholds.${i}.metric`} />
            <FieldError errors={errors} field={`thresholds.${i}.value`} />
          </div>
        ))}
        <FieldError errors={errors} field="thresholds" />
        <button
          type="button"
          className="jp-mlp-button jp-mlp-button-small jp-mlp-add-threshold"
          disabled={form.thresholds.length >= MAX_THRESHOLDS}
          onClick={() => edit({ thresholds: [...form.thresholds, emptyThreshold()] })}
        >
          + Threshold
        </button>
      </fieldset>

      <fieldset className={`jp-mlp-gates-group${form.evaluationOn ? '' : ' jp-mod-off'}`}>
        <legend>
          <label className="jp-mlp-check">
            <input
              type="checkbox"
              data-testid="mlp-gates-evaluation"
              checked={form.evaluationOn}
              onChange={e => edit({ evaluationOn: e.target.checked })}
            />
            Score on evaluation data
          </label>
        </legend>
        {form.evaluationOn && (
          <div className="jp-mlp-gates-fields">
            <label className="jp-mlp-field">
              <span>Dataset</span>
              <input
                className="jp-mlp-input"
                placeholder="a dataset of the project"
                aria-invalid={errors['evaluation.dataset'] ? 'true' : 'false'}
                value={form.evaluation.dataset}
                onChange={e => edit({ evaluation: { ...form.evaluation, dataset: e.target.value } })}
              />
              <FieldError errors={errors} field="evaluation.dataset" />
            </label>
            <label className="jp-mlp-field">
              <span>Label column</span>
              <input
                className="jp-mlp-input"
                aria-invalid={errors['evaluation.target'] ? 'true' : 'false'}
                value={form.evaluation.target}
                onChange={e => edit({ evaluation: { ...form.evaluation, target: e.target.value } })}
              />
              <FieldError errors={errors} field="evaluation.target" />
            </label>
            <label className="jp-mlp-field">
              <span>Snapshot</span>
              <input
                className="jp-mlp-input"
                placeholder="current"
                aria-invalid={errors['evaluation.snapshot_id'] ? 'true' : 'false'}
                value={form.evaluation.snapshotId}
                onChange={e => edit({ evaluation: { ...form.evaluation, snapshotId: e.target.value } })}
              />
              <FieldError errors={errors} field="evaluation.snapshot_id" />
            </label>
          </div>
        )}
        <FieldError errors={errors} field="evaluation" />
      </fieldset>

      <fieldset className={`jp-mlp-gates-group${form.challengerOn ? '' : ' jp-mod-off'}`}>
        <legend>
          <label className="jp-mlp-check">
            <input
              type="checkbox"
              data-testid="mlp-gates-challenger"
              checked={form.challengerOn}
              onChange={e => edit({ challengerOn: e.target.checked })}
            />
            Must beat the champion
          </label>
        </legend>
        {form.challengerOn && (
          <div className="jp-mlp-gates-fields">
            <label className="jp-mlp-field">
              <span>Metric</span>
              <input
                className="jp-mlp-input"
                aria-invalid={errors['challenger.metric'] ? 'true' : 'false'}
                value={form.challenger.metric}
                onChange={e => edit({ challenger: { ...form.challenger, metric: e.target.value } })}
              />
              <FieldError errors={errors} field="challenger.metric" />
            </label>
            <label className="jp-mlp-field">
              <span>By at least</span>
              <input
                className="jp-mlp-input"
                inputMode="decimal"
                aria-invalid={errors['challenger.margin'] ? 'true' : 'false'}
                value={form.challenger.margin}
                onChange={e => edit({ challenger: { ...form.challenger, margin: e.target.value } })}
              />
              <FieldError errors={errors} field="challenger.margin" />
            </label>
            <label className="jp-mlp-check">
              <input
                type="checkbox"
                checked={form.challenger.greaterIsBetter}
                onChange={e =>
                  edit({ challenger: { ...form.challenger, greaterIsBetter: e.target.checked } })
                }
              />
              Higher is better
            </label>
          </div>
        )}
        <FieldError errors={errors} field="challenger" />
      </fieldset>

      <label className="jp-mlp-check">
        <input
          type="checkbox"
          data-testid="mlp-gates-approval"
          checked={form.requireApproval}
          onChange={e => edit({ requireApproval: e.target.checked })}
        />
        A lead approves before champion moves
      </label>

      <div className="jp-mlp-actions">
        <button
          type="submit"
          className="jp-mlp-button jp-mod-accept"
          data-testid="mlp-gates-save"
          disabled={busy}
        >
          {busy ? 'Saving…' : 'Save gates'}
        </button>
        {saved && (
          <span className="jp-mlp-hint" data-testid="mlp-gates-saved" role="status">
            Saved.
          </span>
        )}
      </div>
      {general && (
        <div className="jp-mlp-error" data-testid="mlp-gates-error" role="alert">
          {general}
        </div>
      )}
    </form>
  );
}
