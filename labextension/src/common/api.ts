/**
 * The platform API as typed functions. Widgets call these, never `fetch`.
 *
 * Requests go to the server extension's `/mlp/api/...`, which proxies to the backend's `/api/...`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { components } from './api-types';
import { ApiError, parseApiError } from './errors';
import type { Role as PanelRole } from './permissions';
import { IRunsQuery, runsQueryString } from '../experiments/runsQuery';
import { batchBody, quoteSnapshotIds } from './snapshotIds';

export { ApiError } from './errors';

type Schemas = components['schemas'];
export type Role = Schemas['Role'];
export type WhoAmI = Schemas['Whoami'];
export type Project = Schemas['ProjectOut'];
export type ProjectCreate = Schemas['ProjectCreate'];
export type ProjectPage = Schemas['ProjectPage'];
export type Member = Schemas['MemberOut'];
export type MemberPage = Schemas['MemberPage'];
export type ExperimentOut = Schemas['ExperimentOut'];
export type ExperimentPage = Schemas['ExperimentPage'];
export type RunSummary = Schemas['RunSummary'];
export type RunPage = Schemas['RunPage'];
export type RunColumns = Schemas['RunColumns'];
export type RunDetail = Schemas['RunDetail'];
export type Lineage = Schemas['Lineage'];
export type DatasetRef = Schemas['DatasetRef'];
export type MetricPoint = Schemas['MetricPoint'];
export type MetricHistory = Schemas['MetricHistory'];
export type ArtifactEntry = Schemas['ArtifactEntry'];
export type ArtifactList = Schemas['ArtifactList'];
export type RunComparison = Schemas['RunComparison'];
export type StageOut = Schemas['StageOut'];
export type ParameterOut = Schemas['ParameterOut'];
export type Problem = Schemas['Problem'];
export type PreflightReport = Schemas['PreflightReport'];
export type NotebookSubmission = Schemas['NotebookSubmission'];
export type PromoteRequest = Schemas['PromoteRequest'];
export type PromoteResult = Schemas['PromoteResult'];
export type PipelineSummary = Schemas['PipelineSummary'];
export type PipelinePage = Schemas['PipelinePage'];
export type PipelineDetail = Schemas['PipelineDetail'];
export type PipelineVersion = Schemas['PipelineVersionOut'];
export type PipelineRun = Schemas['PipelineRunOut'];
export type PipelineRunPage = Schemas['PipelineRunPage'];
export type RunRequest = Schemas['RunRequest'];
export type StageStatus = Schemas['StageStatus'];
export type Executor = Schemas['ExecutorOut'];
export type Schedule = Schemas['ScheduleOut'];
export type SchedulePage = Schemas['SchedulePage'];
export type ScheduleRequest = Schemas['ScheduleRequest'];
export type ModelSummary = Schemas['ModelSummary'];
export type ModelPage = Schemas['ModelPage'];
export type ModelDetail = Schemas['ModelDetail'];
export type ModelVersion = Schemas['VersionOut'];
export type ModelVersionPage = Schemas['VersionPage'];
export type RegisterModelRequest = Schemas['RegisterRequest'];
export type VerifyResult = Schemas['VerifyOut'];
export type GateConfig = Schemas['GateConfig'];
export type GateThreshold = Schemas['Threshold'];
export type GateChallenger = Schemas['ChallengerRule'];
export type GateEvaluation = Schemas['Evaluation'];
export type GateDecision = Schemas['DecisionOut'];
export type GateDecisionPage = Schemas['DecisionPage'];
export type GateDecisionStatus = GateDecision['status'];
export type ModelAlias = Schemas['AliasRequest']['alias'];
export type LineageGraph = Schemas['LineageGraph'];
export type LineageNode = Schemas['LineageNode'];
export type LineageEdge = Schemas['LineageEdge'];
export type VersionDiff = Schemas['VersionDiff'];
export type DiffRow = Schemas['DiffRow'];
export type Deployment = Schemas['DeploymentOut'];
export type DeploymentPage = Schemas['DeploymentPage'];
export type DeployRequest = Schemas['DeployRequest'];
export type SwitchRequest = Schemas['SwitchRequest'];
export type ScaleRequest = Schemas['ScaleRequest'];
export type DeploymentWorker = Schemas['WorkerOut'];
export type DeploymentEvent = Schemas['EventOut'];
export type DeploymentEventPage = Schemas['EventPage'];
export type DeploymentMetrics = Schemas['DeploymentMetrics'];
export type TrafficPoint = Schemas['TrafficPoint'];
export type WorkerLog = Schemas['LogOut'];
export type ApiKey = Schemas['KeyOut'];
export type NewApiKey = Schemas['NewKeyOut'];
export type ApiKeyPage = Schemas['KeyPage'];
export type ApiKeyRequest = Schemas['KeyRequest'];
export type BatchJob = Schemas['BatchJobOut'];
export type BatchJobPage = Schemas['BatchJobPage'];
export type MonitorOut = Schemas['MonitorOut'];
export type MonitorRequest = Schemas['MonitorRequest'];
export type MonitorProfile = Schemas['ProfileOut'];
export type MonitorWindow = Schemas['WindowOut'];
export type MonitorWindowPage = Schemas['WindowPage'];
export type MonitorEvaluation = Schemas['EvaluationOut'];
export type Alert = Schemas['AlertOut'];
export type AlertPage = Schemas['AlertPage'];
export type AlertDelivery = Schemas['DeliveryOut'];
export type Retraining = Schemas['RetrainingOut'];
export type RetrainingPage = Schemas['RetrainingPage'];
export type Webhook = Schemas['WebhookOut'];
export type WebhookPage = Schemas['WebhookPage'];
export type WebhookRequest = Schemas['WebhookRequest'];
export type Dashboard = Schemas['Dashboard'];

/** A batch request as the panel sends it: the snapshot id kept exact, as a string of digits (64-bit). */
export type BatchSubmit = Omit<Schemas['BatchRequest'], 'snapshot_id'> & { snapshot_id?: string };

