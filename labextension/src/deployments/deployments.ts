/**
 * Deployments in words: who may do what, statuses, the Deploy / Switch / Scale / key forms' checks, the endpoint
 * as a client calls it, and events as sentences.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type { Deployment, DeploymentEvent, DeployRequest, ModelVersion, SwitchRequest } from '../common/api';
import { fieldFailure, IFormFailure, PROMOTION_ALIASES } from '../models/models';
import type { Role } from '../common/permissions';
import { num } from '../common/jsonValues';

/** Deployments listed per page. */
export const DEPLOYMENTS_PAGE_SIZE = 20;

/** API keys listed per page. */
export const KEYS_PAGE_SIZE = 20;

/** Events of a deployment per page. */
export const EVENTS_PAGE_SIZE = 10;

/** Lines of each worker's log shown. */
export const LOG_LINES = 200;

/** The backend's deployment name rule: it is part of the endpoint's URL. */
export const DEPLOYMENT_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The backend's address as client systems reach it; the panel cannot know it, so the text names it. */
export const BACKEND_PLACEHOLDER = '<backend>';

// --- roles ---------------------------------------------------------------------------------------------

/** Whether this role may deploy, switch, roll back, scale and delete (scientists and up). */
export function canDeploy(role: Role | null | undefined): boolean {
  return role === 'scientist' || role === 'lead' || role === 'admin';
}

/** Whether this role may create and revoke API keys (leads and admins). */
export function canManageKeys(role: Role | null | undefined): boolean {
  return role === 'lead' || role === 'admin';
}

// --- status --------------------------------------------------------------------------------------------

/** The colour family of a deployment status. */
export type DeploymentTone = 'success' | 'running' | 'warning' | 'failure' | 'pending';

const STATUS: Record<string, { tone: DeploymentTone; label: string; title: string }> = {
  ready: { tone: 'success', label: 'Ready', title: 'Every worker is up and answering.' },
  deploying: { tone: 'running', label: 'Starting', title: 'Workers are verifying and loading the model.' },
  degraded: {
    tone: 'warning',
    label: 'Degraded',
    title: 'A worker is down; the platform is restarting it.'
  },
  failed: { tone: 'failure', label: 'Failed', title: 'The workers did not start; see the message and logs.' },
  stopped: { tone: 'pending', label: 'Stopped', title: 'No worker is running.' }
};

/** A status as a person reads it, with its colour and an explanation for the tooltip. */
export function deploymentStatus(status: string): { tone: DeploymentTone; label: string; title: string } {
  return STATUS[status] ?? { tone: 'pending', label: status, title: status };
}

/** The CSS class of a status chip. */
export function statusChipClass(status: string): string {
  return `jp-mlp-chip jp-mlp-tone-${deploymentStatus(status).tone}`;
}

/** Whether the deployment is still starting (worth polling until it is not). */
export function isStarting(status: string): boolean {
  return status === 'deploying';
}

// --- the target: a version number or an alias ---------------------------------------------------------

/** What the Deploy form starts with when opened from a model version. */
export interface IDeployPrefill {
  model: string;
  alias?: string;
  version?: number;
}

/** The prefill for a version row of the Models panel: its best alias (champion first), else its number. */
export function prefillFromVersion(model: string, version: Pick<ModelVersion, 'version' | 'aliases'>): IDeployPrefill {
  const alias = PROMOTION_ALIASES.slice()
    .reverse()
    .find(a => version.aliases.includes(a));
  return alias ? { model, alias } : { model, version: version.version };
}

/** Whether a version holds an alias that makes it deployable (only validated versions are served). */
export function isDeployable(version: Pick<ModelVersion, 'aliases'>): boolean {
  return PROMOTION_ALIASES.some(a => version.aliases.includes(a));
}

/** The text of the target input for a prefill. */
export function targetText(prefill: Pick<IDeployPrefill, 'alias' | 'version'>): string {
  return prefill.alias ?? (prefill.version === undefined ? 'champion' : String(prefill.version));
}

