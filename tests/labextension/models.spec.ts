import type { GateDecision } from '../../labextension/src/common/api';
import { ApiError, formatApiError } from '../../labextension/src/common/errors';
import {
  aliasChipClass,
  aliasEntries,
  aliasesOfVersion,
  canApproveModels,
  canWriteModels,
  decisionBrief,
  decisionHeadline,
  decisionStatusLabel,
  decisionTone,
  defaultDiffPair,
  evaluationSummary,
  gateResults,
  keyMetrics,
  registerFailure,
  registerRequest,
  seekVersionOffset,
  signatureLabel,
  sortAliases,
  validateModelName,
  versionNumbers,
  versionPageOffset
} from '../../labextension/src/models/models';

const evidence = (results: unknown[], extra: Record<string, unknown> = {}) => ({ results, ...extra });

type Decision = Pick<GateDecision, 'status' | 'alias' | 'version' | 'alias_moved' | 'decided_by' | 'evidence'>;

const decision = (overrides: Partial<Decision> = {}): Decision => ({
  status: 'passed',
  alias: 'champion',
  version: 3,
  alias_moved: true,
  decided_by: 'gates',
  evidence: evidence([
    { gate: 'signature', passed: true, message: 'files match' },
    { gate: 'threshold', passed: true, message: 'accuracy 0.9 >= 0.8' }
  ]),
  ...overrides
});

describe('roles', () => {
  it('lets scientists and up register and promote, leads and admins approve', () => {
    expect(['viewer', 'stakeholder', 'scientist', 'lead', 'admin'].map(r => canWriteModels(r as never))).toEqual([
      false,
      false,
      true,
      true,
      true
    ]);
    expect(['viewer', 'scientist', 'lead', 'admin'].map(r => canApproveModels(r as never))).toEqual([
      false,
      false,
      true,
      true
    ]);
    expect(canWriteModels(null)).toBe(false);
    expect(canApproveModels(undefined)).toBe(false);
  });
});

describe('aliases', () => {
  it('orders champion, staging, then the rest alphabetically, without duplicates', () => {
    expect(sortAliases(['zeta', 'staging', 'alpha', 'champion', 'staging'])).toEqual([
      'champion',
      'staging',
      'alpha',
      'zeta'
    ]);
  });

  it('gives known aliases their colour and any other the neutral chip', () => {
    expect(aliasChipClass('champion')).toContain('jp-mlp-alias-champion');
    expect(aliasChipClass('staging')).toContain('jp-mlp-alias-staging');
    expect(aliasChipClass('canary')).toContain('jp-mlp-alias-other');
    expect(aliasChipClass('canary')).not.toContain('jp-mlp-alias-canary');
  });

  it('pairs aliases with versions and finds those of one version', () => {
    const map = { staging: 4, champion: 3, shadow: 3 };
    expect(aliasEntries(map)).toEqual([
      ['champion', 3],
      ['staging', 4],
      ['shadow', 3]
    ]);
    expect(aliasesOfVersion(map, 3)).toEqual(['champion', 'shadow']);
    expect(aliasesOfVersion(map, 9)).toEqual([]);
    expect(aliasEntries(null)).toEqual([]);
  });
});

describe('versions', () => {
  it('shows the first metrics by name', () => {
    expect(keyMetrics({ rmse: 2, auc: 0.9, f1: 0.8, accuracy: 0.95 })).toEqual([
      ['accuracy', 0.95],
      ['auc', 0.9],
      ['f1', 0.8]
    ]);
    expect(keyMetrics(undefined)).toEqual([]);
  });

  it('says who signed a version, and that an unsigned one will not load', () => {
    const signed = signatureLabel({ signed: true, key_id: 'k1', files: 4 });
    expect(signed.ok).toBe(true);
    expect(signed.title).toContain('4 files');
    expect(signed.title).toContain('k1');
    const unsigned = signatureLabel({ signed: false, key_id: null, files: 4 });
    expect(unsigned.ok).toBe(false);
    expect(unsigned.title).toMatch(/refuses/);
  });

  it('lists version numbers newest first and diffs the one before the newest against it', () => {
    expect(versionNumbers([{ version: 2 }, { version: 5 }, { version: 3 }, { version: 5 }])).toEqual([5, 3, 2]);
    expect(defaultDiffPair([2, 5, 3])).toEqual({ a: 3, b: 5 });
    expect(defaultDiffPair([7])).toBeNull();
    expect(defaultDiffPair([7, 7])).toBeNull();
  });
});

