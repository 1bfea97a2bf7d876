/**
 * Live updates of a project's runs: read the server-sent event stream, reconnect with backoff when
 * it drops, poll while it is down, and tell the panel (debounced) when to refresh.
 *
 * Pure (no JupyterLab imports) so that jest can test it: the stream is opened by a function passed in.
 */

import { backoffDelay, IServerEvent, SseParser } from '../common/sse';

// The parser moved to common/ (the platform events' live updates read it too); re-exported for this feed's users.
export { backoffDelay, SseParser };
export type { IServerEvent };

/** A reader of the stream's bytes, as `Response.body.getReader()` returns. */
export interface IByteReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(): Promise<void>;
}

export interface IRunsFeedOptions {
  /** Open the event stream; rejects when the server refuses it. */
  open: (signal: AbortSignal) => Promise<IByteReader>;
  /** Refresh what the panel shows. */
  onChange: () => void;
  /** Told whether the stream is connected (for a status hint). */
  onStateChange?: (state: FeedState) => void;
  /** Longest wait between an event and the refresh. */
  debounceMs?: number;
  /** How often to refresh while the stream is down. */
  pollMs?: number;
  /** Failed connects in a row after which the stream is given up for polling only. */
  maxAttempts?: number;
}

export type FeedState = 'connecting' | 'live' | 'polling' | 'stopped';

/** Keeps a project's runs fresh until `stop()`. */
export class RunsFeed {
  private readonly _debounceMs: number;
  private readonly _pollMs: number;
  private readonly _maxAttempts: number;
  private _controller: AbortController | null = null;
  private _debounce: ReturnType<typeof setTimeout> | null = null;
  private _poll: ReturnType<typeof setInterval> | null = null;
  private _retry: ReturnType<typeof setTimeout> | null = null;
  private _attempt = 0;
  private _stopped = true;
  private _state: FeedState = 'stopped';

  constructor(private readonly _options: IRunsFeedOptions) {
    this._debounceMs = _options.debounceMs ?? 300;
    this._pollMs = _options.pollMs ?? 2000;
    this._maxAttempts = _options.maxAttempts ?? 8;
  }

  get state(): FeedState {
    return this._state;
  }

  start(): void {
    if (!this._stopped) {
      return;
    }
    this._stopped = false;
    this._attempt = 0;
    void this._connect();
  }

  stop(): void {
    this._stopped = true;
    this._controller?.abort();
    this._controller = null;
    for (const timer of [this._debounce, this._retry]) {
      if (timer !== null) {
        clearTimeout(timer);
      }
    }
    this._debounce = this._retry = null;
    this._stopPolling();
    this._setState('stopped');
  }

  /** Ask for a refresh; bursts collapse into one refresh at most `debounceMs` later. */
  notify(): void {
    if (this._stopped || this._debounce !== null) {
      return;
    }
    this._debounce = setTimeout(() => {
      this._debounce = null;
      if (!this._stopped) {
        this._options.onChange();
      }
    }, this._debounceMs);
  }

  private _setState(state: FeedState): void {
    if (state !== this._state) {
      this._state = state;
      this._options.onStateChange?.(state);
    }
  }

  private async _connect(): Promise<void> {
    if (this._stopped) {
      return;
    }
    this._setState(this._poll ? 'polling' : 'connecting');
    const controller = new AbortController();
    this._controller = controller;
    let reader: IByteReader;
    try {
      reader = await this._options.open(controller.signal);
    } catch {
      this._dropped(controller);
      return;
    }
    if (this._stopped || controller.signal.aborted) {
      void reader.cancel().catch(() => undefined);
      return;
    }
    this._attempt = 0;
    this._stopPolling();
    this._setState('live');
    // Runs logged while the stream was down.
    this.notify();
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        const events = parser.feed(decoder.decode(value, { stream: true }));
        if (events.some(e => e.event === 'runs')) {
          this.notify();
        }
      }
    } catch {
      // The connection broke; handled below like a clean end.
    }
    this._dropped(controller);
  }

  private _dropped(controller: AbortController): void {
    if (this._stopped || this._controller !== controller) {
      return;
    }
    this._controller = null;
    this._startPolling();
    if (this._attempt >= this._maxAttempts) {
      return;
    }
    const delay = backoffDelay(this._attempt++);
    this._retry = setTimeout(() => {
      this._retry = null;
      void this._connect();
    }, delay);
  }

  private _startPolling(): void {
    this._setState('polling');
    if (this._poll === null) {
      this._poll = setInterval(() => {
        if (!this._stopped) {
          this._options.onChange();
        }
      }, this._pollMs);
    }
  }

  private _stopPolling(): void {
    if (this._poll !== null) {
      clearInterval(this._poll);
      this._poll = null;
    }
  }
}
