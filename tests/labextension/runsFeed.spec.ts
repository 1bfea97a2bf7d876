import { backoffDelay, IByteReader, RunsFeed, SseParser } from '../../labextension/src/experiments/runsFeed';

describe('SseParser', () => {
  it('parses events split across chunks, ignoring comments', () => {
    const parser = new SseParser();
    expect(parser.feed(': keepalive\n\nevent: ru')).toEqual([]);
    expect(parser.feed('ns\ndata: {"cursor": 1}\n')).toEqual([]);
    expect(parser.feed('\n')).toEqual([{ event: 'runs', data: '{"cursor": 1}' }]);
  });

  it('does not read a CRLF split across chunks as two line ends', () => {
    const parser = new SseParser();
    expect(parser.feed('data: 1\r')).toEqual([]);
    expect(parser.feed('\ndata: 2\r\n\r\n')).toEqual([{ event: 'message', data: '1\n2' }]);
  });

  it('handles CRLF, multi-line data and unnamed events', () => {
    const parser = new SseParser();
    const events = parser.feed('data: a\r\ndata: b\r\n\r\nevent: runs\rdata: 2\r\r');
    expect(events).toEqual([
      { event: 'message', data: 'a\nb' },
      { event: 'runs', data: '2' }
    ]);
  });
});

describe('backoffDelay', () => {
  it('doubles from 1 s and caps at 30 s', () => {
    expect([0, 1, 2, 3].map(a => backoffDelay(a))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffDelay(10)).toBe(30000);
  });
});

/** A stream whose chunks the test pushes, and which it can break. */
class FakeStream implements IByteReader {
  private _waiting: ((r: { done: boolean; value?: Uint8Array }) => void) | null = null;
  private _fail: ((e: Error) => void) | null = null;
  cancelled = false;

  read(): Promise<{ done: boolean; value?: Uint8Array }> {
    return new Promise((resolve, reject) => {
      this._waiting = resolve;
      this._fail = reject;
    });
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
  }

  push(text: string): void {
    this._waiting?.({ done: false, value: new TextEncoder().encode(text) });
  }

  end(): void {
    this._waiting?.({ done: true });
  }

  break(): void {
    this._fail?.(new Error('connection reset'));
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

describe('RunsFeed', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('refreshes once, debounced, for a burst of events', async () => {
    const stream = new FakeStream();
    const onChange = jest.fn();
    const feed = new RunsFeed({ open: async () => stream, onChange, debounceMs: 300 });
    feed.start();
    await flush();
    expect(feed.state).toBe('live');
    jest.advanceTimersByTime(300); // the catch-up refresh after connecting
    onChange.mockClear();

    stream.push('event: runs\ndata: {"cursor": 1}\n\n');
    await flush();
    stream.push('event: runs\ndata: {"cursor": 2}\n\n');
    await flush();
    expect(onChange).not.toHaveBeenCalled();
    jest.advanceTimersByTime(300);
    expect(onChange).toHaveBeenCalledTimes(1);
    feed.stop();
  });

  it('ignores keepalives', async () => {
    const stream = new FakeStream();
    const onChange = jest.fn();
    const feed = new RunsFeed({ open: async () => stream, onChange });
    feed.start();
    await flush();
    jest.advanceTimersByTime(500);
    onChange.mockClear();
    stream.push(': keepalive\n\n');
    await flush();
    jest.advanceTimersByTime(500);
    expect(onChange).not.toHaveBeenCalled();
    feed.stop();
  });

  it('polls while the stream is down and reconnects with backoff', async () => {
    const streams = [new FakeStream(), new FakeStream()];
    let opened = 0;
    const onChange = jest.fn();
    const feed = new RunsFeed({
      open: async () => {
        if (opened === 1) {
          opened++;
          throw new Error('refused');
        }
        return streams[opened++ === 0 ? 0 : 1];
      },
      onChange,
      pollMs: 2000
    });
    feed.start();
    await flush();
    jest.advanceTimersByTime(300); // the catch-up refresh after connecting
    streams[0].break();
    await flush();
    expect(feed.state).toBe('polling');
    onChange.mockClear();

    jest.advanceTimersByTime(1000); // first retry, refused
    await flush();
    expect(opened).toBe(2);
    jest.advanceTimersByTime(1000); // a poll tick at 2 s
    expect(onChange).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(1000); // second retry after 2 s, succeeds
    await flush();
    expect(opened).toBe(3);
    expect(feed.state).toBe('live');
    onChange.mockClear();
    jest.advanceTimersByTime(10000);
    expect(onChange).toHaveBeenCalledTimes(1); // the catch-up refresh only: polling stopped
    feed.stop();
  });

  it('falls back to polling only when streaming is unavailable', async () => {
    const onChange = jest.fn();
    const open = jest.fn(async () => {
      throw new Error('404');
    });
    const feed = new RunsFeed({ open, onChange, pollMs: 2000, maxAttempts: 2 });
    feed.start();
    await flush();
    for (let i = 0; i < 20; i++) {
      jest.advanceTimersByTime(1000);
      await flush();
    }
    expect(open).toHaveBeenCalledTimes(3);
    expect(onChange).toHaveBeenCalledTimes(10);
    feed.stop();
    jest.advanceTimersByTime(10000);
    expect(onChange).toHaveBeenCalledTimes(10);
    expect(feed.state).toBe('stopped');
  });
});
