import {
  changedSummary,
  classifyDiffLine,
  diffLineClass,
  diffLines,
  diffStats,
  diffValueTitle,
  formatDiffValue
} from '../../labextension/src/models/modelsDiff';

const CODE = [
  '--- v1/train.ipynb',
  '+++ v2/train.ipynb',
  '@@ -1,3 +1,3 @@',
  ' # cell 2',
  '-alpha = 0.5',
  '+alpha = 2',
  ' epochs = 3',
  ''
].join('\n');

describe('code diff', () => {
  it('classifies the lines of a unified diff', () => {
    expect(diffLines(CODE).map(l => l.kind)).toEqual(['file', 'file', 'hunk', 'context', 'del', 'add', 'context']);
  });

  it('does not take a removed line that starts with dashes for a file header', () => {
    expect(classifyDiffLine('--- v1/a.ipynb')).toBe('file');
    expect(classifyDiffLine('--x')).toBe('del');
    expect(classifyDiffLine('++x')).toBe('add');
  });

  it('shows a note that is not a diff as a note, line by line', () => {
    const note = 'v1 notebook sha256 abc, v2 def\n(code diffs need pipeline versions)';
    expect(diffLines(note)).toEqual([
      { text: 'v1 notebook sha256 abc, v2 def', kind: 'note' },
      { text: '(code diffs need pipeline versions)', kind: 'note' }
    ]);
    expect(diffLines('+ not a diff without a header')).toEqual([
      { text: '+ not a diff without a header', kind: 'note' }
    ]);
    expect(diffLines('')).toEqual([]);
  });

  it('counts added and removed lines, not the file headers', () => {
    expect(diffStats(CODE)).toEqual({ added: 1, removed: 1 });
    expect(diffStats('The code is identical.')).toEqual({ added: 0, removed: 0 });
  });

  it('reads Windows line ends', () => {
    expect(diffLines('@@ -1 +1 @@\r\n-a\r\n+b\r\n').map(l => l.text)).toEqual(['@@ -1 +1 @@', '-a', '+b']);
  });

  it('has a class per kind', () => {
    expect(diffLineClass('add')).toBe('jp-mlp-diff-line jp-mlp-diff-add');
  });
});

describe('diff tables', () => {
  it('formats each section its own way', () => {
    expect(formatDiffValue(0.912345678, 'metrics')).toBe('0.9123');
    expect(formatDiffValue(0.912345678, 'params')).toBe('0.912345678');
    expect(formatDiffValue('a'.repeat(64), 'lineage')).toBe(`${'a'.repeat(12)}…`);
    expect(formatDiffValue('1e62bcab21d94f6b91d19cbc1d0e4a7f', 'lineage')).toBe('1e62bcab21d9…'); // a run id
    expect(formatDiffValue('pipeline-v1', 'lineage')).toBe('pipeline-v1');
    expect(formatDiffValue('a'.repeat(64), 'data')).toBe('a'.repeat(64));
    expect(formatDiffValue({ x: [1] }, 'data')).toBe('{"x":[1]}');
    expect(formatDiffValue(false, 'params')).toBe('false');
    expect(formatDiffValue(0, 'metrics')).toBe('0');
  });

  it('shows a dash for a value one version lacks', () => {
    for (const missing of [null, undefined, '']) {
      expect(formatDiffValue(missing, 'params')).toBe('—');
    }
  });

  it('titles a cell with the whole value', () => {
    expect(diffValueTitle('abc')).toBe('abc');
    expect(diffValueTitle({ a: 1 })).toBe('{"a":1}');
    expect(diffValueTitle(null)).toBeUndefined();
  });

  it('says how many rows changed', () => {
    expect(changedSummary([])).toBe('none');
    expect(changedSummary([{ changed: false }])).toBe('no differences');
    expect(changedSummary([{ changed: true }, { changed: false }, { changed: true }])).toBe('2 of 3 changed');
  });
});
