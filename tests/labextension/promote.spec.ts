import { ApiError } from '../../labextension/src/common/errors';
import {
  newestFirst,
  pipelineNameFromPath,
  promoteTarget,
  proposedPipelineName,
  problemLocation,
  problemMessage,
  promoteFailure,
  promoteOutcome,
  refusalText,
  shortVersion,
  sortProblems,
  validatePipelineName
} from '../../labextension/src/pipelines/promote';
import type { Problem } from '../../labextension/src/common/api';

const problem = (severity: Problem['severity'], cell: number | null, message = 'm'): Problem => ({
  severity,
  cell,
  code: 'x',
  message
});

describe('pipeline name', () => {
  it('is the notebook file name without extension, slugified', () => {
    expect(pipelineNameFromPath('work/Churn Model v2.ipynb')).toBe('churn-model-v2');
    expect(pipelineNameFromPath('train_model.ipynb')).toBe('train-model');
    expect(pipelineNameFromPath('a/b/Ünïcode__Notebook!.ipynb')).toBe('unicode-notebook');
    expect(pipelineNameFromPath('data.v1.ipynb')).toBe('data-v1');
    expect(pipelineNameFromPath('___.ipynb')).toBe('pipeline');
    expect(pipelineNameFromPath(`${'a'.repeat(62)} b.ipynb`)).toBe('a'.repeat(62));
  });

  it('accepts only lowercase letters, digits and hyphens', () => {
    expect(validatePipelineName('churn-2025')).toBeNull();
    expect(validatePipelineName('')).toMatch(/name/);
    expect(validatePipelineName('Churn')).toMatch(/lowercase/);
    expect(validatePipelineName('a b')).toMatch(/lowercase/);
    expect(validatePipelineName('-x')).toMatch(/Start/);
    expect(validatePipelineName('a'.repeat(63))).toBeNull();
    expect(validatePipelineName('a'.repeat(64))).toMatch(/63/);
  });
});

describe('problems', () => {
  it('lists errors first, then by cell, notebook-wide problems first', () => {
    const sorted = sortProblems([
      problem('warning', 1, 'w1'),
      problem('error', 5, 'e5'),
      problem('error', null, 'enb'),
      problem('error', 2, 'e2a'),
      problem('error', 2, 'e2b')
    ]);
    expect(sorted.map(p => p.message)).toEqual(['enb', 'e2a', 'e2b', 'e5', 'w1']);
  });

  it('names the cell', () => {
    expect(problemLocation(problem('error', 3))).toBe('Cell 3');
    expect(problemLocation(problem('error', null))).toBe('Notebook');
  });

  it('drops a leading "cell N:" that repeats the location', () => {
    expect(problemMessage(problem('error', 2, 'cell 2: magics do not run'))).toBe('Magics do not run');
    expect(problemMessage(problem('error', 3, 'cell 2: see there'))).toBe('cell 2: see there');
    expect(problemMessage(problem('error', null, 'cell 2: x'))).toBe('cell 2: x');
    expect(problemMessage(problem('warning', 12, 'Cell 12 : unused'))).toBe('Unused');
  });

  it('refuses promotion only for errors', () => {
    expect(refusalText([problem('warning', 1)])).toBeNull();
    expect(refusalText([problem('error', 1)])).toMatch(/^Promotion is refused: fix this error/);
    expect(refusalText([problem('error', 1), problem('error', 2)])).toMatch(/these 2 errors/);
  });
});

describe('promote results and failures', () => {
  it('shortens versions to 12 hex digits', () => {
    expect(shortVersion('a'.repeat(64))).toBe('a'.repeat(12));
  });

  it('says whether the version is new', () => {
    expect(promoteOutcome({ created: true })).toBe('New version');
    expect(promoteOutcome({ created: false })).toMatch(/^Unchanged — same content/);
  });

  it('turns preflight_failed into the refusal and its problems', () => {
    const err = new ApiError(422, 'preflight_failed', 'Preflight found errors.', [
      { severity: 'error', cell: 4, code: 'undefined_input', message: 'x is not defined' },
      'junk'
    ]);
    const failure = promoteFailure(err);
    expect(failure.problems).toEqual([
      { severity: 'error', cell: 4, code: 'undefined_input', message: 'x is not defined' }
    ]);
    expect(failure.message).toMatch(/Promotion is refused/);
    expect(promoteFailure(new ApiError(422, 'preflight_failed', 'Preflight found errors.')).message).toBe(
      'Preflight found errors.'
    );
  });

  it('explains a refusal for the role, and other errors in words', () => {
    expect(promoteFailure(new ApiError(403, 'forbidden', '')).message).toMatch(/scientist/);
    expect(promoteFailure(new ApiError(403, 'forbidden', 'Needs scientist.')).message).toBe(
      'Needs scientist.'
    );
    expect(promoteFailure(new ApiError(404, 'not_found', 'Project not found')).message).toBe(
      'Project not found.'
    );
    expect(promoteFailure(new ApiError(404, 'not_found', 'x')).problems).toBeNull();
  });
});

describe('re-promoting a notebook', () => {
  it("proposes the notebook's existing pipeline, else its file name", () => {
    expect(proposedPipelineName({ pipeline: 'churn' }, 'acme/train.ipynb')).toBe('churn');
    expect(proposedPipelineName(null, 'acme/train.ipynb')).toBe('train');
    expect(proposedPipelineName({ pipeline: '' }, 'acme/Train Model.ipynb')).toBe('train-model');
  });

  it('says a promotion adds a version to the existing pipeline only under its name', () => {
    const report = { pipeline: 'churn', existing: true };
    expect(promoteTarget(report, 'churn')).toBe("Adds a new version to the existing pipeline 'churn'.");
    expect(promoteTarget(report, 'churn-2')).toBeNull();
    expect(promoteTarget({ pipeline: 'train', existing: false }, 'train')).toBeNull();
  });
});

describe('newestFirst', () => {
  it('puts the newest version first whatever order the versions arrive in', () => {
    const old = { version: 'a', created_at: '2026-12-01T10:00:00+00:00' };
    const mid = { version: 'b', created_at: '2026-12-02T10:00:00+00:00' };
    const recent = { version: 'c', created_at: '2026-12-03T10:00:00.5+00:00' };
    expect(newestFirst([old, mid, recent]).map(v => v.version)).toEqual(['c', 'b', 'a']);
    expect(newestFirst([recent, mid, old]).map(v => v.version)).toEqual(['c', 'b', 'a']);
    const same = { version: 'd', created_at: recent.created_at };
    expect(newestFirst([recent, same]).map(v => v.version)).toEqual(['c', 'd']);
  });
});
