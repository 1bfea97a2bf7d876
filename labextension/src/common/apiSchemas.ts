/**
 * The platform API's types, by the names the extension uses: aliases of the schemas generated from the backend's
 * OpenAPI document (api-types.ts), plus the few shapes the client reads differently from the document (64-bit
 * snapshot ids kept as strings) or that come from the server extension rather than the backend.
 */
import type { components } from './api-types';
import type { Role as PanelRole } from './permissions';

export type Schemas = components['schemas'];
export type Role = Schemas['Role'];
export type WhoAmI = Schemas['Whoami'];
export type Project = Schemas['ProjectOut'];
export type ProjectCreate = Schemas['ProjectCreate'];
export type ProjectPage = Schemas['ProjectPage'];
export type Member = Schemas['MemberOut'];
export type MemberPage = Schemas['MemberPage'];
export type EncryptionOut = Schemas['EncryptionOut'];
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
export type AskRequest = Schemas['AskRequest'];
export type Conversation = Schemas['ConversationOut'];
export type ConversationPage = Schemas['ConversationPage'];
export type ConversationDetail = Schemas['ConversationDetail'];
export type ConversationTurn = Schemas['TurnOut'];

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

// Fails to compile when the backend's roles drift from the panel's ROLES list.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const rolesMatch: Same<Role, PanelRole> = true;
void rolesMatch;
