/**
 * A pipeline stage's log in the run detail: how its text is cleaned for a <pre>, and what its button does.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */

/** What the log box says when the stage printed nothing (yet). */
export const EMPTY_LOG_TEXT = 'No output yet.';

// CSI sequences (colours, cursor moves) and OSC sequences (window titles), as docker and pip print them.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

/**
 * The log as a terminal would leave it: colour codes removed, `\r\n` read as a new line, and a line
 * rewritten with `\r` (a progress bar) shown as its last version; trailing blank lines dropped.
 */
export function cleanLog(raw: string): string {
  const lines = raw
    .replace(ANSI, '')
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map(line => {
      if (!line.includes('\r')) {
        return line;
      }
      const versions = line.split('\r').filter(v => v.length > 0);
      return versions.length > 0 ? versions[versions.length - 1] : '';
    });
  return lines.join('\n').replace(/\s+$/, '');
}

/** Whether a log has nothing worth showing. */
export function isEmptyLog(text: string | null | undefined): boolean {
  return !text || cleanLog(text).trim() === '';
}

/** What pressing a stage's Log button does. */
export type LogAction = 'open' | 'refresh' | 'hide';

/**
 * Closed: open it. Open while the run is still going: fetch it again (it grows). Open once the run
 * has ended: hide it.
 */
export function logButtonAction(open: boolean, runActive: boolean): LogAction {
  if (!open) {
    return 'open';
  }
  return runActive ? 'refresh' : 'hide';
}

/** The Log button's label for the action pressing it would take. */
export function logButtonLabel(action: LogAction): string {
  switch (action) {
    case 'open':
      return 'Log';
    case 'refresh':
      return 'Refresh log';
    case 'hide':
      return 'Hide log';
  }
}

/** A log already fetched: its text, and whether it was fetched after the run had ended. */
export interface IFetchedLog {
  text: string;
  final: boolean;
}

/** Whether opening the log must ask the server: always, unless it was read after the run ended. */
export function needsFetch(cached: IFetchedLog | null | undefined): boolean {
  return !cached || !cached.final;
}
