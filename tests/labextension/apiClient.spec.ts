/// <reference types="node" />
/**
 * What the API client puts on the wire and what it makes of the answers (issue 12 item 5: the hand-typed wrappers
 * became calls through openapi-fetch, with Jupyter's ServerConnection.makeRequest as its fetch).
 *
 * The client, openapi-fetch and Jupyter's ServerConnection run for real; only the network is played by a fake
 * `fetch` (the one makeRequest sends through), which records each Request and answers as the backend would. These
 * assertions held for the hand-typed client before the change, and hold for the typed one.
 */
import { PageConfig } from '@jupyterlab/coreutils';

import {
  ApiError,
  createWebhook,
  deleteWebhook,
  fetchBatchOutput,
  getDeployment,
  getStageLog,
  listArtifacts,
  listBatchJobs,
  listGateDecisions,
  listModels,
  listRuns,
  openRunEvents,
  projectOf,
  setMember,
  submitBatchJob,
  whoami
} from '../../labextension/src/common/api';

const BASE = 'http://localhost:8888/lab-base/';

type Answer = () => Response | Promise<Response>;

let answers: Answer[] = [];
let sent: Request[] = [];
const realFetch = globalThis.fetch;

function answer(...next: Answer[]): void {
  answers.push(...next);
}

function json(body: unknown, status = 200): Answer {
  return () => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

/** The one request sent, its URL without Jupyter's cache buster (`&<ms>` from the `no-store` default). */
function only(): { request: Request; path: string; query: [string, string][] } {
  expect(sent).toHaveLength(1);
  const request = sent[0];
  const url = new URL(request.url);
  const query = [...url.searchParams.entries()].filter(([key, value]) => !(/^\d{10,}$/.test(key) && value === ''));
  return { request, path: url.origin + url.pathname, query };
}

beforeAll(() => {
  PageConfig.setOption('baseUrl', BASE);
  PageConfig.setOption('token', 'secret-token');
});

beforeEach(() => {
  answers = [];
  sent = [];
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    sent.push(request);
    if (request.signal.aborted) {
      throw new DOMException('The operation was aborted.', 'AbortError');
    }
    const next = answers.shift();
    if (!next) {
      throw new Error(`no answer prepared for ${request.method} ${request.url}`);
    }
    return next();
  }) as typeof fetch;
});

afterAll(() => {
  globalThis.fetch = realFetch;
});

describe('requests', () => {
  it('go to the server extension under the page base URL, with the token and no-store', async () => {
    answer(json({ user: 'ana', is_admin: false, projects: [] }));
    await whoami();
    const { request, path, query } = only();
    expect(request.method).toBe('GET');
    expect(path).toBe(`${BASE}mlp/api/whoami`);
    expect(query).toEqual([]);
    expect(request.headers.get('Authorization')).toBe('token secret-token');
    expect(request.cache).toBe('no-store');
  });

  it('encode path parameters and send paging as query parameters', async () => {
    answer(json({ items: [], total: 0 }));
    await listModels('acme corp/x', 20, 40);
    const { path, query } = only();
    expect(path).toBe(`${BASE}mlp/api/projects/acme%20corp%2Fx/models`);
    expect(query).toEqual([
      ['limit', '20'],
      ['offset', '40']
    ]);
  });

  it('leave out the filters that are not given', async () => {
    answer(json({ items: [], total: 0 }));
    await listGateDecisions('acme', { status: 'pending' });
    expect(only().query).toEqual([
      ['limit', '50'],
      ['offset', '0'],
      ['status', 'pending']
    ]);
  });

  it('send a query value with reserved characters exactly', async () => {
    answer(json({ path: 'dir/a b&c.txt', items: [] }));
    await listArtifacts('acme', 'r1', 'dir/a b&c.txt');
    const { path, query } = only();
    expect(path).toBe(`${BASE}mlp/api/projects/acme/runs/r1/artifacts`);
    expect(query).toEqual([['path', 'dir/a b&c.txt']]);
  });

  it('send the runs query the runs table builds (trimmed filter, repeated experiment ids)', async () => {
    answer(json({ items: [], total: 0 }));
    await listRuns('acme', { filter: "  params.alpha = '0.5' ", orderBy: 'metrics.auc DESC', limit: 100, offset: 0, experimentIds: ['1', '2'] });
    const { path, query } = only();
    expect(path).toBe(`${BASE}mlp/api/projects/acme/runs`);
    expect(query).toEqual([
      ['filter', "params.alpha = '0.5'"],
      ['order_by', 'metrics.auc DESC'],
      ['limit', '100'],
      ['offset', '0'],
      ['experiment_id', '1'],
      ['experiment_id', '2']
    ]);
  });

  it('send a body as JSON', async () => {
    answer(json({ user: 'bo', role: 'scientist' }));
    await setMember('acme', 'bo', 'scientist');
    const { request, path } = only();
    expect(request.method).toBe('PUT');
    expect(path).toBe(`${BASE}mlp/api/projects/acme/members/bo`);
    expect(request.headers.get('Content-Type')).toBe('application/json');
    expect(await request.json()).toEqual({ role: 'scientist' });
  });

  it('write a 64-bit snapshot id exactly and read it back as a string of digits', async () => {
    const job = '{"id":"j1","source":{"dataset":"applicants","snapshot_id":9007199254740993},"status":"queued"}';
    answer(() => new Response(job, { status: 202, headers: { 'Content-Type': 'application/json' } }));
    const created = await submitBatchJob('acme', 'credit-api', {
      dataset: 'applicants',
      snapshot_id: '9007199254740993',
      chunk_rows: 40
    });
    const { request, path } = only();
    expect(request.method).toBe('POST');
    expect(path).toBe(`${BASE}mlp/api/projects/acme/deployments/credit-api/batch`);
    expect(await request.text()).toBe('{"dataset":"applicants","chunk_rows":40,"snapshot_id":9007199254740993}');
    expect(created.source.snapshot_id).toBe('9007199254740993');

    sent = [];
    answer(() => new Response(`{"items":[${job}],"total":1}`, { status: 200 }));
    const page = await listBatchJobs('acme', 'credit-api', 10, 0);
    expect(page.items[0].source.snapshot_id).toBe('9007199254740993');
    expect(only().query).toEqual([
      ['limit', '10'],
      ['offset', '0']
    ]);
  });

  it('ask the server extension itself which project a notebook is in', async () => {
    answer(json({ project: 'acme', marker: 'a/mlp-project.toml', rule: 'nearest marker' }));
    expect((await projectOf('a/b c.ipynb')).project).toBe('acme');
    const { path, query } = only();
    expect(path).toBe(`${BASE}mlp/local/project-of`);
    expect(query).toEqual([['path', 'a/b c.ipynb']]);
  });
});

