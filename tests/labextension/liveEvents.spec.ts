import { IByteReader, IPlatformEvent, LiveEvents } from '../../labextension/src/common/liveEvents';
import { SseParser } from '../../labextension/src/common/sse';

/** A server-sent event stream the test writes to, as the backend's `/api/events/stream` would. */
class FakeStream implements IByteReader {
  private _queue: Array<{ done: boolean; value?: Uint8Array } | Error> = [];
  private _waiting: ((x: { done: boolean; value?: Uint8Array } | Error) => void) | null = null;
  cancelled = false;

  constructor(signal: AbortSignal) {
    signal.addEventListener('abort', () => {
      this.cancelled = true;
      this._put(new Error('aborted'));
    });
  }

  private _put(x: { done: boolean; value?: Uint8Array } | Error): void {
    if (this._waiting) {
      const w = this._waiting;
      this._waiting = null;
      w(x);
    } else {
      this._queue.push(x);
    }
  }

  send(text: string): void {
    this._put({ done: false, value: new TextEncoder().encode(text) });
  }

  end(): void {
    this._put({ done: true });
  }

  async read(): Promise<{ done: boolean; value?: Uint8Array }> {
    const next = this._queue.shift() ?? (await new Promise(resolve => (this._waiting = resolve)));
    if (next instanceof Error) {
      throw next;
    }
    return next as { done: boolean; value?: Uint8Array };
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
  }
}

function frame(seq: number, type: string, project: string, subject = 'x'): string {
  const body = { specversion: '1.0', id: `e${seq}`, type, source: `/mlp/projects/${project}`, subject,
    time: '2026-12-05T00:00:00Z', partitionkey: project, data: {} };
  return `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify(body)}\n\n`;
}

const tick = () => new Promise(resolve => setTimeout(resolve, 0));

function harness() {
  const streams: FakeStream[] = [];
  const resumedFrom: string[] = [];
  const live = new LiveEvents({
    open: async (signal, lastEventId) => {
      resumedFrom.push(lastEventId);
      const s = new FakeStream(signal);
      streams.push(s);
      return s;
    },
    backoff: () => 0
  });
  return { live, streams, resumedFrom };
}

describe('SseParser keeps the event id', () => {
  it('sets id on the events after an id line, and lastEventId', () => {
    const parser = new SseParser();
    const events = parser.feed('id: 7\nevent: ready\ndata: {}\n\nevent: x\ndata: 1\n\n');
    expect(events).toEqual([
      { event: 'ready', data: '{}', id: '7' },
      { event: 'x', data: '1', id: '7' }
    ]);
    expect(parser.lastEventId).toBe('7');
  });
});

describe('LiveEvents', () => {
  it('serves every panel from one stream, each with its project and types only', async () => {
    const { live, streams } = harness();
    const models: Array<IPlatformEvent | null> = [];
    const deployments: Array<IPlatformEvent | null> = [];
    const otherProject: Array<IPlatformEvent | null> = [];
    live.subscribe({ project: 'acme', types: ['mlp.registry.'] }, e => models.push(e));
    live.subscribe({ project: 'acme', types: ['mlp.serving.', 'mlp.registry.alias.'] }, e => deployments.push(e));
    live.subscribe({ project: 'globex', types: ['mlp.registry.'] }, e => otherProject.push(e));
    await tick();
    expect(live.connects).toBe(1);
    expect(streams).toHaveLength(1);
    const s = streams[0];
    s.send('id: 10\nevent: ready\ndata: {"position": 10}\n\n');
    s.send(frame(11, 'mlp.registry.alias.moved', 'acme', 'models/risk/aliases/champion'));
    s.send(frame(12, 'mlp.serving.deployment.status_changed', 'acme'));
    s.send(frame(13, 'mlp.registry.version.registered', 'globex'));
    await tick();
    expect(models.map(e => e?.subject)).toEqual(['models/risk/aliases/champion']);
    expect(deployments.map(e => e?.type)).toEqual(['mlp.registry.alias.moved', 'mlp.serving.deployment.status_changed']);
    expect(otherProject.map(e => e?.type)).toEqual(['mlp.registry.version.registered']);
    expect(live.position).toBe('13');
    expect(live.state).toBe('live');
  });

  it('reconnects with Last-Event-ID when the stream ends or breaks, and gets what it missed', async () => {
    const { live, streams, resumedFrom } = harness();
    const got: Array<IPlatformEvent | null> = [];
    live.subscribe({ project: 'acme', types: ['mlp.'] }, e => got.push(e));
    await tick();
    streams[0].send('id: 5\nevent: ready\ndata: {}\n\n' + frame(6, 'mlp.registry.alias.moved', 'acme'));
    streams[0].send('id: 9\nevent: heartbeat\ndata: {"position": 9}\n\n');
    streams[0].end(); // the server closes the stream every few minutes
    await tick();
    await tick();
    expect(resumedFrom).toEqual(['', '9']);
    streams[1].send('id: 9\nevent: ready\ndata: {}\n\n' + frame(10, 'mlp.monitoring.alert.firing', 'acme'));
    await tick();
    expect(got.map(e => e?.id)).toEqual(['e6', 'e10']);
    expect(live.connects).toBe(2);
  });

  it('tells every subscriber to reload on reset', async () => {
    const { live, streams } = harness();
    const a: Array<IPlatformEvent | null> = [];
    const b: Array<IPlatformEvent | null> = [];
    live.subscribe({ project: 'acme', types: ['mlp.registry.'] }, e => a.push(e));
    live.subscribe({ project: 'globex', types: ['mlp.serving.'] }, e => b.push(e));
    await tick();
    streams[0].send('id: 40\nevent: reset\ndata: {"position": 40, "requested": 3}\n\nid: 40\nevent: ready\ndata: {}\n\n');
    await tick();
    expect(a).toEqual([null]);
    expect(b).toEqual([null]);
  });

  it('closes the stream when the last panel goes, and opens it again for the next', async () => {
    const { live, streams, resumedFrom } = harness();
    const off1 = live.subscribe({ project: 'acme', types: ['mlp.'] }, () => undefined);
    const off2 = live.subscribe({ project: 'acme', types: ['mlp.'] }, () => undefined);
    await tick();
    streams[0].send('id: 3\nevent: ready\ndata: {}\n\n');
    await tick();
    off1();
    expect(streams[0].cancelled).toBe(false);
    off2();
    expect(streams[0].cancelled).toBe(true);
    expect(live.state).toBe('idle');
    await tick();
    expect(streams).toHaveLength(1);
    live.subscribe({ project: 'acme', types: ['mlp.'] }, () => undefined);
    await tick();
    expect(streams).toHaveLength(2);
    expect(resumedFrom).toEqual(['', '3']);
  });
});