/** A project dataset for the batch form's picker; snapshot ids kept exact, as strings of digits (64-bit). */
export interface DatasetChoice {
  name: string;
  current_snapshot_id: string;
  snapshots: { snapshot_id: string; timestamp_ms: number }[];
}

/** Which project a notebook belongs to, from the server extension's `project-of` route. */
export interface ProjectOf {
  /** The project's slug, or null when no `mlp-project.toml` applies. */
  project: string | null;
  /** Path of the `mlp-project.toml` that decided it, or null. */
  marker: string | null;
  /** The rule, in words, for how a notebook's project is found. */
  rule: string;
}

/**
 * Call the platform API and return the parsed JSON body.
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
 * Call the platform API and return the successful response unread (for files and streams).
 *
 * @throws ApiError carrying the backend's error code, message and detail
 */
export async function requestResponse(endPoint: string, init: RequestInit = {}): Promise<Response> {
  return send(apiUrl(endPoint), init);
}

async function send(url: string, init: RequestInit): Promise<Response> {
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

async function parseJson<T>(response: Response): Promise<T> {
  const text = await response.text();
  if (!text) {
    return undefined as T;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, 'invalid_response', 'The server sent a response that is not JSON.');
  }
}

function splitQuery(endPoint: string): [string, string] {
  const at = endPoint.indexOf('?');
  return at === -1 ? [endPoint, ''] : [endPoint.slice(0, at), endPoint.slice(at)];
}

function projectPath(slug: string): string {
  return `projects/${encodeURIComponent(slug)}`;
}

function page(limit: number, offset: number): string {
  return new URLSearchParams({ limit: String(limit), offset: String(offset) }).toString();
}

/** Who the caller is, whether they are a platform admin, and their projects. */
export function whoami(): Promise<WhoAmI> {
  return requestAPI<WhoAmI>('whoami');
}

/** One page of the projects the caller can see, each with the caller's effective role. */
export function listProjects(limit = 50, offset = 0): Promise<ProjectPage> {
  return requestAPI<ProjectPage>(`projects?${page(limit, offset)}`);
}

/** Create a project (platform admins only). */
export function createProject(body: ProjectCreate): Promise<Project> {
  return requestAPI<Project>('projects', { method: 'POST', body: JSON.stringify(body) });
}

