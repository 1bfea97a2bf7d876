/**
 * The Run form of a pipeline version: one field per parameter of the parameters cell, the request
 * body built from what the user changed, and the server's complaints placed next to their field.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import { ApiError } from '../common/errors';

/** A value a parameter can hold: what JSON can carry. */
export type LiteralValue = null | boolean | number | string | LiteralValue[] | { [key: string]: LiteralValue };

/** What the form needs of a parameter (the API's ParameterOut). */
export interface IParameterLike {
  name: string;
  /** int, float, bool, str, list, dict, none or other. */
  type: string;
  /** The default as a Python literal, e.g. `0.5` or `'churn'`. */
  default: string;
  /**
   * The default's value as the backend read it (`ast.literal_eval`), as JSON; null when it is not a literal JSON
   * can carry, and for None (type `none`).
   */
  default_value?: unknown;
}

/** The default's value, or `ok: false` when the backend could not send it as JSON. */
function defaultOf(p: IParameterLike): { ok: true; value: LiteralValue } | { ok: false } {
  if (p.type === 'none') {
    return { ok: true, value: null };
  }
  if (p.type === 'other' || p.default_value === undefined || p.default_value === null) {
    return { ok: false };
  }
  return { ok: true, value: p.default_value as LiteralValue };
}

/** Which control a parameter gets. */
export type ControlKind = 'int' | 'float' | 'bool' | 'str' | 'json';

/** One parameter's field: its control, its default read as a value, and what the user typed. */
export interface IFormField {
  name: string;
  type: string;
  control: ControlKind;
  /** The default's value; undefined when the literal could not be read. */
  defaultValue: LiteralValue | undefined;
  /** The default as the notebook wrote it. */
  defaultText: string;
  /** The input's content: text for every control but bool, whose checkbox holds a boolean. */
  input: string | boolean;
}

/** The form: fields in the notebook's order. */
export type RunFormState = IFormField[];

/** The request body's parameters, or why some fields cannot be sent. */
export interface IRunBody {
  parameters: Record<string, LiteralValue>;
  /** Parameter name → why its input is not valid; empty when the body can be sent. */
  errors: Record<string, string>;
}

/** The control a parameter gets, from its type and whether its default could be read as one. */
function controlFor(type: string, value: LiteralValue | undefined, readable: boolean): ControlKind {
  if (!readable) {
    return 'json';
  }
  switch (type) {
    case 'int':
      return typeof value === 'number' ? 'int' : 'json';
    case 'float':
      return typeof value === 'number' ? 'float' : 'json';
    case 'bool':
      return typeof value === 'boolean' ? 'bool' : 'json';
    case 'str':
      return typeof value === 'string' ? 'str' : 'json';
    default:
      return 'json';
  }
}

/** The input's content that shows `value` in a control of kind `control`. */
export function inputFor(control: ControlKind, value: unknown): string | boolean {
  switch (control) {
    case 'bool':
      return value === true;
    case 'str':
      return typeof value === 'string' ? value : String(value ?? '');
    case 'int':
    case 'float':
      return typeof value === 'number' ? String(value) : String(value ?? '');
    default:
      return inlineJson(value);
  }
}