/** `champion`, `staging`, `3` or `v3` → the request's alias or version; an error sentence otherwise. */
export function parseTarget(text: string): SwitchRequest | { error: string } {
  const value = text.trim().toLowerCase();
  if (!value) {
    return { error: 'Enter champion, staging or a version number.' };
  }
  if ((PROMOTION_ALIASES as readonly string[]).includes(value)) {
    return { alias: value as 'staging' | 'champion' };
  }
  const match = /^v?(\d+)$/.exec(value);
  if (match && Number(match[1]) >= 1) {
    return { version: Number(match[1]) };
  }
  return { error: `"${text.trim()}" is not champion, staging or a version number.` };
}

/** A target in words: `champion` or `v3`. */
export function describeTarget(target: SwitchRequest): string {
  return target.alias ?? `v${target.version}`;
}

// --- the Deploy form -----------------------------------------------------------------------------------

/** The Deploy form's inputs, as typed. */
export interface IDeployInput {
  name: string;
  model: string;
  target: string;
  minWorkers: string;
  maxWorkers: string;
  slaMs: string;
}

/** Deploy form fields the panel can point at. */
export type DeployField = 'name' | 'model' | 'target' | 'min_workers' | 'max_workers' | 'sla_ms';

const DEPLOY_FIELDS: ReadonlySet<string> = new Set(['name', 'model', 'min_workers', 'max_workers', 'sla_ms']);

/** The Deploy form's initial inputs for a prefill (the name defaults to the model's). */
export function deployInput(prefill?: IDeployPrefill | null): IDeployInput {
  return {
    name: prefill?.model.replace(/_/g, '-') ?? '',
    model: prefill?.model ?? '',
    target: prefill ? targetText(prefill) : 'champion',
    minWorkers: '1',
    maxWorkers: '2',
    slaMs: '100'
  };
}

/** Check a deployment name as the backend will; a sentence saying what is wrong, or null. */
export function validateDeploymentName(name: string): string | null {
  if (!name) {
    return 'Enter a deployment name.';
  }
  if (name.length > 63) {
    return `A deployment name can be at most 63 characters (this one has ${name.length}).`;
  }
  if (!DEPLOYMENT_NAME_PATTERN.test(name)) {
    return 'A deployment name is part of its URL: lowercase letters, digits and -, starting with a letter or digit.';
  }
  return null;
}

function wholeNumber(text: string, min: number, max: number, what: string): number | string {
  const value = Number(text.trim());
  if (!text.trim() || !Number.isInteger(value) || value < min || value > max) {
    return `${what} is a whole number from ${min} to ${max}.`;
  }
  return value;
}

function positive(text: string, max: number, what: string): number | string {
  const value = Number(text.trim());
  if (!text.trim() || !Number.isFinite(value) || value <= 0 || value > max) {
    return `${what} is a number above 0 and at most ${max}.`;
  }
  return value;
}

/** A deployment's worker range and latency objective. */
export interface IScaling {
  min_workers: number;
  max_workers: number;
  sla_ms: number;
}

/** Worker range and SLA from their inputs, or the problem of each field. */
export function scalingFields(
  input: Pick<IDeployInput, 'minWorkers' | 'maxWorkers' | 'slaMs'>
): { value: IScaling } | { errors: Partial<Record<DeployField, string>> } {
  const errors: Partial<Record<DeployField, string>> = {};
  const min = wholeNumber(input.minWorkers, 1, 16, 'Minimum workers');
  const max = wholeNumber(input.maxWorkers, 1, 16, 'Maximum workers');
  const sla = positive(input.slaMs, 60000, 'The SLA (ms)');
  if (typeof min === 'string') {
    errors.min_workers = min;
  }
  if (typeof max === 'string') {
    errors.max_workers = max;
  }
  if (typeof sla === 'string') {
    errors.sla_ms = sla;
  }
  if (typeof min === 'number' && typeof max === 'number' && max < min) {
    errors.max_workers = 'Maximum workers must be at least the minimum.';
  }
  if (Object.keys(errors).length > 0) {
    return { errors };
  }
  return { value: { min_workers: min as number, max_workers: max as number, sla_ms: sla as number } };
}

