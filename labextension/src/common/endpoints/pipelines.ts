/**
 * Pipelines: preflight and promote, versions, runs, stage logs, the executor and schedules — typed calls through the
 * openapi-fetch client.
 */
import type {
  Executor,
  NotebookSubmission,
  PipelineDetail,
  PipelinePage,
  PipelineRun,
  PipelineRunPage,
  PreflightReport,
  PromoteRequest,
  PromoteResult,
  RunRequest,
  Schedule,
  SchedulePage,
  ScheduleRequest
} from '../apiSchemas';
import { api, data, page, text } from '../client';

/** What promoting a notebook would give (stages, parameters, problems), without storing anything. */
export function preflightPipeline(slug: string, body: NotebookSubmission): Promise<PreflightReport> {
  return data(api().POST('/api/projects/{slug}/pipelines/preflight', { params: { path: { slug } }, body }));
}

/**
 * Store the notebook as a new version of a pipeline; `created` is false when an identical version
 * already existed.
 *
 * @throws ApiError `preflight_failed` (422) with the problems as detail when preflight has errors
 */
export function promotePipeline(slug: string, body: PromoteRequest): Promise<PromoteResult> {
  return data(api().POST('/api/projects/{slug}/pipelines', { params: { path: { slug } }, body }));
}

/** One page of a project's pipelines. */
export function listPipelines(slug: string, limit = 50, offset = 0): Promise<PipelinePage> {
  return data(api().GET('/api/projects/{slug}/pipelines', { params: { path: { slug }, query: page(limit, offset) } }));
}

/** A pipeline and its versions, oldest first. */
export function getPipeline(slug: string, name: string): Promise<PipelineDetail> {
  return data(api().GET('/api/projects/{slug}/pipelines/{name}', { params: { path: { slug, name } } }));
}

/** One page of a pipeline's runs, newest first. */
export function listPipelineRuns(
  slug: string,
  name: string,
  limit = 50,
  offset = 0
): Promise<PipelineRunPage> {
  return data(
    api().GET('/api/projects/{slug}/pipelines/{name}/runs', {
      params: { path: { slug, name }, query: page(limit, offset) }
    })
  );
}

/**
 * Run a version of a pipeline with the given parameters (the others keep their defaults).
 *
 * @throws ApiError `validation_error` (422) naming `parameters.<name>` in `detail[0].field`
 */
export function startPipelineRun(slug: string, name: string, body: RunRequest): Promise<PipelineRun> {
  return data(api().POST('/api/projects/{slug}/pipelines/{name}/runs', { params: { path: { slug, name } }, body }));
}

/** A pipeline run with the status of each stage. */
export function getPipelineRun(slug: string, runId: string, signal?: AbortSignal): Promise<PipelineRun> {
  return data(
    api().GET('/api/projects/{slug}/pipeline-runs/{run_id}', { params: { path: { slug, run_id: runId } }, signal })
  );
}

/** Cancel a pipeline run that has not ended; a 409 when it has. */
export function cancelPipelineRun(slug: string, runId: string): Promise<PipelineRun> {
  return data(
    api().POST('/api/projects/{slug}/pipeline-runs/{run_id}/cancel', { params: { path: { slug, run_id: runId } } })
  );
}

/** Run again exactly: the same version, parameters and dataset snapshots (a new run). */
export function replayPipelineRun(slug: string, runId: string): Promise<PipelineRun> {
  return data(
    api().POST('/api/projects/{slug}/pipeline-runs/{run_id}/replay', { params: { path: { slug, run_id: runId } } })
  );
}

/** What a stage printed (image build, papermill, the container's output) as plain text; '' when nothing yet. */
export function getStageLog(slug: string, runId: string, stage: string): Promise<string> {
  return text(
    api().GET('/api/projects/{slug}/pipeline-runs/{run_id}/stages/{stage}/log', {
      params: { path: { slug, run_id: runId, stage } },
      parseAs: 'text',
      cache: 'no-store'
    })
  );
}

/** Where pipeline stages run on this platform: Docker containers, a local subprocess, or nowhere. */
export function getPipelineExecutor(): Promise<Executor> {
  return data(api().GET('/api/pipeline-executor'));
}

/** One page of a pipeline's schedules, oldest first, each with its next ticks. */
export function listSchedules(
  slug: string,
  name: string,
  limit = 20,
  offset = 0
): Promise<SchedulePage> {
  return data(
    api().GET('/api/projects/{slug}/pipelines/{name}/schedules', {
      params: { path: { slug, name }, query: page(limit, offset) }
    })
  );
}

/**
 * Schedule a version of a pipeline (default the latest) with parameters, on a cron expression.
 *
 * @throws ApiError `validation_error` (422) naming `cron`, `timezone` or `parameters.<name>` in `detail[0].field`
 */
export function createSchedule(slug: string, name: string, body: ScheduleRequest): Promise<Schedule> {
  return data(
    api().POST('/api/projects/{slug}/pipelines/{name}/schedules', { params: { path: { slug, name } }, body })
  );
}

/** Delete a schedule; the runs it launched stay. */
export async function deleteSchedule(slug: string, scheduleId: number): Promise<void> {
  await data(
    api().DELETE('/api/projects/{slug}/pipeline-schedules/{schedule_id}', {
      params: { path: { slug, schedule_id: scheduleId } }
    })
  );
}
