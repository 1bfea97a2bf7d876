/**
 * Monitoring: a deployment's monitor, its windows and reports, alerts, retrainings and webhooks — typed calls through
 * the openapi-fetch client.
 */
import type {
  AlertPage,
  MonitorEvaluation,
  MonitorOut,
  MonitorRequest,
  MonitorWindowPage,
  RetrainingPage,
  Webhook,
  WebhookPage,
  WebhookRequest
} from '../apiSchemas';
import { api, data, page, text } from '../client';

/** A deployment's monitor; ApiError 404 when it has none. */
export function getMonitor(slug: string, name: string, signal?: AbortSignal): Promise<MonitorOut> {
  return data(
    api().GET('/api/projects/{slug}/deployments/{name}/monitor', { params: { path: { slug, name } }, signal })
  );
}

/** Create or change a deployment's monitor (scientists and up); builds the reference profile. */
export function putMonitor(slug: string, name: string, body: MonitorRequest): Promise<MonitorOut> {
  return data(
    api().PUT('/api/projects/{slug}/deployments/{name}/monitor', { params: { path: { slug, name } }, body })
  );
}

/** Evaluate the monitor now: new windows, alerts, webhooks, retraining. */
export function evaluateMonitor(slug: string, name: string): Promise<MonitorEvaluation> {
  return data(
    api().POST('/api/projects/{slug}/deployments/{name}/monitor/evaluate', { params: { path: { slug, name } } })
  );
}

/** One page of the monitor's windows, newest first. */
export function listMonitorWindows(
  slug: string,
  name: string,
  limit = 20,
  offset = 0,
  signal?: AbortSignal
): Promise<MonitorWindowPage> {
  return data(
    api().GET('/api/projects/{slug}/deployments/{name}/monitor/windows', {
      params: { path: { slug, name }, query: page(limit, offset) },
      signal
    })
  );
}

/** A window's Evidently report as HTML text (shown in a sandboxed frame, never at the platform's origin). */
export function fetchWindowReport(slug: string, name: string, windowId: number): Promise<string> {
  return text(
    api().GET('/api/projects/{slug}/deployments/{name}/monitor/windows/{window_id}/report', {
      params: { path: { slug, name, window_id: windowId } },
      headers: { Accept: 'text/html' },
      parseAs: 'text'
    })
  );
}

/** One page of a project's alerts, newest first, optionally of one state or deployment. */
export function listAlerts(
  slug: string,
  query: { state?: 'firing' | 'resolved'; deployment?: string; limit?: number; offset?: number } = {},
  signal?: AbortSignal
): Promise<AlertPage> {
  return data(
    api().GET('/api/projects/{slug}/alerts', {
      params: {
        path: { slug },
        query: {
          limit: query.limit ?? 10,
          offset: query.offset ?? 0,
          state: query.state || undefined,
          deployment: query.deployment || undefined
        }
      },
      signal
    })
  );
}

/** One page of a deployment's automatic retrainings, newest first. */
export function listRetrainings(
  slug: string,
  name: string,
  limit = 10,
  offset = 0,
  signal?: AbortSignal
): Promise<RetrainingPage> {
  return data(
    api().GET('/api/projects/{slug}/deployments/{name}/monitor/retrainings', {
      params: { path: { slug, name }, query: page(limit, offset) },
      signal
    })
  );
}

/** One page of a project's webhooks. */
export function listWebhooks(slug: string, limit = 50, offset = 0): Promise<WebhookPage> {
  return data(api().GET('/api/projects/{slug}/webhooks', { params: { path: { slug }, query: page(limit, offset) } }));
}

/** Send the project's alerts somewhere (leads); the secret is never shown again. */
export function createWebhook(slug: string, body: WebhookRequest): Promise<Webhook> {
  return data(api().POST('/api/projects/{slug}/webhooks', { params: { path: { slug } }, body }));
}

/** Stop sending alerts to a webhook (leads). */
export async function deleteWebhook(slug: string, id: number): Promise<void> {
  await data(api().DELETE('/api/projects/{slug}/webhooks/{hook_id}', { params: { path: { slug, hook_id: id } } }));
}