/** The request for the Deploy form, or the problems of each field. */
export function deployRequest(
  input: IDeployInput
): { request: DeployRequest } | { errors: Partial<Record<DeployField, string>> } {
  const name = input.name.trim();
  const model = input.model.trim();
  const target = parseTarget(input.target);
  const scaling = scalingFields(input);
  const errors: Partial<Record<DeployField, string>> = 'errors' in scaling ? { ...scaling.errors } : {};
  const nameProblem = validateDeploymentName(name);
  if (nameProblem) {
    errors.name = nameProblem;
  }
  if (!model) {
    errors.model = 'Enter the registered model to serve.';
  }
  if ('error' in target) {
    errors.target = target.error;
  }
  if (Object.keys(errors).length > 0 || 'errors' in scaling || 'error' in target) {
    return { errors };
  }
  return { request: { name, model, ...target, ...scaling.value } };
}

/** A refused deploy: the field at fault (a taken name goes under the name) or a general message. */
export function deployFailure(err: unknown, describe: (err: unknown) => string): IFormFailure<DeployField> {
  return fieldFailure<DeployField>(err, describe, field => {
    if (field === 'version' || field === 'alias') {
      return 'target';
    }
    return DEPLOY_FIELDS.has(field) ? (field as DeployField) : null;
  });
}

// --- the endpoint --------------------------------------------------------------------------------------

/** A `dataframe_split` body: the model signature's columns and one example row (from the backend). */
export interface IExampleBody {
  columns: string[];
  data: unknown[][];
}

/** Whether the backend's example is a usable `dataframe_split` body. */
function isExample(value: unknown): value is IExampleBody {
  const v = value as IExampleBody | null | undefined;
  return (
    !!v &&
    Array.isArray(v.columns) &&
    v.columns.every(c => typeof c === 'string') &&
    Array.isArray(v.data) &&
    v.data.length > 0 &&
    Array.isArray(v.data[0])
  );
}

/**
 * A curl call of the MLflow scoring endpoint at `path` under `base` (the backend's address as the deployment
 * reports it), with the model signature's columns and an example row; placeholders only for what the panel
 * cannot know (the key, and the backend or the columns when they are not known).
 */
export function curlExample(path: string, base?: string | null, example?: unknown): string {
  const body = isExample(example)
    ? JSON.stringify({ dataframe_split: { columns: example.columns, data: [example.data[0]] } })
    : '{"dataframe_split": {"columns": ["<feature>", …], "data": [[<value>, …]]}}';
  return [
    `curl -X POST '${base || BACKEND_PLACEHOLDER}${path}' \\`,
    "  -H 'Authorization: Bearer <your API key>' \\",
    "  -H 'Content-Type: application/json' \\",
    `  -d '${body.replace(/'/g, "'\\''")}'`
  ].join('\n');
}

/**
 * What the panel says of the example row when the project's column policies shaped it for the caller's role (the
 * backend decides: `policies` names the policies that masked or hashed values, `withheld` why a denied column left
 * the example without its row); null when the row is as logged.
 */
export function exampleNote(example: unknown): string | null {
  const e = example as { policies?: unknown; withheld?: unknown } | null | undefined;
  if (!e || typeof e !== 'object') {
    return null;
  }
  if (typeof e.withheld === 'string' && e.withheld) {
    return `No example row for your role: ${e.withheld}`;
  }
  const names = Array.isArray(e.policies) ? e.policies.filter(p => typeof p === 'string') : [];
  return names.length
    ? `The example row is shaped for your role by column policies ${names.join(', ')} (masked or hashed values).`
    : null;
}