/** One project; a 404 when it does not exist or the caller is not a member. */
export function getProject(slug: string): Promise<Project> {
  return requestAPI<Project>(projectPath(slug));
}

/** One page of a project's members. */
export function listMembers(slug: string, limit = 50, offset = 0): Promise<MemberPage> {
  return requestAPI<MemberPage>(`${projectPath(slug)}/members?${page(limit, offset)}`);
}

/** Add a member, or change an existing member's role. */
export function setMember(slug: string, user: string, role: Role): Promise<Member> {
  return requestAPI<Member>(`${projectPath(slug)}/members/${encodeURIComponent(user)}`, {
    method: 'PUT',
    body: JSON.stringify({ role })
  });
}

/** Remove a member from a project. */
export async function removeMember(slug: string, user: string): Promise<void> {
  await requestAPI<void>(`${projectPath(slug)}/members/${encodeURIComponent(user)}`, {
    method: 'DELETE'
  });
}

/** Fetch every project the caller can see, page by page. */
export async function listAllProjects(pageSize = 50): Promise<Project[]> {
  const projects: Project[] = [];
  for (;;) {
    const result = await listProjects(pageSize, projects.length);
    projects.push(...result.items);
    if (result.items.length === 0 || projects.length >= result.total) {
      return projects;
    }
  }
}

function runPath(slug: string, runId: string): string {
  return `${projectPath(slug)}/runs/${encodeURIComponent(runId)}`;
}

/** One page of a project's experiments. */
export function listExperiments(slug: string, limit = 100, offset = 0): Promise<ExperimentPage> {
  return requestAPI<ExperimentPage>(`${projectPath(slug)}/experiments?${page(limit, offset)}`);
}

/** One page of a project's runs, filtered and sorted on the server. */
export function listRuns(slug: string, query: IRunsQuery, signal?: AbortSignal): Promise<RunPage> {
  return requestAPI<RunPage>(`${projectPath(slug)}/runs?${runsQueryString(query)}`, { signal });
}

/** The param, metric and tag keys used by a project's runs. */
export function getRunColumns(slug: string): Promise<RunColumns> {
  return requestAPI<RunColumns>(`${projectPath(slug)}/runs/columns`);
}

/** One run with its lineage. */
export function getRun(slug: string, runId: string): Promise<RunDetail> {
  return requestAPI<RunDetail>(runPath(slug, runId));
}

/** Every logged value of one metric of a run. */
export function getMetricHistory(slug: string, runId: string, key: string): Promise<MetricHistory> {
  return requestAPI<MetricHistory>(`${runPath(slug, runId)}/metrics/${encodeURIComponent(key)}`);
}

/** The artifacts directly inside `path` ('' for the root) of a run. */
export function listArtifacts(slug: string, runId: string, path = ''): Promise<ArtifactList> {
  const query = new URLSearchParams({ path }).toString();
  return requestAPI<ArtifactList>(`${runPath(slug, runId)}/artifacts?${query}`);
}

/** The URL that downloads one artifact file (usable as a link's href). */
export function artifactUrl(slug: string, runId: string, path: string): string {
  const query = new URLSearchParams({ path }).toString();
  return apiUrl(`${runPath(slug, runId)}/artifact?${query}`);
}

/** One artifact file's content as text. */
export async function fetchArtifactText(slug: string, runId: string, path: string): Promise<string> {
  const query = new URLSearchParams({ path }).toString();
  const response = await requestResponse(`${runPath(slug, runId)}/artifact?${query}`);
  return response.text();
}

/** Params side by side and metric histories of 2 to 50 runs. */
export function compareRuns(slug: string, runIds: string[], metrics: string[]): Promise<RunComparison> {
  const query = new URLSearchParams({ run_ids: runIds.join(',') });
  if (metrics.length > 0) {
    query.set('metrics', metrics.join(','));
  }
  return requestAPI<RunComparison>(`${projectPath(slug)}/compare?${query.toString()}`);
}

