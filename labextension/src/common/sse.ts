/**
 * Server-sent events (`text/event-stream`): an incremental parser and the reconnect backoff, shared by the runs'
 * feed (experiments/runsFeed.ts) and the platform events' live updates (liveEvents.ts).
 *
 * Pure (no JupyterLab imports) so that jest can test it.
 */

/** One server-sent event. */
export interface IServerEvent {
  event: string;
  data: string;
  /** The last event id the stream set (`id:`), when it set one: where a reconnect resumes (Last-Event-ID). */
  id?: string;
}

/** Incremental parser of the `text/event-stream` format (comments and `retry:` are ignored; `id:` is kept). */
export class SseParser {
  private _buffer = '';
  private _event = '';
  private _data: string[] = [];
  private _afterCr = false;
  private _lastId = '';

  /** The last event id the stream set ('' when none): what a reconnect sends as Last-Event-ID. */
  get lastEventId(): string {
    return this._lastId;
  }

  /** Feed decoded text; returns the events completed by it. */
  feed(chunk: string): IServerEvent[] {
    // A '\r' that ended the previous chunk may be the first half of '\r\n'.
    if (this._afterCr && chunk.startsWith('\n')) {
      chunk = chunk.slice(1);
    }
    this._afterCr = false;
    this._buffer += chunk;
    const events: IServerEvent[] = [];
    let newline: number;
    while ((newline = this._buffer.search(/\r\n|\r|\n/)) !== -1) {
      const line = this._buffer.slice(0, newline);
      const width = this._buffer.startsWith('\r\n', newline) ? 2 : 1;
      if (width === 1 && this._buffer[newline] === '\r' && newline === this._buffer.length - 1) {
        this._afterCr = true;
      }
      this._buffer = this._buffer.slice(newline + width);
      if (line === '') {
        if (this._data.length > 0) {
          const event: IServerEvent = { event: this._event || 'message', data: this._data.join('\n') };
          if (this._lastId) {
            event.id = this._lastId;
          }
          events.push(event);
        }
        this._event = '';
        this._data = [];
        continue;
      }
      if (line.startsWith(':')) {
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) {
        value = value.slice(1);
      }
      if (field === 'event') {
        this._event = value;
      } else if (field === 'data') {
        this._data.push(value);
      } else if (field === 'id' && !value.includes('\0')) {
        this._lastId = value;
      }
    }
    return events;
  }
}

/** Delay before reconnect attempt `attempt` (0-based): 1 s, 2 s, 4 s … capped at `max`. */
export function backoffDelay(attempt: number, base = 1000, max = 30000): number {
  return Math.min(max, base * 2 ** Math.max(0, attempt));
}