/** JSON on one line with a space after each comma and colon, like Python writes lists and dicts. */
export function inlineJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(inlineJson).join(', ')}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${inlineJson(v)}`);
    return `{${entries.join(', ')}}`;
  }
  return JSON.stringify(value === undefined ? null : value);
}

/** One field per parameter, each prefilled from its default (raw text in a JSON box when unreadable). */
export function initialForm(parameters: readonly IParameterLike[]): RunFormState {
  return parameters.map(p => {
    const parsed = defaultOf(p);
    const value = parsed.ok ? parsed.value : undefined;
    const control = controlFor(p.type, value, parsed.ok);
    return {
      name: p.name,
      type: p.type,
      control,
      defaultValue: value,
      defaultText: p.default,
      input: parsed.ok ? inputFor(control, value) : p.default
    };
  });
}

/** The field as it was first built: its default in its own control. */
function resetField(field: IFormField): IFormField {
  const readable = field.defaultValue !== undefined;
  const control = controlFor(field.type, field.defaultValue, readable);
  return { ...field, control, input: readable ? inputFor(control, field.defaultValue) : field.defaultText };
}

/** The form with `values` (e.g. an earlier run's parameters) in place of the defaults they name. */
export function formWithValues(form: RunFormState, values: Record<string, unknown>): RunFormState {
  return form.map(original => {
    const field = resetField(original);
    if (!(field.name in values)) {
      return field;
    }
    const value = values[field.name];
    // A value that does not fit the field's control (a run of another version) goes in as JSON.
    const fits =
      (field.control === 'bool' && typeof value === 'boolean') ||
      (field.control === 'str' && typeof value === 'string') ||
      ((field.control === 'int' || field.control === 'float') && typeof value === 'number') ||
      field.control === 'json';
    return fits
      ? { ...field, input: inputFor(field.control, value) }
      : { ...field, control: 'json', input: inputFor('json', value) };
  });
}

/** The form with one field's input replaced. */
export function editField(form: RunFormState, name: string, input: string | boolean): RunFormState {
  return form.map(field => (field.name === name ? { ...field, input } : field));
}

const JSON_KINDS: Record<string, (v: unknown) => boolean> = {
  list: v => Array.isArray(v),
  dict: v => typeof v === 'object' && v !== null && !Array.isArray(v)
};

/** A field's value, or why its input is not valid. */
export function fieldValue(field: IFormField): { value: LiteralValue } | { error: string } {
  const { control, input } = field;
  if (control === 'bool') {
    return { value: input === true };
  }
  const text = String(input);
  if (control === 'str') {
    return { value: text };
  }
  if (control === 'int' || control === 'float') {
    if (!text.trim()) {
      return { error: 'Enter a number.' };
    }
    const value = Number(text);
    if (!Number.isFinite(value)) {
      return { error: 'Enter a number.' };
    }
    if (control === 'int' && !Number.isInteger(value)) {
      return { error: 'Enter a whole number.' };
    }
    return { value };
  }
  let value: LiteralValue;
  try {
    value = JSON.parse(text) as LiteralValue;
  } catch {
    return { error: 'Enter valid JSON.' };
  }
  const fits = JSON_KINDS[field.type];
  if (fits && !fits(value)) {
    return { error: field.type === 'list' ? 'Enter a JSON list, e.g. [1, 2].' : 'Enter a JSON object, e.g. {"a": 1}.' };
  }
  return { value };
}

/** Whether a field's value differs from its parameter's default. */
function changed(field: IFormField, value: LiteralValue): boolean {
  if (field.defaultValue === undefined) {
    // An unreadable default is only "unchanged" while its text is untouched.
    return String(field.input).trim() !== field.defaultText.trim();
  }
  return !sameValue(value, field.defaultValue);
}

/** The `parameters` of the run request: only the values that differ from their defaults, typed. */
export function runBody(form: RunFormState): IRunBody {
  const parameters: Record<string, LiteralValue> = {};
  const errors: Record<string, string> = {};
  for (const field of form) {
    const read = fieldValue(field);
    if ('error' in read) {
      if (field.defaultValue !== undefined || changed(field, null)) {
        errors[field.name] = read.error;
      }
      continue;
    }
    if (changed(field, read.value)) {
      parameters[field.name] = read.value;
    }
  }
  return { parameters, errors };
}

/** A failed run request split into complaints about named parameters and the rest. */
export interface IRunFailure {
  /** Parameter name → the server's message. */
  fields: Record<string, string>;
  /** What to say about the request as a whole; null when every complaint names a parameter. */
  general: string | null;
}

/**
 * Place a run request's validation error next to the parameter it names (`detail[i].field` is
 * `parameters.<name>`); anything else is a general message.
 */
export function runFailure(err: unknown, describe: (err: unknown) => string): IRunFailure {
  const fields: Record<string, string> = {};
  if (err instanceof ApiError && Array.isArray(err.detail)) {
    for (const item of err.detail) {
      const field = (item as { field?: unknown } | null)?.field;
      if (typeof field === 'string' && field.startsWith('parameters.')) {
        const own = (item as { message?: unknown }).message;
        fields[field.slice('parameters.'.length)] = typeof own === 'string' && own ? own : err.message;
      }
    }
  }
  return { fields, general: Object.keys(fields).length > 0 ? null : describe(err) };
}

/** Whether two literal values are the same (deeply; object key order does not matter). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) {
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, i) => sameValue(item, b[i]))
    );
  }
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every(
        k => k in b && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
      )
    );
  }
  return false;
}
