import {
  cleanLog,
  EMPTY_LOG_TEXT,
  isEmptyLog,
  logButtonAction,
  logButtonLabel,
  needsFetch
} from '../../labextension/src/pipelines/stageLog';

describe('cleanLog', () => {
  it('keeps plain text as it is, without trailing blank lines', () => {
    expect(cleanLog('Executing notebook\nscore 3.0\n\n\n')).toBe('Executing notebook\nscore 3.0');
  });

  it('removes colour codes and terminal titles', () => {
    expect(cleanLog('\u001b[1m\u001b[32mStep 1/4\u001b[0m : FROM debian')).toBe('Step 1/4 : FROM debian');
    expect(cleanLog('\u001b]0;title\u0007done')).toBe('done');
  });

  it('reads CRLF as a new line', () => {
    expect(cleanLog('a\r\nb\r\n')).toBe('a\nb');
  });

  it('shows a progress line rewritten with carriage returns as its last version', () => {
    expect(cleanLog('Executing:   0%|\rExecuting:  50%|\rExecuting: 100%|\nok')).toBe('Executing: 100%|\nok');
    expect(cleanLog('Downloading 10%\r\nnext')).toBe('Downloading 10%\nnext');
    expect(cleanLog('done\r')).toBe('done');
  });

  it('keeps leading indentation', () => {
    expect(cleanLog('Traceback:\n    raise ValueError')).toBe('Traceback:\n    raise ValueError');
  });
});

describe('isEmptyLog', () => {
  it('is empty for nothing, whitespace, or colour codes alone', () => {
    expect(isEmptyLog('')).toBe(true);
    expect(isEmptyLog(null)).toBe(true);
    expect(isEmptyLog(undefined)).toBe(true);
    expect(isEmptyLog(' \n\t\n')).toBe(true);
    expect(isEmptyLog('\u001b[0m\n')).toBe(true);
    expect(isEmptyLog('x')).toBe(false);
  });

  it('has words for an empty log', () => {
    expect(EMPTY_LOG_TEXT).toBe('No output yet.');
  });
});

describe('the Log button', () => {
  it('opens a closed log', () => {
    expect(logButtonAction(false, true)).toBe('open');
    expect(logButtonAction(false, false)).toBe('open');
  });

  it('refreshes an open log while the run is going, and hides it once it ended', () => {
    expect(logButtonAction(true, true)).toBe('refresh');
    expect(logButtonAction(true, false)).toBe('hide');
  });

  it('says what it will do', () => {
    expect(logButtonLabel('open')).toBe('Log');
    expect(logButtonLabel('refresh')).toBe('Refresh log');
    expect(logButtonLabel('hide')).toBe('Hide log');
  });

  it('asks the server again unless the log was read after the run ended', () => {
    expect(needsFetch(null)).toBe(true);
    expect(needsFetch(undefined)).toBe(true);
    expect(needsFetch({ text: 'half', final: false })).toBe(true);
    expect(needsFetch({ text: 'all', final: true })).toBe(false);
    expect(needsFetch({ text: '', final: true })).toBe(false);
  });
});
