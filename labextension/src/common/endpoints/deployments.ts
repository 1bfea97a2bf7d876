/**
 * Deployments, their events, metrics and logs, API keys and batch scoring — typed calls through the openapi-fetch
 * client.
 */
import type {
  ApiKey,
  ApiKeyPage,
  ApiKeyRequest,
  BatchJob,
  BatchJobPage,
  BatchSubmit,
  DatasetChoice,
  Deployment,
  DeploymentEventPage,
  DeploymentMetrics,
  DeploymentPage,
  DeployRequest,
  NewApiKey,
  ScaleRequest,
  SwitchRequest,
  WorkerLog
} from '../apiSchemas';
import { api, data, notJson, page } from '../client';
import { batchBody, quoteSnapshotIds } from '../snapshotIds';

/** One page of a project's deployments, by name, each with its status and workers. */
export function listDeployments(slug: string, limit = 50, offset = 0): Promise<DeploymentPage> {
  return data(
    api().GET('/api/projects/{slug}/deployments', { params: { path: { slug }, query: page(limit, offset) } })
  );
}

/**
 * Deploy a validated version; returns once its workers verified and loaded it (typically 3–10 s).
 *
 * @throws ApiError `conflict` (409) when the version has not passed the gates, the name exists or the workers
 *   did not start; `validation_error` (422) naming the field
 */
export function createDeployment(slug: string, body: DeployRequest): Promise<Deployment> {
  return data(api().POST('/api/projects/{slug}/deployments', { params: { path: { slug } }, body }));
}

/** A deployment with its status and workers. */
export function getDeployment(slug: string, name: string, signal?: AbortSignal): Promise<Deployment> {
  return data(api().GET('/api/projects/{slug}/deployments/{name}', { params: { path: { slug, name } }, signal }));
}

/** Serve another validated version; traffic moves when its workers are ready (the old version serves meanwhile). */
export function switchDeploymentVersion(slug: string, name: string, body: SwitchRequest): Promise<Deployment> {
  return data(
    api().PUT('/api/projects/{slug}/deployments/{name}/version', { params: { path: { slug, name } }, body })
  );
}

/** Serve the version that served before the last switch; a 409 when there is none. */
export function rollbackDeployment(slug: string, name: string): Promise<Deployment> {
  return data(api().POST('/api/projects/{slug}/deployments/{name}/rollback', { params: { path: { slug, name } } }));
}

/** Change the worker range and the latency objective. */
export function scaleDeployment(slug: string, name: string, body: ScaleRequest): Promise<Deployment> {
  return data(api().PATCH('/api/projects/{slug}/deployments/{name}', { params: { path: { slug, name } }, body }));
}

/** Stop and remove a deployment; its endpoint answers 404 from then on. */
export async function deleteDeployment(slug: string, name: string): Promise<void> {
  await data(api().DELETE('/api/projects/{slug}/deployments/{name}', { params: { path: { slug, name } } }));
}

/** One page of a deployment's events (deploy, switch, rollback, restart, scale, configure, failed), newest first. */
export function listDeploymentEvents(
  slug: string,
  name: string,
  limit = 20,
  offset = 0
): Promise<DeploymentEventPage> {
  return data(
    api().GET('/api/projects/{slug}/deployments/{name}/events', {
      params: { path: { slug, name }, query: page(limit, offset) }
    })
  );
}

/** Latency percentiles, errors and traffic of the last `minutes`, in 10-second windows. */
export function getDeploymentMetrics(
  slug: string,
  name: string,
  minutes = 15,
  signal?: AbortSignal
): Promise<DeploymentMetrics> {
  return data(
    api().GET('/api/projects/{slug}/deployments/{name}/metrics', {
      params: { path: { slug, name }, query: { minutes } },
      signal
    })
  );
}

/** The last `lines` each worker of a deployment wrote. */
export function getDeploymentLogs(slug: string, name: string, lines = 200): Promise<WorkerLog[]> {
  return data(
    api().GET('/api/projects/{slug}/deployments/{name}/logs', { params: { path: { slug, name }, query: { lines } } })
  );
}

/** One page of a project's API keys, newest first (never the secrets). */
export function listApiKeys(slug: string, limit = 50, offset = 0): Promise<ApiKeyPage> {
  return data(api().GET('/api/projects/{slug}/api-keys', { params: { path: { slug }, query: page(limit, offset) } }));
}

/** Create a key for a client system (leads); `key` in the answer is the only time the secret is shown. */
export function createApiKey(slug: string, body: ApiKeyRequest): Promise<NewApiKey> {
  return data(api().POST('/api/projects/{slug}/api-keys', { params: { path: { slug } }, body }));
}

/** Revoke a key (leads): its next request gets 401. */
export function revokeApiKey(slug: string, prefix: string): Promise<ApiKey> {
  return data(api().DELETE('/api/projects/{slug}/api-keys/{prefix}', { params: { path: { slug, prefix } } }));
}

// --- batch scoring ---------------------------------------------------------------------------------------
// Iceberg snapshot ids are 64-bit, which JSON.parse would round: these answers are read as text (`parseAs: 'text'`)
// and parsed with their snapshot ids quoted, and the request's snapshot id is written by `batchBody` as an exact
// number. Paths and every other field are still checked against the OpenAPI document.

/** A JSON answer whose snapshot ids (64-bit) arrive as exact strings. */
async function withSnapshotIds<T>(pending: Promise<{ data?: string; response: Response }>): Promise<T> {
  const { data: text, response } = await pending;
  try {
    return JSON.parse(quoteSnapshotIds(text ?? '')) as T;
  } catch {
    throw notJson(response.status);
  }
}

/** The project's datasets with their snapshots (for the batch form's picker). */
export async function listDatasets(slug: string): Promise<DatasetChoice[]> {
  const page = await withSnapshotIds<{ items: DatasetChoice[] }>(
    api().GET('/api/projects/{slug}/datasets', { params: { path: { slug } }, parseAs: 'text' })
  );
  return page.items;
}

/** Score a dataset snapshot with a deployment's version in the background (a queued job). */
export function submitBatchJob(slug: string, name: string, body: BatchSubmit): Promise<BatchJob> {
  const { snapshot_id, ...rest } = body;
  return withSnapshotIds<BatchJob>(
    api().POST('/api/projects/{slug}/deployments/{name}/batch', {
      params: { path: { slug, name } },
      body: rest,
      bodySerializer: checked => batchBody({ ...checked, snapshot_id }),
      parseAs: 'text'
    })
  );
}

/** One page of a deployment's batch jobs, newest first. */
export function listBatchJobs(
  slug: string,
  name: string,
  limit = 10,
  offset = 0,
  signal?: AbortSignal
): Promise<BatchJobPage> {
  return withSnapshotIds<BatchJobPage>(
    api().GET('/api/projects/{slug}/deployments/{name}/batch', {
      params: { path: { slug, name }, query: page(limit, offset) },
      parseAs: 'text',
      signal
    })
  );
}

/** A succeeded job's scored rows as a Parquet file (fetched with the session's credentials). */
export async function fetchBatchOutput(slug: string, id: string): Promise<Blob> {
  const { data: blob } = await api().GET('/api/projects/{slug}/batch-jobs/{job_id}/output', {
    params: { path: { slug, job_id: id } },
    parseAs: 'blob'
  });
  // openapi-fetch gives no data for an empty body; the caller still gets a (empty) file.
  return blob ?? new Blob([]);
}
