import { ApiError, formatApiError } from '../../labextension/src/common/errors';
import {
  editField,
  fieldValue,
  formWithValues,
  initialForm,
  inlineJson,
  runBody,
  runFailure,
  sameValue
} from '../../labextension/src/pipelines/runForm';

const params = [
  { name: 'alpha', type: 'float', default: '0.5', default_value: 0.5 },
  { name: 'epochs', type: 'int', default: '3', default_value: 3 },
  { name: 'target', type: 'str', default: "'churn'", default_value: 'churn' },
  { name: 'verbose', type: 'bool', default: 'True', default_value: true },
  { name: 'layers', type: 'list', default: '[1, 2]', default_value: [1, 2] },
  { name: 'opts', type: 'dict', default: "{'lr': 0.1}", default_value: { lr: 0.1 } },
  { name: 'seed', type: 'none', default: 'None', default_value: null },
  { name: 'start', type: 'other', default: 'date(2020, 1, 1)', default_value: null }
];

describe('initial form', () => {
  it('gives each type its control, prefilled from the default', () => {
    const form = initialForm(params);
    expect(form.map(f => [f.name, f.control, f.input])).toEqual([
      ['alpha', 'float', '0.5'],
      ['epochs', 'int', '3'],
      ['target', 'str', 'churn'],
      ['verbose', 'bool', true],
      ['layers', 'json', '[1, 2]'],
      ['opts', 'json', '{"lr": 0.1}'],
      ['seed', 'json', 'null'],
      ['start', 'json', 'date(2020, 1, 1)']
    ]);
  });

  it('reads the value the backend sent beside the text, not the text', () => {
    const form = initialForm([
      { name: 'note', type: 'str', default: "'''two\nlines'''", default_value: 'two\nlines' },
      { name: 'odd', type: 'dict', default: "{'a': {1, 2}}", default_value: null }
    ]);
    expect(form.map(f => [f.name, f.control, f.input, f.defaultValue])).toEqual([
      ['note', 'str', 'two\nlines', 'two\nlines'],
      ['odd', 'json', "{'a': {1, 2}}", undefined]
    ]);
  });

  it('falls back to a JSON box when a default does not match its type', () => {
    const [field] = initialForm([{ name: 'x', type: 'int', default: "'3'", default_value: '3' }]);
    expect(field.control).toBe('json');
    expect(field.input).toBe('"3"');
  });
});

describe('run body', () => {
  it('sends nothing when nothing changed', () => {
    expect(runBody(initialForm(params))).toEqual({ parameters: {}, errors: {} });
  });

  it('sends only the changed values, typed', () => {
    let form = initialForm(params);
    form = editField(form, 'alpha', '0.25');
    form = editField(form, 'epochs', '10');
    form = editField(form, 'target', 'fraud');
    form = editField(form, 'verbose', false);
    form = editField(form, 'layers', '[1, 2, 3]');
    form = editField(form, 'seed', '42');
    expect(runBody(form)).toEqual({
      parameters: { alpha: 0.25, epochs: 10, target: 'fraud', verbose: false, layers: [1, 2, 3], seed: 42 },
      errors: {}
    });
  });

  it('treats a value equal to the default as unchanged', () => {
    let form = initialForm(params);
    form = editField(form, 'alpha', '0.50');
    form = editField(form, 'opts', '{ "lr": 0.1 }');
    expect(runBody(form).parameters).toEqual({});
  });

  it('refuses decimals for ints, and non-numbers', () => {
    let form = initialForm(params);
    form = editField(form, 'epochs', '2.5');
    form = editField(form, 'alpha', '');
    expect(runBody(form).errors).toEqual({ epochs: 'Enter a whole number.', alpha: 'Enter a number.' });
  });

  it('checks JSON boxes are JSON of their kind', () => {
    let form = initialForm(params);
    form = editField(form, 'layers', '{"a": 1}');
    form = editField(form, 'opts', '[1');
    const { errors } = runBody(form);
    expect(errors.layers).toMatch(/JSON list/);
    expect(errors.opts).toBe('Enter valid JSON.');
  });

  it('leaves an untouched unreadable default out, and sends it once edited to JSON', () => {
    let form = initialForm(params);
    expect(runBody(form).errors).toEqual({});
    form = editField(form, 'start', '"2021-01-01"');
    expect(runBody(form).parameters).toEqual({ start: '2021-01-01' });
    form = editField(form, 'start', 'date(2021, 1, 1)');
    expect(runBody(form).errors).toEqual({ start: 'Enter valid JSON.' });
  });

  it('keeps an empty string as a string', () => {
    const form = editField(initialForm(params), 'target', '');
    expect(runBody(form).parameters).toEqual({ target: '' });
  });
});

describe('re-run values', () => {
  it('fills the named fields and resets the others to their defaults', () => {
    let form = editField(initialForm(params), 'epochs', '99');
    form = formWithValues(form, { alpha: 0.75, layers: [4], verbose: false });
    expect(runBody(form).parameters).toEqual({ alpha: 0.75, layers: [4], verbose: false });
  });

  it('puts a value that does not fit its control in a JSON box', () => {
    const form = formWithValues(initialForm(params), { epochs: 'many' });
    const epochs = form.find(f => f.name === 'epochs')!;
    expect(epochs.control).toBe('json');
    expect(fieldValue(epochs)).toEqual({ value: 'many' });
  });
});

describe('run failure', () => {
  it('puts a 422 naming a parameter next to it', () => {
    const err = new ApiError(422, 'validation_error', "Parameter 'epochs' must be int, got float", [
      { field: 'parameters.epochs' }
    ]);
    expect(runFailure(err, formatApiError)).toEqual({
      fields: { epochs: "Parameter 'epochs' must be int, got float" },
      general: null
    });
  });

  it('prefers the detail message when there is one', () => {
    const err = new ApiError(422, 'validation_error', 'Invalid', [
      { field: 'parameters.alpha', message: 'too big' }
    ]);
    expect(runFailure(err, formatApiError).fields).toEqual({ alpha: 'too big' });
  });

  it('says anything else in general', () => {
    const err = new ApiError(503, 'unavailable', 'Dagster is not running');
    expect(runFailure(err, formatApiError)).toEqual({ fields: {}, general: 'Dagster is not running.' });
  });
});

describe('inline JSON', () => {
  it('writes lists and objects on one line', () => {
    expect(inlineJson({ a: [1, 'x'], b: null })).toBe('{"a": [1, "x"], "b": null}');
  });
});

describe('same value', () => {
  it('compares deeply, ignoring key order', () => {
    expect(sameValue({ a: [1, { b: 2 }], c: 'x' }, { c: 'x', a: [1, { b: 2 }] })).toBe(true);
    expect(sameValue([1, 2], [2, 1])).toBe(false);
    expect(sameValue({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameValue(null, {})).toBe(false);
    expect(sameValue([], {})).toBe(false);
    expect(sameValue(1, 1.0)).toBe(true);
  });
});