/**
 * Open a server-sent event stream under `/mlp/api/` and return a reader of its raw bytes.
 *
 * Abort `signal` to close it. Feed the chunks to an `SseParser` (runsFeed.ts).
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
  const type = response.headers.get('Content-Type') ?? '';
  if (!response.body || !type.startsWith('text/event-stream')) {
    throw new ApiError(response.status, 'not_a_stream', 'The server did not send an event stream.');
  }
  return response.body.getReader();
}

/** The event stream of a project's run changes (`event: runs`). */
export function openRunEvents(
  slug: string,
  signal: AbortSignal
): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  return openEventStream(`${projectPath(slug)}/runs/events`, signal);
}

/** What promoting a notebook would give (stages, parameters, problems), without storing anything. */
export function preflightPipeline(slug: string, body: NotebookSubmission): Promise<PreflightReport> {
  return requestAPI<PreflightReport>(`${projectPath(slug)}/pipelines/preflight`, {
    method: 'POST',
    body: JSON.stringify(body)
  });
}

/**
 * Store the notebook as a new version of a pipeline; `created` is false when an identical version
 * already existed.
 *
 * @throws ApiError `preflight_failed` (422) with the problems as detail when preflight has errors
 */
export function promotePipeline(slug: string, body: PromoteRequest): Promise<PromoteResult> {
  return requestAPI<PromoteResult>(`${projectPath(slug)}/pipelines`, {
    method: 'POST',
    body: JSON.stringify(body)
  });
}

/** One page of a project's pipelines. */
export function listPipelines(slug: string, limit = 50, offset = 0): Promise<PipelinePage> {
  return requestAPI<PipelinePage>(`${projectPath(slug)}/pipelines?${page(limit, offset)}`);
}

function pipelinePath(slug: string, name: string): string {
  return `${projectPath(slug)}/pipelines/${encodeURIComponent(name)}`;
}

function pipelineRunPath(slug: string, runId: string): string {
  return `${projectPath(slug)}/pipeline-runs/${encodeURIComponent(runId)}`;
}

/** A pipeline and its versions, oldest first. */
export function getPipeline(slug: string, name: string): Promise<PipelineDetail> {
  return requestAPI<PipelineDetail>(pipelinePath(slug, name));
}

/** One page of a pipeline's runs, newest first. */
export function listPipelineRuns(
  slug: string,
  name: string,
  limit = 50,
  offset = 0
): Promise<PipelineRunPage> {
  return requestAPI<PipelineRunPage>(`${pipelinePath(slug, name)}/runs?${page(limit, offset)}`);
}

/**
 * Run a version of a pipeline with the given parameters (the others keep their defaults).
 *
 * @throws ApiError `validation_error` (422) naming `parameters.<name>` in `detail[0].field`
 */
export function startPipelineRun(slug: string, name: string, body: RunRequest): Promise<PipelineRun> {
  return requestAPI<PipelineRun>(`${pipelinePath(slug, name)}/runs`, {
    method: 'POST',
    body: JSON.stringify(body)
  });
}

/** A pipeline run with the status of each stage. */
export function getPipelineRun(slug: string, runId: string, signal?: AbortSignal): Promise<PipelineRun> {
  return requestAPI<PipelineRun>(pipelineRunPath(slug, runId), { signal });
}

/** Cancel a pipeline run that has not ended; a 409 when it has. */
export function cancelPipelineRun(slug: string, runId: string): Promise<PipelineRun> {
  return requestAPI<PipelineRun>(`${pipelineRunPath(slug, runId)}/cancel`, { method: 'POST' });
}

/** Run again exactly: the same version, parameters and dataset snapshots (a new run). */
export function replayPipelineRun(slug: string, runId: string): Promise<PipelineRun> {
  return requestAPI<PipelineRun>(`${pipelineRunPath(slug, runId)}/replay`, { method: 'POST' });
}

/** What a stage printed (image build, papermill, the container's output) as plain text; '' when nothing yet. */
export async function getStageLog(slug: string, runId: string, stage: string): Promise<string> {
  const response = await requestResponse(
    `${pipelineRunPath(slug, runId)}/stages/${encodeURIComponent(stage)}/log`,
    { cache: 'no-store' }
  );
  return response.text();
}

/** Where pipeline stages run on this platform: Docker containers, a local subprocess, or nowhere. */
export function getPipelineExecutor(): Promise<Executor> {
  return requestAPI<Executor>('pipeline-executor');
}

