import type { DeploymentEvent } from '../../labextension/src/common/api';
import {
  canDeploy,
  canManageKeys,
  curlExample,
  exampleNote,
  workerUptime,
  deployFailure,
  deployInput,
  deploymentStatus,
  deployRequest,
  describeTarget,
  eventSentence,
  eventTone,
  isDeployable,
  keyRequest,
  keyScope,
  parseTarget,
  prefillFromVersion,
  scalingFields,
  statusChipClass,
  validateDeploymentName,
  workersLabel
} from '../../labextension/src/deployments/deployments';
import { ApiError, formatApiError } from '../../labextension/src/common/errors';

const ROLES = ['viewer', 'stakeholder', 'scientist', 'lead', 'admin'] as const;

describe('roles', () => {
  it('lets scientists and up deploy, and only leads and admins manage keys', () => {
    expect(ROLES.map(canDeploy)).toEqual([false, false, true, true, true]);
    expect(ROLES.map(canManageKeys)).toEqual([false, false, false, true, true]);
    expect(canDeploy(null)).toBe(false);
  });
});

describe('status', () => {
  it('reads each status in words with its colour', () => {
    expect(deploymentStatus('ready')).toMatchObject({ tone: 'success', label: 'Ready' });
    expect(deploymentStatus('deploying')).toMatchObject({ tone: 'running', label: 'Starting' });
    expect(deploymentStatus('degraded').tone).toBe('warning');
    expect(deploymentStatus('failed').tone).toBe('failure');
    expect(statusChipClass('ready')).toBe('jp-mlp-chip jp-mlp-tone-success');
  });

  it('shows an unknown status as it came, neutral', () => {
    expect(deploymentStatus('draining')).toMatchObject({ tone: 'pending', label: 'draining' });
  });
});

describe('targets', () => {
  it('reads aliases and version numbers', () => {
    expect(parseTarget('champion')).toEqual({ alias: 'champion' });
    expect(parseTarget(' Staging ')).toEqual({ alias: 'staging' });
    expect(parseTarget('3')).toEqual({ version: 3 });
    expect(parseTarget('v12')).toEqual({ version: 12 });
  });

  it('says what is wrong with anything else', () => {
    expect(parseTarget('')).toEqual({ error: 'Enter champion, staging or a version number.' });
    expect(parseTarget('latest')).toEqual({ error: '"latest" is not champion, staging or a version number.' });
    expect('error' in parseTarget('0')).toBe(true);
    expect('error' in parseTarget('1.5')).toBe(true);
  });

  it('describes a target briefly', () => {
    expect(describeTarget({ alias: 'champion' })).toBe('champion');
    expect(describeTarget({ version: 4 })).toBe('v4');
  });

  it('prefills from a version: champion first, then staging, else its number', () => {
    expect(prefillFromVersion('credit', { version: 2, aliases: ['staging', 'champion'] })).toEqual({
      model: 'credit',
      alias: 'champion'
    });
    expect(prefillFromVersion('credit', { version: 2, aliases: ['staging'] })).toEqual({
      model: 'credit',
      alias: 'staging'
    });
    expect(prefillFromVersion('credit', { version: 2, aliases: [] })).toEqual({ model: 'credit', version: 2 });
  });

  it('offers Deploy only for versions holding staging or champion', () => {
    expect(isDeployable({ aliases: ['champion'] })).toBe(true);
    expect(isDeployable({ aliases: ['staging'] })).toBe(true);
    expect(isDeployable({ aliases: [] })).toBe(false);
    expect(isDeployable({ aliases: ['shadow'] })).toBe(false);
  });
});

