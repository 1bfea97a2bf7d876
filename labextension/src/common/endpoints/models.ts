/**
 * The model registry: models, versions, gates and their decisions, lineage and diffs — typed calls through the
 * openapi-fetch client.
 */
import type {
  GateConfig,
  GateDecision,
  GateDecisionPage,
  GateDecisionStatus,
  LineageGraph,
  ModelAlias,
  ModelDetail,
  ModelPage,
  ModelVersion,
  ModelVersionPage,
  RegisterModelRequest,
  Schemas,
  VerifyResult,
  VersionDiff
} from '../apiSchemas';
import { api, data, page, text } from '../client';

/** One page of a project's registered models, each with its aliases and pending approvals. */
export function listModels(slug: string, limit = 50, offset = 0): Promise<ModelPage> {
  return data(api().GET('/api/projects/{slug}/models', { params: { path: { slug }, query: page(limit, offset) } }));
}

/**
 * Register a run's logged model as a new version of `body.name` (hashed, signed, with lineage).
 *
 * @throws ApiError `validation_error` (422) naming `name`, `run_id` or `artifact_path` in `detail[0].field`;
 *   `not_found` (404) for a run that is not the project's
 */
export function registerModel(slug: string, body: RegisterModelRequest): Promise<ModelVersion> {
  return data(api().POST('/api/projects/{slug}/models', { params: { path: { slug } }, body }));
}

/** A registered model with its aliases and gates. */
export function getModel(slug: string, name: string): Promise<ModelDetail> {
  return data(api().GET('/api/projects/{slug}/models/{name}', { params: { path: { slug, name } } }));
}

/** One page of a model's versions, newest first. */
export function listModelVersions(
  slug: string,
  name: string,
  limit = 50,
  offset = 0
): Promise<ModelVersionPage> {
  return data(
    api().GET('/api/projects/{slug}/models/{name}/versions', {
      params: { path: { slug, name }, query: page(limit, offset) }
    })
  );
}

/** Check a version's files against its signed manifest; `ok` false says why not. */
export function verifyModelVersion(slug: string, name: string, version: number): Promise<VerifyResult> {
  return data(
    api().POST('/api/projects/{slug}/models/{name}/versions/{version}/verify', {
      params: { path: { slug, name, version } }
    })
  );
}

/**
 * Replace a model's validation gates (leads only; 403 otherwise).
 *
 * @throws ApiError `validation_error` (422) naming the field, e.g. `thresholds.0.value` or `challenger`
 */
export function setModelGates(slug: string, name: string, gates: GateConfig): Promise<GateConfig> {
  return data(api().PUT('/api/projects/{slug}/models/{name}/gates', { params: { path: { slug, name } }, body: gates }));
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
  return data(
    api().POST('/api/projects/{slug}/models/{name}/versions/{version}/promote', {
      params: { path: { slug, name, version } },
      body: { alias }
    })
  );
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
  return data(
    api().GET('/api/projects/{slug}/gate-decisions', {
      params: {
        path: { slug },
        query: {
          limit: query.limit ?? 50,
          offset: query.offset ?? 0,
          status: query.status || undefined,
          model: query.model || undefined
        }
      }
    })
  );
}

/** Approve a pending decision (leads); the alias moves. A 409 when it is no longer pending. */
export function approveGateDecision(slug: string, decisionId: number, reason: string): Promise<GateDecision> {
  return data(
    api().POST('/api/projects/{slug}/gate-decisions/{decision_id}/approve', {
      params: { path: { slug, decision_id: decisionId } },
      body: { reason }
    })
  );
}

/** Reject a pending decision (leads); the alias stays. A 409 when it is no longer pending. */
export function rejectGateDecision(slug: string, decisionId: number, reason: string): Promise<GateDecision> {
  return data(
    api().POST('/api/projects/{slug}/gate-decisions/{decision_id}/reject', {
      params: { path: { slug, decision_id: decisionId } },
      body: { reason }
    })
  );
}

/** Where a version came from: dataset snapshots → pipeline version → runs → the version → deployments. */
export function getModelLineage(slug: string, name: string, version: number): Promise<LineageGraph> {
  return data(
    api().GET('/api/projects/{slug}/models/{name}/versions/{version}/lineage', {
      params: { path: { slug, name, version } }
    })
  );
}

/** Two versions side by side: parameters, metrics, data snapshots, lineage digests and code. */
export function diffModelVersions(slug: string, name: string, a: number, b: number): Promise<VersionDiff> {
  return data(
    api().GET('/api/projects/{slug}/models/{name}/diff', { params: { path: { slug, name }, query: { a, b } } })
  );
}

/** A version's model card: sections of statements, each citing the records it states (the assistant's citations). */
export type ModelCard = Schemas['ModelCard'];
export type ModelCardCitation = Schemas['CardCitation'];

/**
 * A version's model card as JSON, made from the records; record text in it is data (render it as text).
 *
 * @throws ApiError `not_found` (404) for a model or version the caller cannot see
 */
export function getModelCard(slug: string, name: string, version: number): Promise<ModelCard> {
  return data(
    api().GET('/api/projects/{slug}/models/{name}/versions/{version}/card', {
      params: { path: { slug, name, version }, query: { format: 'json' } }
    })
  ) as Promise<ModelCard>;
}

/** The card as Markdown, to save (record text escaped; the same statements and citations as the JSON). */
export function fetchModelCardMarkdown(slug: string, name: string, version: number): Promise<string> {
  return text(
    api().GET('/api/projects/{slug}/models/{name}/versions/{version}/card', {
      params: { path: { slug, name, version }, query: { format: 'markdown' } },
      headers: { Accept: 'text/markdown' },
      parseAs: 'text'
    })
  );
}
