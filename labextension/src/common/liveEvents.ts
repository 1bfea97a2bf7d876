/**
 * The platform events' live updates: ONE server-sent event stream per JupyterLab (`/mlp/api/events/stream`, fed
 * by the backend's events outbox), shared by every panel that subscribes.
 *
 * - The backend sends only the events of the caller's projects; a subscriber names the project and the event
 *   types (prefixes such as `mlp.registry.`) it shows, and is called for those only.
 * - The stream opens with the first subscriber and closes with the last. When it ends (the server closes it every
 *   few minutes) or drops, it reconnects with `Last-Event-ID`, so the events in between are replayed; after a
 *   failure it waits 1 s, 2 s, 4 s … (at most 30 s).
 * - A `reset` (the events after our position were pruned) and a reconnect that could not resume call every
 *   subscriber with `null`: reload everything.
 *
 * Pure (no JupyterLab imports) so that jest can test it: the stream is opened by a function passed in.
 */

import { backoffDelay, IServerEvent, SseParser } from './sse';

/** A platform event (CloudEvents 1.0, docs/events.md). */
export interface IPlatformEvent {
  id: string;
  type: string;
  source: string;
  subject: string;
  time: string;
  /** The project's slug. */
  partitionkey: string;
  data: Record<string, unknown>;
}

/** What a subscriber shows: one project, and the event types that change it (prefixes: `mlp.registry.`). */
export interface ILiveFilter {
  project: string;
  types: readonly string[];
}

/** Called with each matching event, or `null` when what the panel shows may be stale (reload it all). */
export type LiveListener = (event: IPlatformEvent | null) => void;

/** A reader of the stream's bytes, as `Response.body.getReader()` returns. */
export interface IByteReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(): Promise<void>;
}

export interface ILiveEventsOptions {
  /** Open the stream, resuming after `lastEventId` when it is not ''; rejects when the server refuses it. */
  open: (signal: AbortSignal, lastEventId: string) => Promise<IByteReader>;
  /** Delay before reconnecting after failure `attempt` (0-based). */
  backoff?: (attempt: number) => number;
}

export type LiveState = 'idle' | 'connecting' | 'live' | 'waiting';

interface ISubscription {
  filter: ILiveFilter;
  listener: LiveListener;
}

/** Whether `event` is one `filter` asks for. */
export function matches(filter: ILiveFilter, event: IPlatformEvent): boolean {
  return event.partitionkey === filter.project && filter.types.some(prefix => event.type.startsWith(prefix));
}

export class LiveEvents {
  private readonly _subs = new Set<ISubscription>();
  private readonly _backoff: (attempt: number) => number;
  private _controller: AbortController | null = null;
  private _retry: ReturnType<typeof setTimeout> | null = null;
  private _attempt = 0;
  private _position = '';
  private _state: LiveState = 'idle';
  private _connects = 0;

  constructor(private readonly _options: ILiveEventsOptions) {
    this._backoff = _options.backoff ?? backoffDelay;
  }

  /** Where the stream stands. */
  get state(): LiveState {
    return this._state;
  }

  /** The position (the last event id) reached: what the next connection resumes after. */
  get position(): string {
    return this._position;
  }

  /** How many times the stream was opened (one stream for all subscribers). */
  get connects(): number {
    return this._connects;
  }

  /** Call `listener` for the events `filter` names until the returned function is called. */
  subscribe(filter: ILiveFilter, listener: LiveListener): () => void {
    const sub: ISubscription = { filter, listener };
    this._subs.add(sub);
    if (this._state === 'idle') {
      this._attempt = 0;
      void this._connect();
    }
    return () => {
      this._subs.delete(sub);
      if (this._subs.size === 0) {
        this._close();
      }
    };
  }

  private _close(): void {
    this._controller?.abort();
    this._controller = null;
    if (this._retry !== null) {
      clearTimeout(this._retry);
      this._retry = null;
    }
    this._state = 'idle';
  }

  private async _connect(): Promise<void> {
    if (this._subs.size === 0) {
      return;
    }
    this._state = 'connecting';
    const controller = new AbortController();
    this._controller = controller;
    let reader: IByteReader;
    const resumeFrom = this._position;
    try {
      this._connects++;
      reader = await this._options.open(controller.signal, resumeFrom);
    } catch {
      this._dropped(controller, false);
      return;
    }
    if (controller.signal.aborted || this._controller !== controller) {
      void reader.cancel().catch(() => undefined);
      return;
    }
    this._state = 'live';
    const parser = new SseParser();
    const decoder = new TextDecoder();
    let ready = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        for (const event of parser.feed(decoder.decode(value, { stream: true }))) {
          if (event.event === 'ready') {
            ready = true;
            this._attempt = 0;
            if (!resumeFrom && this._connects > 1) {
              this._emit(null); // a reconnect with no position to resume from: what happened meanwhile is unknown
            }
          }
          this._handle(event);
        }
      }
    } catch {
      // The connection broke: reconnect below, as after a clean end.
    }
    this._dropped(controller, ready);
  }

  private _handle(event: IServerEvent): void {
    if (event.id) {
      this._position = event.id;
    }
    if (event.event === 'reset') {
      this._emit(null);
      return;
    }
    if (!event.event.startsWith('mlp.')) {
      return; // ready, heartbeat: the position is all they carry
    }
    let parsed: IPlatformEvent;
    try {
      parsed = JSON.parse(event.data) as IPlatformEvent;
    } catch {
      return;
    }
    this._emit(parsed);
  }

  private _emit(event: IPlatformEvent | null): void {
    for (const sub of [...this._subs]) {
      if (event === null || matches(sub.filter, event)) {
        try {
          sub.listener(event);
        } catch (err) {
          console.error('jupyter-mlp live update listener failed', err);
        }
      }
    }
  }

  /** The stream ended (`clean`: it had started; the server closes it every few minutes) or failed to open. */
  private _dropped(controller: AbortController, clean: boolean): void {
    if (this._controller !== controller || this._subs.size === 0) {
      return;
    }
    this._controller = null;
    this._state = 'waiting';
    const delay = clean ? 0 : this._backoff(this._attempt++);
    this._retry = setTimeout(() => {
      this._retry = null;
      void this._connect();
    }, delay);
  }
}