/** One page of a pipeline's schedules, oldest first, each with its next ticks. */
export function listSchedules(
  slug: string,
  name: string,
  limit = 20,
  offset = 0
): Promise<SchedulePage> {
  return requestAPI<SchedulePage>(`${pipelinePath(slug, name)}/schedules?${page(limit, offset)}`);
}

/**
 * Schedule a version of a pipeline (default the latest) with parameters, on a cron expression.
 *
 * @throws ApiError `validation_error` (422) naming `cron`, `timezone` or `parameters.<name>` in `detail[0].field`
 */
export function createSchedule(slug: string, name: string, body: ScheduleRequest): Promise<Schedule> {
  return requestAPI<Schedule>(`${pipelinePath(slug, name)}/schedules`, {
    method: 'POST',
    body: JSON.stringify(body)
  });
}

/** Delete a schedule; the runs it launched stay. */
export async function deleteSchedule(slug: string, scheduleId: number): Promise<void> {
  await requestAPI<void>(`${projectPath(slug)}/pipeline-schedules/${encodeURIComponent(String(scheduleId))}`, {
    method: 'DELETE'
  });
}

function modelPath(slug: string, name: string): string {
  return `${projectPath(slug)}/models/${encodeURIComponent(name)}`;
}

function modelVersionPath(slug: string, name: string, version: number): string {
  return `${modelPath(slug, name)}/versions/${encodeURIComponent(String(version))}`;
}

function decisionPath(slug: string, decisionId: number): string {
  return `${projectPath(slug)}/gate-decisions/${encodeURIComponent(String(decisionId))}`;
}

/** One page of a project's registered models, each with its aliases and pending approvals. */
export function listModels(slug: string, limit = 50, offset = 0): Promise<ModelPage> {
  return requestAPI<ModelPage>(`${projectPath(slug)}/models?${page(limit, offset)}`);
}

/**
 * Register a run's logged model as a new version of `body.name` (hashed, signed, with lineage).
 *
 * @throws ApiError `validation_error` (422) naming `name`, `run_id` or `artifact_path` in `detail[0].field`;
 *   `not_found` (404) for a run that is not the project's
 */
export function registerModel(slug: string, body: RegisterModelRequest): Promise<ModelVersion> {
  return requestAPI<ModelVersion>(`${projectPath(slug)}/models`, {
    method: 'POST',
    body: JSON.stringify(body)
  });
}

/** A registered model with its aliases and gates. */
export function getModel(slug: string, name: string): Promise<ModelDetail> {
  return requestAPI<ModelDetail>(modelPath(slug, name));
}

/** One page of a model's versions, newest first. */
export function listModelVersions(
  slug: string,
  name: string,
  limit = 50,
  offset = 0
): Promise<ModelVersionPage> {
  return requestAPI<ModelVersionPage>(`${modelPath(slug, name)}/versions?${page(limit, offset)}`);
}

/** Check a version's files against its signed manifest; `ok` false says why not. */
export function verifyModelVersion(slug: string, name: string, version: number): Promise<VerifyResult> {
  return requestAPI<VerifyResult>(`${modelVersionPath(slug, name, version)}/verify`, { method: 'POST' });
}

/**
 * Replace a model's validation gates (leads only; 403 otherwise).
 *
 * @throws ApiError `validation_error` (422) naming the field, e.g. `thresholds.0.value` or `challenger`
 */
export function setModelGates(slug: string, name: string, gates: GateConfig): Promise<GateConfig> {
  return requestAPI<GateConfig>(`${modelPath(slug, name)}/gates`, {
    method: 'PUT',
    body: JSON.stringify(gates)
  });
}

/**
 * Ask for `alias` to move to a version: the gates decide (and maybe a lead). Can take several seconds
 * while the versions are scored.
 */
export function promoteModelVersion(
  slug: string,
  name: string,
  version: number,
  alias: ModelAlias
): Promise<GateDecision> {
  return requestAPI<GateDecision>(`${modelVersionPath(slug, name, version)}/promote`, {
    method: 'POST',
    body: JSON.stringify({ alias })
  });
}

/** Filters for the gate decisions of a project. */
export interface IDecisionQuery {
  status?: GateDecisionStatus;
  model?: string;
  limit?: number;
  offset?: number;
}

