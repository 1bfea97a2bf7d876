/**
 * The core of the platform API client: one openapi-fetch client over the generated `paths` (api-types.ts), so each
 * call's path, parameters, body and answer are checked by the compiler against the backend's OpenAPI document.
 *
 * openapi-fetch (a dependency for this only: it builds the URL and body from the typed arguments and types the
 * answer; ~6 kB) sends through `jupyterFetch`, which hands the request to Jupyter's `ServerConnection.makeRequest`:
 * the same base URL, token, XSRF header and cache-busting as every other Jupyter request. Requests go to the server
 * extension's `/mlp/api/...`, which proxies to the backend's `/api/...`: the generated paths start with `/api/`,
 * so the client's base URL is `<jupyter base>/mlp`.
 *
 * Errors are thrown, never returned: a failed answer becomes the ApiError that errors.ts parses from the backend's
 * JSON envelope (the UI shows its message and detail), a failed connection `network_error`, a body that is not JSON
 * `invalid_response`; an aborted request rethrows the abort.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import createClient, { type Client, type Middleware } from 'openapi-fetch';

import type { paths } from './api-types';
import { ApiError, parseApiError } from './errors';

/**
 * Call the platform API and return the parsed JSON body (untyped: for a path the OpenAPI document does not have).
 *
 * @param endPoint path under `/mlp/api/`, optionally with a query string
 * @throws ApiError carrying the backend's error code, message and detail
 */
export async function requestAPI<T>(endPoint = '', init: RequestInit = {}): Promise<T> {
  const response = await requestResponse(endPoint, init);
  return parseJson<T>(response);
}

/** The full URL of `endPoint` under `/mlp/api/`. */
export function apiUrl(endPoint: string): string {
  const settings = ServerConnection.makeSettings();
  const [path, query] = splitQuery(endPoint);
  return URLExt.join(settings.baseUrl, 'mlp', 'api', path) + query;
}

/**
 * Call the platform API and return the successful response unread (for a path the OpenAPI document does not have).
 *
 * @throws ApiError carrying the backend's error code, message and detail
 */
export async function requestResponse(endPoint: string, init: RequestInit = {}): Promise<Response> {
  return send(apiUrl(endPoint), init);
}

/** Send through Jupyter's connection (token, XSRF); a failed answer throws the backend's ApiError. */
export async function send(url: string, init: RequestInit): Promise<Response> {
  const settings = ServerConnection.makeSettings();
  const headers = new Headers(init.headers);
  if (init.body !== undefined && !headers.has('Content-Type')) {
    headers.set('Content-Type', 'application/json');
  }

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, { ...init, headers }, settings);
  } catch (error) {
    if (init.signal?.aborted) {
      throw error;
    }
    throw new ApiError(0, 'network_error', 'Could not reach the ML Platform server.', String(error));
  }
  if (!response.ok) {
    throw parseApiError(response.status, response.statusText, await response.text());
  }
  return response;
}

/** A response's JSON body; undefined when it is empty. */
export async function parseJson<T>(response: Response): Promise<T> {
  const text = await response.text();
  if (!text) {
    return undefined as T;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw notJson(response.status);
  }
}

/** The error for an answer that should be JSON and is not. */
export function notJson(status: number): ApiError {
  return new ApiError(status, 'invalid_response', 'The server sent a response that is not JSON.');
}

function splitQuery(endPoint: string): [string, string] {
  const at = endPoint.indexOf('?');
  return at === -1 ? [endPoint, ''] : [endPoint.slice(0, at), endPoint.slice(at)];
}

/**
 * openapi-fetch's `fetch`: the Request it built, sent by `ServerConnection.makeRequest`.
 *
 * makeRequest takes a URL and an init (it merges Jupyter's own init under it), so the Request is taken apart again;
 * its cache mode is passed only when a call chose one, so that Jupyter's `no-store` default applies otherwise.
 */
async function jupyterFetch(request: Request): Promise<Response> {
  const init: RequestInit = { method: request.method, headers: request.headers, signal: request.signal };
  if (request.cache !== 'default') {
    init.cache = request.cache;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const body = await request.text();
    if (body) {
      init.body = body;
    }
  }
  return send(request.url, init);
}

/**
 * A JSON answer that does not parse throws `invalid_response` with its status, as before openapi-fetch; an empty
 * one reads as undefined (openapi-fetch itself would throw a SyntaxError on a 200 with a Content-Length and no body).
 */
const jsonAnswers: Middleware = {
  async onResponse({ response, options }) {
    if (options.parseAs !== 'json' || !response.ok || response.status === 204) {
      return undefined;
    }
    const text = await response.text();
    if (text) {
      try {
        JSON.parse(text);
      } catch {
        throw notJson(response.status);
      }
    }
    const { status, statusText, headers } = response;
    return new Response(text || null, { status, statusText, headers: text ? headers : { 'Content-Length': '0' } });
  }
};

let client: Client<paths> | null = null;

/** The typed client (made on first use: the base URL comes from the page's config). */
export function api(): Client<paths> {
  if (!client) {
    const settings = ServerConnection.makeSettings();
    client = createClient<paths>({ baseUrl: URLExt.join(settings.baseUrl, 'mlp'), fetch: jupyterFetch });
    client.use(jsonAnswers);
  }
  return client;
}

/**
 * The data of a typed call. Failed answers already threw (in `send`), so what comes back is the success branch;
 * `undefined` for a 204.
 */
export async function data<D>(pending: Promise<{ data?: D; response: Response }>): Promise<D> {
  return (await pending).data as D;
}

/** The text of a typed call made with `parseAs: 'text'`: '' for an empty body (openapi-fetch gives no data then). */
export async function text(pending: Promise<{ data?: string; response: Response }>): Promise<string> {
  return (await pending).data ?? '';
}

/** The paging query most list endpoints take. */
export function page(limit: number, offset: number): { limit: number; offset: number } {
  return { limit, offset };
}

/**
 * A server-sent event stream's reader, once the answer is known to be one.
 *
 * @throws ApiError `not_a_stream` when the server answered something else
 */
export function eventReader(response: Response): ReadableStreamDefaultReader<Uint8Array> {
  const type = response.headers.get('Content-Type') ?? '';
  if (!response.body || !type.startsWith('text/event-stream')) {
    throw new ApiError(response.status, 'not_a_stream', 'The server did not send an event stream.');
  }
  return response.body.getReader();
}

/**
 * Open a server-sent event stream under `/mlp/api/` and return a reader of its raw bytes (any path: the typed
 * streams go through `api()` with `parseAs: 'stream'`).
 *
 * Abort `signal` to close it. Feed the chunks to an `SseParser` (sse.ts).
 * @throws ApiError when the server refuses the stream
 */
export async function openEventStream(
  endPoint: string,
  signal: AbortSignal
): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const response = await requestResponse(endPoint, {
    signal,
    headers: { Accept: 'text/event-stream' },
    cache: 'no-store'
  });
  return eventReader(response);
}
