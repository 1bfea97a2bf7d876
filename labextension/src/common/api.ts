/**
 * The platform API as typed functions. Widgets call these, never `fetch`.
 *
 * Each call goes through one openapi-fetch client over the paths generated from the backend's OpenAPI document
 * (client.ts), so its path, parameters, body and answer are checked by the compiler; the calls are grouped per
 * feature in endpoints/. This module is the one name the rest of the extension imports them by.
 *
 * Requests go to the server extension's `/mlp/api/...`, which proxies to the backend's `/api/...`.
 */
import type { RunPage } from './apiSchemas';
import { api, data } from './client';
import { IRunsQuery, runsQueryString } from '../experiments/runsQuery';

export { ApiError } from './errors';
export * from './apiSchemas';
export { apiUrl, openEventStream, requestAPI, requestResponse } from './client';
export * from './endpoints/projects';
export * from './endpoints/experiments';
export * from './endpoints/pipelines';
export * from './endpoints/models';
export * from './endpoints/deployments';
export * from './endpoints/monitoring';
export * from './endpoints/assistant';

/**
 * One page of a project's runs, filtered and sorted on the server.
 *
 * The query string is the runs table's own (runsQuery.ts: a trimmed filter, repeated `experiment_id`), so it is
 * written by `runsQueryString` rather than from a typed query object; the path and the answer are typed.
 */
export function listRuns(slug: string, query: IRunsQuery, signal?: AbortSignal): Promise<RunPage> {
  return data(
    api().GET('/api/projects/{slug}/runs', {
      params: { path: { slug } },
      querySerializer: () => runsQueryString(query),
      signal
    })
  );
}