/** One page of a project's gate decisions, newest first (`status: 'pending'`: what waits for a lead). */
export function listGateDecisions(slug: string, query: IDecisionQuery = {}): Promise<GateDecisionPage> {
  const params = new URLSearchParams({
    limit: String(query.limit ?? 50),
    offset: String(query.offset ?? 0)
  });
  if (query.status) {
    params.set('status', query.status);
  }
  if (query.model) {
    params.set('model', query.model);
  }
  return requestAPI<GateDecisionPage>(`${projectPath(slug)}/gate-decisions?${params.toString()}`);
}

/** Approve a pending decision (leads); the alias moves. A 409 when it is no longer pending. */
export function approveGateDecision(slug: string, decisionId: number, reason: string): Promise<GateDecision> {
  return requestAPI<GateDecision>(`${decisionPath(slug, decisionId)}/approve`, {
    method: 'POST',
    body: JSON.stringify({ reason })
  });
}

/** Reject a pending decision (leads); the alias stays. A 409 when it is no longer pending. */
export function rejectGateDecision(slug: string, decisionId: number, reason: string): Promise<GateDecision> {
  return requestAPI<GateDecision>(`${decisionPath(slug, decisionId)}/reject`, {
    method: 'POST',
    body: JSON.stringify({ reason })
  });
}

/** Where a version came from: dataset snapshots → pipeline version → runs → the version → deployments. */
export function getModelLineage(slug: string, name: string, version: number): Promise<LineageGraph> {
  return requestAPI<LineageGraph>(`${modelVersionPath(slug, name, version)}/lineage`);
}

/** Two versions side by side: parameters, metrics, data snapshots, lineage digests and code. */
export function diffModelVersions(slug: string, name: string, a: number, b: number): Promise<VersionDiff> {
  const query = new URLSearchParams({ a: String(a), b: String(b) }).toString();
  return requestAPI<VersionDiff>(`${modelPath(slug, name)}/diff?${query}`);
}

function deploymentPath(slug: string, name: string): string {
  return `${projectPath(slug)}/deployments/${encodeURIComponent(name)}`;
}

/** One page of a project's deployments, by name, each with its status and workers. */
export function listDeployments(slug: string, limit = 50, offset = 0): Promise<DeploymentPage> {
  return requestAPI<DeploymentPage>(`${projectPath(slug)}/deployments?${page(limit, offset)}`);
}

/**
 * Deploy a validated version; returns once its workers verified and loaded it (typically 3–10 s).
 *
 * @throws ApiError `conflict` (409) when the version has not passed the gates, the name exists or the workers
 *   did not start; `validation_error` (422) naming the field
 */
export function createDeployment(slug: string, body: DeployRequest): Promise<Deployment> {
  return requestAPI<Deployment>(`${projectPath(slug)}/deployments`, {
    method: 'POST',
    body: JSON.stringify(body)
  });
}

/** A deployment with its status and workers. */
export function getDeployment(slug: string, name: string, signal?: AbortSignal): Promise<Deployment> {
  return requestAPI<Deployment>(deploymentPath(slug, name), { signal });
}

/** Serve another validated version; traffic moves when its workers are ready (the old version serves meanwhile). */
export function switchDeploymentVersion(slug: string, name: string, body: SwitchRequest): Promise<Deployment> {
  return requestAPI<Deployment>(`${deploymentPath(slug, name)}/version`, {
    method: 'PUT',
    body: JSON.stringify(body)
  });
}

/** Serve the version that served before the last switch; a 409 when there is none. */
export function rollbackDeployment(slug: string, name: string): Promise<Deployment> {
  return requestAPI<Deployment>(`${deploymentPath(slug, name)}/rollback`, { method: 'POST' });
}

/** Change the worker range and the latency objective. */
export function scaleDeployment(slug: string, name: string, body: ScaleRequest): Promise<Deployment> {
  return requestAPI<Deployment>(deploymentPath(slug, name), {
    method: 'PATCH',
    body: JSON.stringify(body)
  });
}

/** Stop and remove a deployment; its endpoint answers 404 from then on. */
export async function deleteDeployment(slug: string, name: string): Promise<void> {
  await requestAPI<void>(deploymentPath(slug, name), { method: 'DELETE' });
}

