/**
 * Experiments, runs, metrics and artifacts: typed calls through the openapi-fetch client. (The runs search itself,
 * `listRuns`, is in api.ts: its query string is the experiments feature's, runsQuery.ts.)
 */
import type {
  ArtifactList,
  ExperimentPage,
  MetricHistory,
  RunColumns,
  RunComparison,
  RunDetail
} from '../apiSchemas';
import { api, apiUrl, data, eventReader, text } from '../client';

/**
 * A project's experiments. The backend answers all of them in one page: `limit` and `offset` are kept for the
 * callers' sake but not sent (the endpoint takes no query; the typed client would refuse them).
 */
export function listExperiments(slug: string, limit = 100, offset = 0): Promise<ExperimentPage> {
  void limit;
  void offset;
  return data(api().GET('/api/projects/{slug}/experiments', { params: { path: { slug } } }));
}

/** The param, metric and tag keys used by a project's runs. */
export function getRunColumns(slug: string): Promise<RunColumns> {
  return data(api().GET('/api/projects/{slug}/runs/columns', { params: { path: { slug } } }));
}

/**
 * The exact number of a project's runs a filter matches: what the runs page answered as an estimate
 * (`total_exact: false`, many runs on PostgreSQL). The filter is trimmed as the page's query string trims it.
 */
export async function countRuns(slug: string, filter: string): Promise<number> {
  const query = { filter: filter.trim() || undefined };
  const result = await data(api().GET('/api/projects/{slug}/runs/count', { params: { path: { slug }, query } }));
  return result.total;
}

/** One run with its lineage. */
export function getRun(slug: string, runId: string): Promise<RunDetail> {
  return data(api().GET('/api/projects/{slug}/runs/{run_id}', { params: { path: { slug, run_id: runId } } }));
}

/** Every logged value of one metric of a run. */
export function getMetricHistory(slug: string, runId: string, key: string): Promise<MetricHistory> {
  return data(
    api().GET('/api/projects/{slug}/runs/{run_id}/metrics/{key}', { params: { path: { slug, run_id: runId, key } } })
  );
}

/** The artifacts directly inside `path` ('' for the root) of a run. */
export function listArtifacts(slug: string, runId: string, path = ''): Promise<ArtifactList> {
  return data(
    api().GET('/api/projects/{slug}/runs/{run_id}/artifacts', {
      params: { path: { slug, run_id: runId }, query: { path } }
    })
  );
}

/** The URL that downloads one artifact file (usable as a link's href). */
export function artifactUrl(slug: string, runId: string, path: string): string {
  const query = new URLSearchParams({ path }).toString();
  return apiUrl(`projects/${encodeURIComponent(slug)}/runs/${encodeURIComponent(runId)}/artifact?${query}`);
}

/** One artifact file's content as text. */
export function fetchArtifactText(slug: string, runId: string, path: string): Promise<string> {
  return text(
    api().GET('/api/projects/{slug}/runs/{run_id}/artifact', {
      params: { path: { slug, run_id: runId }, query: { path } },
      parseAs: 'text'
    })
  );
}

/** Params side by side and metric histories of 2 to 50 runs. */
export function compareRuns(slug: string, runIds: string[], metrics: string[]): Promise<RunComparison> {
  const query = { run_ids: runIds.join(','), metrics: metrics.length > 0 ? metrics.join(',') : undefined };
  return data(api().GET('/api/projects/{slug}/compare', { params: { path: { slug }, query } }));
}

/** The event stream of a project's run changes (`event: runs`). */
export async function openRunEvents(
  slug: string,
  signal: AbortSignal
): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const { response } = await api().GET('/api/projects/{slug}/runs/events', {
    params: { path: { slug } },
    parseAs: 'stream',
    signal,
    headers: { Accept: 'text/event-stream' },
    cache: 'no-store'
  });
  return eventReader(response);
}
