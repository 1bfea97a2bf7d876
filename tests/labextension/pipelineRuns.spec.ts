import {
  canCancel,
  chipClass,
  isTerminal,
  mergeRuns,
  nextPollDelay,
  outputNotebookArtifact,
  outputNotebookPath,
  POLL_INTERVAL_MS,
  runsToPoll,
  stageChildFilter,
  stageError,
  stageErrorHeadline,
  stageStatuses,
  statusLabel,
  statusTone
} from '../../labextension/src/pipelines/pipelineRuns';

const run = (run_id: string, status: string) => ({ run_id, status });

describe('statuses', () => {
  it('knows which statuses are final', () => {
    expect(['SUCCESS', 'FAILURE', 'CANCELED'].every(isTerminal)).toBe(true);
    expect(['PENDING', 'QUEUED', 'STARTED', 'IN_PROGRESS', 'SKIPPED'].some(isTerminal)).toBe(false);
  });

  it('colours success green, failure red, running blue, pending grey', () => {
    expect(statusTone('SUCCESS')).toBe('success');
    expect(statusTone('FAILURE')).toBe('failure');
    expect(statusTone('STARTED')).toBe('running');
    expect(statusTone('IN_PROGRESS')).toBe('running');
    expect(statusTone('QUEUED')).toBe('pending');
    expect(statusTone('PENDING')).toBe('pending');
    expect(statusTone('SKIPPED')).toBe('skipped');
    expect(statusTone('CANCELED')).toBe('canceled');
    expect(statusTone('SOMETHING_NEW')).toBe('pending');
    expect(chipClass('FAILURE')).toBe('jp-mlp-chip jp-mlp-tone-failure');
  });

  it('reads statuses as words', () => {
    expect(statusLabel('IN_PROGRESS')).toBe('In progress');
    expect(statusLabel('SUCCESS')).toBe('Success');
  });

  it('lets only unfinished runs be cancelled', () => {
    expect(canCancel(run('a', 'STARTED'))).toBe(true);
    expect(canCancel(run('a', 'SUCCESS'))).toBe(false);
  });
});

describe('polling', () => {
  const runs = [run('a', 'SUCCESS'), run('b', 'STARTED'), run('c', 'QUEUED'), run('d', 'CANCELED')];

  it('polls the unfinished runs while the panel is visible', () => {
    expect(runsToPoll(runs, true)).toEqual(['b', 'c']);
    expect(nextPollDelay(runs, true)).toBe(POLL_INTERVAL_MS);
    expect(POLL_INTERVAL_MS).toBe(1500);
  });

  it('stops when the panel is hidden or every run has finished', () => {
    expect(runsToPoll(runs, false)).toEqual([]);
    expect(nextPollDelay(runs, false)).toBeNull();
    expect(nextPollDelay([run('a', 'SUCCESS'), run('b', 'FAILURE')], true)).toBeNull();
    expect(nextPollDelay([], true)).toBeNull();
  });

  it('merges fresh runs in place and keeps the rest', () => {
    const merged = mergeRuns(runs, [run('b', 'SUCCESS'), run('zz', 'STARTED')]);
    expect(merged.map(r => `${r.run_id}:${r.status}`)).toEqual([
      'a:SUCCESS',
      'b:SUCCESS',
      'c:QUEUED',
      'd:CANCELED'
    ]);
  });
});

describe('stage errors', () => {
  it('reads the error object and heads it with the cell', () => {
    const error = stageError({ stage: 'train', cell: 3, error: 'ValueError: boom', traceback: 'Traceback…' });
    expect(error).toEqual({ stage: 'train', cell: 3, error: 'ValueError: boom', traceback: 'Traceback…' });
    expect(stageErrorHeadline(error!)).toBe('Cell 3: ValueError: boom');
  });

  it('leaves out the cell when unknown', () => {
    const error = stageError({ stage: 'train', cell: null, error: 'OSError: disk' });
    expect(stageErrorHeadline(error!)).toBe('OSError: disk');
    expect(error!.traceback).toBe('');
  });

  it('is null without an error', () => {
    expect(stageError(null)).toBeNull();
    expect(stageError(undefined)).toBeNull();
  });
});

describe('output notebooks', () => {
  it('finds the stage child run under the parent run', () => {
    expect(stageChildFilter('abc123', 'train')).toBe(
      "tags.mlflow.parentRunId = 'abc123' and tags.mlp.pipeline.stage = 'train'"
    );
  });

  it('names the artifact and a visible workspace path', () => {
    expect(outputNotebookArtifact('prep')).toBe('output/prep.ipynb');
    expect(outputNotebookPath('r-1', 'prep')).toBe('mlp-pipeline-runs/r-1/prep.ipynb');
    expect(outputNotebookPath('../x', '.hidden')).toBe('mlp-pipeline-runs/__x/_hidden.ipynb');
  });

  it('maps stages to their statuses', () => {
    expect(stageStatuses([{ name: 'a', status: 'SUCCESS' }, { name: 'b', status: 'PENDING' }])).toEqual({
      a: 'SUCCESS',
      b: 'PENDING'
    });
  });
});