/** One page of a deployment's events (deploy, switch, rollback, restart, scale, configure, failed), newest first. */
export function listDeploymentEvents(
  slug: string,
  name: string,
  limit = 20,
  offset = 0
): Promise<DeploymentEventPage> {
  return requestAPI<DeploymentEventPage>(`${deploymentPath(slug, name)}/events?${page(limit, offset)}`);
}

/** Latency percentiles, errors and traffic of the last `minutes`, in 10-second windows. */
export function getDeploymentMetrics(
  slug: string,
  name: string,
  minutes = 15,
  signal?: AbortSignal
): Promise<DeploymentMetrics> {
  const query = new URLSearchParams({ minutes: String(minutes) }).toString();
  return requestAPI<DeploymentMetrics>(`${deploymentPath(slug, name)}/metrics?${query}`, { signal });
}

/** The last `lines` each worker of a deployment wrote. */
export function getDeploymentLogs(slug: string, name: string, lines = 200): Promise<WorkerLog[]> {
  const query = new URLSearchParams({ lines: String(lines) }).toString();
  return requestAPI<WorkerLog[]>(`${deploymentPath(slug, name)}/logs?${query}`);
}

/** One page of a project's API keys, newest first (never the secrets). */
export function listApiKeys(slug: string, limit = 50, offset = 0): Promise<ApiKeyPage> {
  return requestAPI<ApiKeyPage>(`${projectPath(slug)}/api-keys?${page(limit, offset)}`);
}

/** Create a key for a client system (leads); `key` in the answer is the only time the secret is shown. */
export function createApiKey(slug: string, body: ApiKeyRequest): Promise<NewApiKey> {
  return requestAPI<NewApiKey>(`${projectPath(slug)}/api-keys`, {
    method: 'POST',
    body: JSON.stringify(body)
  });
}

/** Revoke a key (leads): its next request gets 401. */
export function revokeApiKey(slug: string, prefix: string): Promise<ApiKey> {
  return requestAPI<ApiKey>(`${projectPath(slug)}/api-keys/${encodeURIComponent(prefix)}`, {
    method: 'DELETE'
  });
}

/** Which project a notebook (path relative to the Jupyter root) belongs to. */
export async function projectOf(path: string): Promise<ProjectOf> {
  const settings = ServerConnection.makeSettings();
  const url =
    URLExt.join(settings.baseUrl, 'mlp', 'local', 'project-of') +
    '?' +
    new URLSearchParams({ path }).toString();
  return parseJson<ProjectOf>(await send(url, {}));
}

// Fails to compile when the backend's roles drift from the panel's ROLES list.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const rolesMatch: Same<Role, PanelRole> = true;
void rolesMatch;

// --- batch scoring ---------------------------------------------------------------------------------------

/** A JSON body whose snapshot ids (64-bit) arrive as exact strings. */
async function parseWithSnapshotIds<T>(response: Response): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(quoteSnapshotIds(text)) as T;
  } catch {
    throw new ApiError(response.status, 'invalid_response', 'The server sent a response that is not JSON.');
  }
}

/** The project's datasets with their snapshots (for the batch form's picker). */
export async function listDatasets(slug: string): Promise<DatasetChoice[]> {
  const page = await parseWithSnapshotIds<{ items: DatasetChoice[] }>(
    await requestResponse(`${projectPath(slug)}/datasets`)
  );
  return page.items;
}

/** Score a dataset snapshot with a deployment's version in the background (a queued job). */
export async function submitBatchJob(slug: string, name: string, body: BatchSubmit): Promise<BatchJob> {
  return parseWithSnapshotIds<BatchJob>(
    await requestResponse(`${deploymentPath(slug, name)}/batch`, { method: 'POST', body: batchBody(body) })
  );
}

/** One page of a deployment's batch jobs, newest first. */
export async function listBatchJobs(
  slug: string,
  name: string,
  limit = 10,
  offset = 0,
  signal?: AbortSignal
): Promise<BatchJobPage> {
  return parseWithSnapshotIds<BatchJobPage>(
    await requestResponse(`${deploymentPath(slug, name)}/batch?${page(limit, offset)}`, { signal })
  );
}