describe('the Deploy form', () => {
  it('starts from a prefill, naming the deployment after the model', () => {
    expect(deployInput({ model: 'credit_risk', alias: 'staging' })).toMatchObject({
      name: 'credit-risk',
      model: 'credit_risk',
      target: 'staging',
      minWorkers: '1',
      maxWorkers: '2',
      slaMs: '100'
    });
    expect(deployInput({ model: 'credit', version: 3 }).target).toBe('3');
    expect(deployInput(null)).toMatchObject({ name: '', model: '', target: 'champion' });
  });

  it('builds the request', () => {
    const input = { ...deployInput({ model: 'credit', alias: 'champion' }), name: ' credit-api ' };
    expect(deployRequest(input)).toEqual({
      request: { name: 'credit-api', model: 'credit', alias: 'champion', min_workers: 1, max_workers: 2, sla_ms: 100 }
    });
    expect(deployRequest({ ...input, target: 'v2', slaMs: '250.5' })).toEqual({
      request: { name: 'credit-api', model: 'credit', version: 2, min_workers: 1, max_workers: 2, sla_ms: 250.5 }
    });
  });

  it('names each field at fault', () => {
    const result = deployRequest({
      name: 'Credit API',
      model: '',
      target: 'newest',
      minWorkers: '3',
      maxWorkers: '2',
      slaMs: '0'
    });
    expect('errors' in result && Object.keys(result.errors).sort()).toEqual([
      'max_workers',
      'model',
      'name',
      'sla_ms',
      'target'
    ]);
    expect('errors' in result && result.errors.max_workers).toBe('Maximum workers must be at least the minimum.');
  });

  it('checks names as the backend does', () => {
    expect(validateDeploymentName('credit-api')).toBeNull();
    expect(validateDeploymentName('')).toBe('Enter a deployment name.');
    expect(validateDeploymentName('credit_api')).toMatch(/lowercase letters, digits and -/);
    expect(validateDeploymentName('-x')).not.toBeNull();
    expect(validateDeploymentName('a'.repeat(64))).toMatch(/at most 63/);
  });

  it('checks the scaling numbers', () => {
    expect(scalingFields({ minWorkers: '2', maxWorkers: '4', slaMs: '50' })).toEqual({
      value: { min_workers: 2, max_workers: 4, sla_ms: 50 }
    });
    expect(scalingFields({ minWorkers: '0', maxWorkers: '17', slaMs: 'fast' })).toEqual({
      errors: {
        min_workers: 'Minimum workers is a whole number from 1 to 16.',
        max_workers: 'Maximum workers is a whole number from 1 to 16.',
        sla_ms: 'The SLA (ms) is a number above 0 and at most 60000.'
      }
    });
  });

  it('puts a taken name under the name and an unvalidated version in the general error', () => {
    const taken = new ApiError(409, 'conflict', "Deployment 'credit-api' exists: switch its version instead", [
      { field: 'name' }
    ]);
    expect(deployFailure(taken, formatApiError)).toEqual({
      fields: { name: "Deployment 'credit-api' exists: switch its version instead." },
      general: "Deployment 'credit-api' exists: switch its version instead."
    });
    const gates = new ApiError(409, 'conflict', 'credit version 2 has not passed the gates');
    expect(deployFailure(gates, formatApiError)).toEqual({
      fields: {},
      general: 'Credit version 2 has not passed the gates.'
    });
    const invalid = new ApiError(422, 'validation_error', 'invalid', [
      { field: 'alias', message: "Input should be 'staging' or 'champion'" }
    ]);
    expect(deployFailure(invalid, formatApiError).fields).toEqual({
      target: "Input should be 'staging' or 'champion'."
    });
  });
});