describe('answers', () => {
  it('a 204 resolves with nothing', async () => {
    answer(() => new Response(null, { status: 204 }));
    await expect(deleteWebhook('acme', 7)).resolves.toBeUndefined();
    expect(only().request.method).toBe('DELETE');
    expect(only().path).toBe(`${BASE}mlp/api/projects/acme/webhooks/7`);
  });

  it("a failed answer throws the backend's error: status, code, message and detail", async () => {
    answer(
      json({ error: { code: 'validation_error', message: 'Invalid request', detail: [{ field: 'url', message: 'not allowed' }] } }, 422)
    );
    const error = await createWebhook('acme', { name: 'ops', kind: 'generic', url: 'http://x' }).catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 422,
      code: 'validation_error',
      message: 'Invalid request',
      detail: [{ field: 'url', message: 'not allowed' }]
    });
  });

  it('a failed answer that is not the envelope throws with the status text', async () => {
    answer(() => new Response('<html>proxy</html>', { status: 502, statusText: 'Bad Gateway' }));
    const error = await getDeployment('acme', 'credit-api').catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 502, code: 'http_error', message: 'Bad Gateway' });
  });

  it('a success that is not JSON throws invalid_response', async () => {
    answer(() => new Response('<html>login</html>', { status: 200, headers: { 'Content-Type': 'text/html' } }));
    const error = await getDeployment('acme', 'credit-api').catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 200,
      code: 'invalid_response',
      message: 'The server sent a response that is not JSON.'
    });
  });

  it('an unreachable server throws network_error; an abort rethrows the abort', async () => {
    answer(() => Promise.reject(new TypeError('fetch failed')));
    const error = await whoami().catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 0, code: 'network_error', message: 'Could not reach the ML Platform server.' });

    const controller = new AbortController();
    controller.abort();
    const aborted = await getDeployment('acme', 'credit-api', controller.signal).catch(e => e);
    expect(aborted).not.toBeInstanceOf(ApiError);
    expect(aborted.message).toMatch(/aborted/); // Jupyter's NetworkError around the abort, as makeRequest throws it
  });

  it('text answers are read as text, an empty one as the empty string', async () => {
    answer(
      () => new Response('stage output\n', { status: 200, headers: { 'Content-Type': 'text/plain' } }),
      () => new Response('', { status: 200, headers: { 'Content-Type': 'text/plain', 'Content-Length': '0' } })
    );
    expect(await getStageLog('acme', 'run-1', 'train')).toBe('stage output\n');
    expect(await getStageLog('acme', 'run-1', 'train')).toBe('');
    expect(new URL(sent[0].url).pathname).toBe('/lab-base/mlp/api/projects/acme/pipeline-runs/run-1/stages/train/log');
    expect(sent[0].cache).toBe('no-store');
  });

  it('a file answer is read as a blob', async () => {
    answer(() => new Response(new Uint8Array([80, 65, 82, 49]), { status: 200 }));
    const blob = await fetchBatchOutput('acme', 'job 1');
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(new Uint8Array([80, 65, 82, 49]));
    expect(new URL(sent[0].url).pathname).toBe('/lab-base/mlp/api/projects/acme/batch-jobs/job%201/output');
  });

  it('an event stream comes back as a reader; anything else throws not_a_stream', async () => {
    answer(
      () => new Response('event: runs\ndata: {}\n\n', { status: 200, headers: { 'Content-Type': 'text/event-stream' } }),
      json({ not: 'a stream' })
    );
    const reader = await openRunEvents('acme', new AbortController().signal);
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toBe('event: runs\ndata: {}\n\n');
    expect(sent[0].headers.get('Accept')).toBe('text/event-stream');

    const error = await openRunEvents('acme', new AbortController().signal).catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe('not_a_stream');
  });
});