/** A succeeded job's scored rows as a Parquet file (fetched with the session's credentials). */
export async function fetchBatchOutput(slug: string, id: string): Promise<Blob> {
  const response = await requestResponse(`${projectPath(slug)}/batch-jobs/${encodeURIComponent(id)}/output`);
  return response.blob();
}

// --- monitoring ------------------------------------------------------------------------------------------

function monitorPath(slug: string, name: string): string {
  return `${deploymentPath(slug, name)}/monitor`;
}

/** A deployment's monitor; ApiError 404 when it has none. */
export function getMonitor(slug: string, name: string, signal?: AbortSignal): Promise<MonitorOut> {
  return requestAPI<MonitorOut>(monitorPath(slug, name), { signal });
}

/** Create or change a deployment's monitor (scientists and up); builds the reference profile. */
export function putMonitor(slug: string, name: string, body: MonitorRequest): Promise<MonitorOut> {
  return requestAPI<MonitorOut>(monitorPath(slug, name), { method: 'PUT', body: JSON.stringify(body) });
}

/** Evaluate the monitor now: new windows, alerts, webhooks, retraining. */
export function evaluateMonitor(slug: string, name: string): Promise<MonitorEvaluation> {
  return requestAPI<MonitorEvaluation>(`${monitorPath(slug, name)}/evaluate`, { method: 'POST' });
}

/** One page of the monitor's windows, newest first. */
export function listMonitorWindows(
  slug: string,
  name: string,
  limit = 20,
  offset = 0,
  signal?: AbortSignal
): Promise<MonitorWindowPage> {
  return requestAPI<MonitorWindowPage>(`${monitorPath(slug, name)}/windows?${page(limit, offset)}`, { signal });
}

/** A window's Evidently report as HTML text (shown in a sandboxed frame, never at the platform's origin). */
export async function fetchWindowReport(slug: string, name: string, windowId: number): Promise<string> {
  const response = await requestResponse(
    `${monitorPath(slug, name)}/windows/${encodeURIComponent(String(windowId))}/report`,
    { headers: { Accept: 'text/html' } }
  );
  return response.text();
}

/** One page of a project's alerts, newest first, optionally of one state or deployment. */
export function listAlerts(
  slug: string,
  query: { state?: 'firing' | 'resolved'; deployment?: string; limit?: number; offset?: number } = {},
  signal?: AbortSignal
): Promise<AlertPage> {
  const params = new URLSearchParams({ limit: String(query.limit ?? 10), offset: String(query.offset ?? 0) });
  if (query.state) {
    params.set('state', query.state);
  }
  if (query.deployment) {
    params.set('deployment', query.deployment);
  }
  return requestAPI<AlertPage>(`${projectPath(slug)}/alerts?${params.toString()}`, { signal });
}

/** One page of a deployment's automatic retrainings, newest first. */
export function listRetrainings(
  slug: string,
  name: string,
  limit = 10,
  offset = 0,
  signal?: AbortSignal
): Promise<RetrainingPage> {
  return requestAPI<RetrainingPage>(`${monitorPath(slug, name)}/retrainings?${page(limit, offset)}`, { signal });
}

/** One page of a project's webhooks. */
export function listWebhooks(slug: string, limit = 50, offset = 0): Promise<WebhookPage> {
  return requestAPI<WebhookPage>(`${projectPath(slug)}/webhooks?${page(limit, offset)}`);
}

/** Send the project's alerts somewhere (leads); the secret is never shown again. */
export function createWebhook(slug: string, body: WebhookRequest): Promise<Webhook> {
  return requestAPI<Webhook>(`${projectPath(slug)}/webhooks`, { method: 'POST', body: JSON.stringify(body) });
}

/** Stop sending alerts to a webhook (leads). */
export async function deleteWebhook(slug: string, id: number): Promise<void> {
  await requestAPI<void>(`${projectPath(slug)}/webhooks/${encodeURIComponent(String(id))}`, { method: 'DELETE' });
}

/** The read-only summary of the caller's projects the stakeholder dashboard shows. */
export function getDashboard(): Promise<Dashboard> {
  return requestAPI<Dashboard>('dashboard');
}