describe('the endpoint', () => {
  it('shows a curl call with placeholders for what the panel cannot know', () => {
    const curl = curlExample('/serve/acme/credit-api/invocations');
    expect(curl.split('\n')[0]).toBe("curl -X POST '<backend>/serve/acme/credit-api/invocations' \\");
    expect(curl).toContain("-H 'Authorization: Bearer <your API key>'");
    expect(curl).toContain('"dataframe_split"');
    expect(curlExample('/serve/a/b/invocations', 'https://ml.example.com')).toContain(
      "'https://ml.example.com/serve/a/b/invocations'"
    );
  });

  it("shows the backend's real URL and the signature's columns with an example row", () => {
    const curl = curlExample('/serve/acme/credit-api/invocations', 'http://127.0.0.1:8765', {
      columns: ['age', 'owner'],
      data: [[41.5, "O'Neil"]]
    });
    expect(curl.split('\n')[0]).toBe("curl -X POST 'http://127.0.0.1:8765/serve/acme/credit-api/invocations' \\");
    expect(curl).not.toContain('<feature>');
    expect(curl).not.toContain('<backend>');
    const body = curl.split('\n')[3].trim().replace(/^-d '/, '').replace(/'$/, '').replace(/'\\''/g, "'");
    expect(JSON.parse(body)).toEqual({ dataframe_split: { columns: ['age', 'owner'], data: [[41.5, "O'Neil"]] } });
    expect(curlExample('/p', null, { columns: 'nope' })).toContain('<feature>'); // no usable example: placeholders
  });

  it('says when column policies shaped the example row for the caller, naming them', () => {
    expect(exampleNote({ columns: ['x1'], data: [[0.5]] })).toBeNull(); // as logged
    expect(exampleNote(null)).toBeNull();
    const masked = { columns: ['x1', 'x2'], data: [['***', 0.5]], policies: ['feats.x1:viewer=mask'] };
    expect(exampleNote(masked)).toContain('feats.x1:viewer=mask');
    expect(JSON.parse(curlExample('/p', 'http://h', masked).split("-d '")[1].slice(0, -1))).toEqual({
      dataframe_split: { columns: ['x1', 'x2'], data: [['***', 0.5]] }
    });
    const denied = { columns: ['x1'], data: [], withheld: "Column 'x1' is denied ... feats.x1:viewer=deny" };
    expect(exampleNote(denied)).toBe(`No example row for your role: ${denied.withheld}`);
    expect(curlExample('/p', null, denied)).toContain('<feature>'); // no row: placeholders
  });

  it("reads a worker's uptime from the backend's monotonic reading", () => {
    expect([5.9, 65, 3 * 3600 + 120, 3 * 86400].map(workerUptime)).toEqual(['5 s', '1 min 5 s', '3 h 2 min', '3 d 0 h']);
    expect(workerUptime(undefined)).toBe('—');
  });

  it('counts workers against their range', () => {
    expect(workersLabel({ workers: [{}] as never, min_workers: 1, max_workers: 3 })).toBe('1 worker (1–3)');
    expect(workersLabel({ workers: [], min_workers: 2, max_workers: 2 })).toBe('0 workers (2–2)');
  });
});

describe('events', () => {
  const event = (action: string, version: number | null, detail: Record<string, unknown> | null) =>
    ({ action, version, detail }) as Pick<DeploymentEvent, 'action' | 'version' | 'detail'>;

  it('says what each event did', () => {
    expect(eventSentence(event('deploy', 1, { from_version: null }))).toBe('Deployed v1.');
    expect(eventSentence(event('switch', 2, { from_version: 1 }))).toBe('Switched v1 → v2.');
    expect(eventSentence(event('rollback', 1, { from_version: 2 }))).toBe('Rolled back v2 → v1.');
    expect(eventSentence(event('restart', 1, { worker: 0, exit_code: -9, version: 1 }))).toBe(
      'Restarted worker 0 (it exited with code -9).'
    );
    expect(eventSentence(event('scale', 1, { from: 1, to: 2, p95_ms: 130.5, sla_ms: 100 }))).toBe(
      'Scaled from 1 to 2 workers (p95 130.5 ms over the 100 ms SLA).'
    );
    expect(eventSentence(event('scale', 1, { from: 2, to: 1, reason: 'idle' }))).toBe(
      'Scaled from 2 to 1 workers (idle).'
    );
    expect(
      eventSentence(event('configure', 1, { before: {}, after: { min_workers: 1, max_workers: 3, sla_ms: 200 } }))
    ).toBe('Set workers 1–3, SLA 200 ms.');
    expect(eventSentence(event('failed', 3, { message: 'signature does not match', action: 'switch' }))).toBe(
      'Failed to start v3: signature does not match'
    );
  });

  it('copes with missing details and unknown actions', () => {
    expect(eventSentence(event('switch', 2, null))).toBe('Switched v2.');
    expect(eventSentence(event('restart', null, null))).toBe('Restarted worker ?.');
    expect(eventSentence(event('drain', 4, null))).toBe('drain v4.');
  });

  it('colours failures and restarts', () => {
    expect(eventTone('failed')).toBe('failure');
    expect(eventTone('restart')).toBe('warning');
    expect(eventTone('deploy')).toBe('pending');
  });
});

describe('API keys', () => {
  it('builds the request, leaving out what was not chosen', () => {
    expect(keyRequest({ name: ' crm ', deployment: '', rate: '' })).toEqual({ request: { name: 'crm' } });
    expect(keyRequest({ name: 'crm', deployment: 'credit-api', rate: '50' })).toEqual({
      request: { name: 'crm', deployment: 'credit-api', rate_per_s: 50 }
    });
  });

  it('says what is wrong', () => {
    expect(keyRequest({ name: '', deployment: '', rate: '' })).toEqual({
      error: 'Name the key after the client system that will use it.'
    });
    expect(keyRequest({ name: 'x'.repeat(65), deployment: '', rate: '' })).toEqual({
      error: 'A key name has at most 64 characters.'
    });
    expect(keyRequest({ name: 'crm', deployment: '', rate: '-1' })).toEqual({
      error: 'The rate limit (requests per second) is a number above 0 and at most 1000000.'
    });
  });

  it('says where a key works', () => {
    expect(keyScope('credit-api')).toBe('only credit-api');
    expect(keyScope(null)).toBe('every deployment of the project');
  });
});