describe('decisions', () => {
  it('colours statuses and names them in words; an unknown status waits', () => {
    expect(['passed', 'approved', 'failed', 'rejected', 'pending', 'weird'].map(decisionTone)).toEqual([
      'success',
      'success',
      'failure',
      'failure',
      'waiting',
      'waiting'
    ]);
    expect(decisionStatusLabel('pending')).toBe('Waiting for approval');
    expect(decisionStatusLabel('weird')).toBe('weird');
  });

  it('reads gate results and skips malformed entries', () => {
    const results = gateResults(
      evidence([
        { gate: 'challenger', passed: false, message: 'auc 0.7 < champion 0.8' },
        'junk',
        null,
        { passed: 'yes' },
        { gate: 'custom', passed: true }
      ])
    );
    expect(results).toEqual([
      { gate: 'challenger', label: 'Beats champion', passed: false, message: 'auc 0.7 < champion 0.8' },
      { gate: 'gate', label: 'gate', passed: false, message: '' },
      { gate: 'custom', label: 'custom', passed: true, message: '' }
    ]);
    expect(gateResults({ results: 'nope' })).toEqual([]);
    expect(gateResults(null)).toEqual([]);
  });

  it('puts challenger and champion metrics side by side, only when an evaluation ran', () => {
    const summary = evaluationSummary({
      evaluation: {
        dataset: 'loans',
        target: 'default',
        snapshot_id: 1234567890123,
        rows: 400,
        challenger: { auc: 0.91, f1: 0.8 },
        champion: { auc: 0.88, brier: 0.1 }
      }
    });
    expect(summary).toEqual({
      dataset: 'loans',
      target: 'default',
      snapshotId: '1234567890123',
      rows: 400,
      metrics: [
        { metric: 'auc', challenger: 0.91, champion: 0.88 },
        { metric: 'brier', challenger: null, champion: 0.1 },
        { metric: 'f1', challenger: 0.8, champion: null }
      ],
      hasChampion: true
    });
    const alone = evaluationSummary({ evaluation: { dataset: 'loans', target: 'y', challenger: { auc: 0.9 } } });
    expect(alone?.hasChampion).toBe(false);
    expect(alone?.snapshotId).toBeNull();
    expect(alone?.metrics).toEqual([{ metric: 'auc', challenger: 0.9, champion: null }]);
    expect(evaluationSummary({ evaluation: null })).toBeNull();
  });

  it('says what a decision means for the alias', () => {
    expect(decisionHeadline(decision())).toBe('All 2 gates passed: champion now points at v3.');
    expect(decisionHeadline(decision({ alias_moved: false }))).toBe(
      'All 2 gates passed; champion has moved on since.'
    );
    expect(decisionHeadline(decision({ status: 'pending', alias_moved: false, decided_by: null }))).toBe(
      'All 2 gates passed; a lead must approve before champion moves to v3.'
    );
    expect(decisionHeadline(decision({ status: 'approved', decided_by: 'lena' }))).toBe(
      'Approved by lena: champion points at v3.'
    );
    expect(decisionHeadline(decision({ status: 'rejected', decided_by: 'lena', alias_moved: false }))).toBe(
      'Rejected by lena: champion stays where it was.'
    );
    const failed = decision({
      status: 'failed',
      alias_moved: false,
      evidence: evidence([
        { gate: 'signature', passed: false, message: 'tampered' },
        { gate: 'threshold', passed: true, message: '' },
        { gate: 'threshold', passed: false, message: '' }
      ])
    });
    expect(decisionHeadline(failed)).toBe('2 of 3 gates failed: champion stays where it was.');
    expect(decisionBrief(failed)).toBe('v3 → champion · 1/3 gates passed');
  });

  it('counts one gate in the singular', () => {
    const one = decision({ evidence: evidence([{ gate: 'signature', passed: true, message: '' }]) });
    expect(decisionHeadline(one)).toBe('All 1 gate passed: champion now points at v3.');
  });
});

