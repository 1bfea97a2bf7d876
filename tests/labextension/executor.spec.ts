import { executorNotice, runExecutorLabel, runExecutorLine, scheduleLabel } from '../../labextension/src/pipelines/executor';

describe('executorNotice', () => {
  it('speaks quietly for Docker, in the server words', () => {
    const notice = executorNotice({
      kind: 'docker',
      detail: 'Stages run in Docker containers (engine 27.1), no network unless the pipeline asks.'
    });
    expect(notice.kind).toBe('docker');
    expect(notice.tone).toBe('info');
    expect(notice.className).toBe('jp-mlp-executor-notice jp-mlp-notice-info');
    expect(notice.text).toBe('Stages run in Docker containers (engine 27.1), no network unless the pipeline asks.');
  });

  it('warns for a local subprocess and ends the sentence', () => {
    const notice = executorNotice({
      kind: 'subprocess',
      detail: 'Stages run in a local subprocess: no Docker engine answers'
    });
    expect(notice.tone).toBe('warning');
    expect(notice.className).toContain('jp-mlp-notice-warning');
    expect(notice.text).toBe('Stages run in a local subprocess: no Docker engine answers.');
  });

  it('falls back to its own words when the server gave none', () => {
    expect(executorNotice({ kind: 'subprocess', detail: '  ' }).text).toBe(
      'Stages run in a local subprocess — no Docker engine answers.'
    );
    expect(executorNotice({ kind: 'docker', detail: '' }).text).toBe('Stages run in Docker containers.');
  });

  it('reads an unknown kind as unavailable, with a warning', () => {
    const notice = executorNotice({ kind: 'kubernetes?', detail: 'Cannot reach the engine:\n  timeout' });
    expect(notice.kind).toBe('unavailable');
    expect(notice.tone).toBe('warning');
    expect(notice.text).toBe('Cannot reach the engine: timeout.');
  });
});

describe('a run executor line', () => {
  it('names where the stages ran', () => {
    expect(runExecutorLabel('docker')).toBe('Docker container');
    expect(runExecutorLabel('subprocess')).toBe('local subprocess');
    expect(runExecutorLabel(null)).toBe('not known yet');
    expect(runExecutorLabel(undefined)).toBe('not known yet');
    expect(runExecutorLabel('podman')).toBe('podman');
  });

  it('says which schedule launched the run', () => {
    expect(scheduleLabel(7)).toBe('scheduled (#7)');
    expect(scheduleLabel(0)).toBe('scheduled (#0)');
    expect(scheduleLabel(null)).toBeNull();
    expect(scheduleLabel(undefined)).toBeNull();
  });

  it('puts both on one line', () => {
    expect(runExecutorLine({ executor: 'subprocess', schedule_id: 3 })).toBe(
      'Executor: local subprocess · scheduled (#3)'
    );
    expect(runExecutorLine({ executor: 'docker', schedule_id: null })).toBe('Executor: Docker container');
    expect(runExecutorLine({})).toBe('Executor: not known yet');
  });
});
