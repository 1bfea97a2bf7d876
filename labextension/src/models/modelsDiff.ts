/**
 * Two model versions side by side: values of the diff tables, and the code diff's lines classified
 * for colouring.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import { formatMetric } from '../common/runFormat';

/** The kind of a unified diff line: added, removed, a hunk or file header, unchanged, or a note. */
export type DiffLineKind = 'add' | 'del' | 'hunk' | 'file' | 'context' | 'note';

/** The kind of one line of a unified diff. */
export function classifyDiffLine(line: string): DiffLineKind {
  if (line.startsWith('+++ ') || line.startsWith('--- ') || line === '+++' || line === '---') {
    return 'file';
  }
  if (line.startsWith('@@')) {
    return 'hunk';
  }
  if (line.startsWith('+')) {
    return 'add';
  }
  if (line.startsWith('-')) {
    return 'del';
  }
  if (line.startsWith(' ') || line === '') {
    return 'context';
  }
  return 'note';
}

/** A unified diff's lines with their kinds; text that is not a diff (a note) is all `note`. */
export function diffLines(text: string): { text: string; kind: DiffLineKind }[] {
  if (!text) {
    return [];
  }
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') {
    lines.pop();
  }
  const isDiff = lines.some(l => l.startsWith('@@') || l.startsWith('+++ ') || l.startsWith('--- '));
  return lines.map(line => ({ text: line, kind: isDiff ? classifyDiffLine(line) : 'note' }));
}

/** How many lines a diff adds and removes. */
export function diffStats(text: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const line of diffLines(text)) {
    if (line.kind === 'add') {
      added += 1;
    } else if (line.kind === 'del') {
      removed += 1;
    }
  }
  return { added, removed };
}

/** The CSS class of a code diff line. */
export function diffLineClass(kind: DiffLineKind): string {
  return `jp-mlp-diff-line jp-mlp-diff-${kind}`;
}

/** A diff table's cell: metrics as numbers, digests and run ids shortened, objects as JSON, missing as '—'. */
export function formatDiffValue(value: unknown, section: 'params' | 'metrics' | 'data' | 'lineage'): string {
  if (value === null || value === undefined || value === '') {
    return '—';
  }
  if (typeof value === 'number') {
    return section === 'metrics' ? formatMetric(value) : String(value);
  }
  if (typeof value === 'string') {
    return section === 'lineage' && /^[0-9a-f]{32,}$/.test(value) ? `${value.slice(0, 12)}…` : value;
  }
  if (typeof value === 'boolean') {
    return value ? 'true' : 'false';
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** The title of a diff cell: the whole value when the cell shortens it. */
export function diffValueTitle(value: unknown): string | undefined {
  if (value === null || value === undefined) {
    return undefined;
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** How many rows of a section changed, in words: `2 of 5 changed`, `no differences`, `none`. */
export function changedSummary(rows: readonly { changed: boolean }[]): string {
  if (rows.length === 0) {
    return 'none';
  }
  const changed = rows.filter(r => r.changed).length;
  return changed === 0 ? 'no differences' : `${changed} of ${rows.length} changed`;
}