describe('the Register form', () => {
  it('checks the model name as the backend does', () => {
    expect(validateModelName('credit-risk_2')).toBeNull();
    expect(validateModelName('')).toMatch(/Enter/);
    expect(validateModelName('Credit')).toMatch(/lowercase/);
    expect(validateModelName('-credit')).toMatch(/starts with/);
    expect(validateModelName('a b')).toMatch(/only lowercase/);
    expect(validateModelName('a'.repeat(64))).toMatch(/at most 63/);
    expect(validateModelName('a'.repeat(63))).toBeNull();
  });

  it('trims the inputs and defaults the artifact path to the logged model', () => {
    expect(registerRequest({ name: ' credit ', runId: ' abc ', artifactPath: '  ' })).toEqual({
      request: { name: 'credit', run_id: 'abc', artifact_path: 'model' }
    });
  });

  it('names every field at fault before asking the backend', () => {
    const checked = registerRequest({ name: 'Bad Name', runId: '', artifactPath: 'x'.repeat(1025) });
    expect('errors' in checked && Object.keys(checked.errors).sort()).toEqual(['artifact_path', 'name', 'run_id']);
    const long = registerRequest({ name: 'ok', runId: 'r'.repeat(65), artifactPath: 'model' });
    expect('errors' in long && long.errors.run_id).toMatch(/64/);
  });

  it('puts an unknown run next to the run id', () => {
    const err = new ApiError(404, 'not_found', "Run 'nope' not found");
    expect(registerFailure(err, formatApiError)).toEqual({
      fields: { run_id: "Run 'nope' not found." },
      general: "Run 'nope' not found."
    });
  });

  it('puts a field the backend names next to that field, with its own message or the error', () => {
    const named = new ApiError(422, 'validation_error', "'weights' is not an MLflow model (no MLmodel file)", [
      { field: 'artifact_path' }
    ]);
    expect(registerFailure(named, formatApiError).fields).toEqual({
      artifact_path: "'weights' is not an MLflow model (no MLmodel file)."
    });
    const own = new ApiError(422, 'validation_error', 'name: bad', [
      { field: 'name', message: 'string should match pattern' },
      { field: 'tags', message: 'not a field of the form' }
    ]);
    const failure = registerFailure(own, formatApiError);
    expect(failure.fields).toEqual({ name: 'String should match pattern.' });
    expect(failure.general).toBe(formatApiError(own));
  });

  it('keeps other failures general', () => {
    const forbidden = new ApiError(403, 'forbidden', 'scientists and up register models');
    expect(registerFailure(forbidden, formatApiError)).toEqual({
      fields: {},
      general: 'Scientists and up register models.'
    });
    expect(registerFailure(new Error('network down'), formatApiError).fields).toEqual({});
  });
});

describe('a cited version is found among the pages (newest first)', () => {
  it('goes to the page its number says when numbering has no gaps', () => {
    expect(versionPageOffset(7, 7, 50)).toBe(0);
    expect(versionPageOffset(120, 71, 50)).toBe(0); // 49 newer versions: the last row of the first page
    expect(versionPageOffset(120, 70, 50)).toBe(50);
    expect(versionPageOffset(120, 1, 50)).toBe(100);
    expect(versionPageOffset(3, 9, 50)).toBe(0); // newer than the newest: the first page (it is not there)
  });

  it('looks a page back or on when gaps moved it, and gives up where it cannot be', () => {
    const page = (from: number, n: number) => Array.from({ length: n }, (_, i) => from - i);
    expect(seekVersionOffset(page(100, 50), 80, 0, 120, 50)).toBeNull(); // on the page
    expect(seekVersionOffset(page(60, 50), 65, 50, 120, 50)).toBe(0); // newer than the page: the one before
    expect(seekVersionOffset(page(100, 50), 40, 0, 120, 50)).toBe(50); // older: the one after
    expect(seekVersionOffset(page(20, 20), 3, 100, 120, 50)).toBeNull(); // older than the oldest there is
    expect(seekVersionOffset(page(100, 50), 120, 0, 120, 50)).toBeNull(); // newer than the newest
    expect(seekVersionOffset([10, 8, 7], 9, 0, 3, 50)).toBeNull(); // a gap: it does not exist
    expect(seekVersionOffset([], 1, 0, 0, 50)).toBeNull();
  });
});