/** How long a worker has been up, from the backend's reading (its own monotonic clock, so it never jumps). */
export function workerUptime(uptimeSeconds: number | null | undefined): string {
  if (typeof uptimeSeconds !== 'number' || !Number.isFinite(uptimeSeconds) || uptimeSeconds < 0) {
    return '—';
  }
  const s = Math.floor(uptimeSeconds);
  if (s < 60) {
    return `${s} s`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m} min ${s % 60} s`;
  }
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h ${m % 60} min` : `${Math.floor(h / 24)} d ${h % 24} h`;
}

// --- events --------------------------------------------------------------------------------------------

function fromTo(detail: Record<string, unknown> | null, version: number | null): string {
  const from = num(detail?.from_version);
  const to = version === null ? '?' : `v${version}`;
  return from === null || from === version ? to : `v${from} → ${to}`;
}

/** What an event did, in one sentence. */
export function eventSentence(e: Pick<DeploymentEvent, 'action' | 'version' | 'detail'>): string {
  const d = e.detail;
  switch (e.action) {
    case 'deploy':
      return `Deployed v${e.version ?? '?'}.`;
    case 'switch':
      return `Switched ${fromTo(d, e.version)}.`;
    case 'rollback':
      return `Rolled back ${fromTo(d, e.version)}.`;
    case 'restart': {
      const code = num(d?.exit_code);
      return `Restarted worker ${num(d?.worker) ?? '?'}${code === null ? '' : ` (it exited with code ${code})`}.`;
    }
    case 'scale': {
      const why =
        d?.reason === 'idle'
          ? ' (idle)'
          : num(d?.p95_ms) !== null
            ? ` (p95 ${num(d?.p95_ms)} ms over the ${num(d?.sla_ms) ?? '?'} ms SLA)`
            : '';
      return `Scaled from ${num(d?.from) ?? '?'} to ${num(d?.to) ?? '?'} workers${why}.`;
    }
    case 'configure': {
      const after = (d?.after ?? null) as Record<string, unknown> | null;
      return after
        ? `Set workers ${num(after.min_workers)}–${num(after.max_workers)}, SLA ${num(after.sla_ms)} ms.`
        : 'Changed the settings.';
    }
    case 'failed': {
      const message = typeof d?.message === 'string' ? d.message : 'no reason given';
      return `Failed to start v${e.version ?? '?'}: ${message}`;
    }
    default:
      return `${e.action}${e.version === null ? '' : ` v${e.version}`}.`;
  }
}

/** The CSS tone of an event: failures red, restarts amber, the rest neutral. */
export function eventTone(action: string): DeploymentTone {
  return action === 'failed' ? 'failure' : action === 'restart' ? 'warning' : 'pending';
}

// --- API keys ------------------------------------------------------------------------------------------

/** The key form's request: a name (1–64 characters), an optional deployment and an optional rate. */
export function keyRequest(input: {
  name: string;
  deployment: string;
  rate: string;
}): { request: { name: string; deployment?: string; rate_per_s?: number } } | { error: string } {
  const name = input.name.trim();
  if (!name) {
    return { error: 'Name the key after the client system that will use it.' };
  }
  if (name.length > 64) {
    return { error: 'A key name has at most 64 characters.' };
  }
  const request: { name: string; deployment?: string; rate_per_s?: number } = { name };
  if (input.deployment) {
    request.deployment = input.deployment;
  }
  if (input.rate.trim()) {
    const rate = positive(input.rate, 1e6, 'The rate limit (requests per second)');
    if (typeof rate === 'string') {
      return { error: rate };
    }
    request.rate_per_s = rate;
  }
  return { request };
}

/** Where a key works, in words. */
export function keyScope(deployment: string | null | undefined): string {
  return deployment ? `only ${deployment}` : 'every deployment of the project';
}

/** The deployment's workers as a short phrase: `2 workers (1–3)`. */
export function workersLabel(d: Pick<Deployment, 'workers' | 'min_workers' | 'max_workers'>): string {
  const n = d.workers.length;
  return `${n} worker${n === 1 ? '' : 's'} (${d.min_workers}–${d.max_workers})`;
}
