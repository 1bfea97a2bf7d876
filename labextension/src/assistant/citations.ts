/**
 * Where a citation opens: which of our panels, in which project, with which of the panel's open-command arguments
 * (experimentsPlugin: runId; modelsPlugin: model, version; deploymentsPlugin: deployment; monitoringPlugin:
 * deployment, window; pipelinesPlugin: pipeline, run). The plugin turns the panel's name into its command; this stays pure for jest.
 *
 * Citation ids (tests/bench/assistant_score.py, gpu_services/.../citations.py): run -> MLflow run id (project in
 * `project`); model_version -> "<project>/<model>/<version>"; deployment, predictions, monitor_windows ->
 * "<project>/<deployment>"; monitor_window, retraining -> an integer id with `project` and `deployment`;
 * gate_decision -> an integer id with `project`, `model` and `version`; alert -> an integer id with `project` and
 * `deployment`, alerts and run_search -> the
 * project; pipeline_run -> our run id (a uuid) with `project` and `pipeline`; pipeline_runs -> "<project>/<pipeline>";
 * project -> its slug; note -> the note's path under the Jupyter root. A dataset snapshot has no panel.
 */
import type { IAnswer, ICitation } from './ndjson';

/** The panels a citation can open. */
export type CitationPanel = 'experiments' | 'models' | 'deployments' | 'monitoring' | 'pipelines' | 'projects' | 'file';

/** A citation's place in the UI. */
export interface ICitationTarget {
  panel: CitationPanel;
  /** The project to make current first ('' for a file). */
  project: string;
  /** The panel's open-command arguments. */
  args: Record<string, string | number>;
}

const SLUG = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** "<project>/<rest>" split at its first slash, when the project part is a slug. */
function splitProject(id: string): [string, string] | null {
  const at = id.indexOf('/');
  if (at <= 0) {
    return null;
  }
  const project = id.slice(0, at);
  const rest = id.slice(at + 1);
  return SLUG.test(project) && rest ? [project, rest] : null;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The panel, project and arguments that show the cited record; null when none does (or the citation is malformed). */
export function citationTarget(c: ICitation): ICitationTarget | null {
  const id = String(c.id ?? '');
  const project = str(c.project);
  const inProject = (panel: CitationPanel, args: Record<string, string | number> = {}) =>
    SLUG.test(project) ? { panel, project, args } : null;
  switch (c.type) {
    case 'run':
      return /^[0-9a-f]{32}$/.test(id) ? inProject('experiments', { runId: id }) : null;
    case 'run_search':
      return SLUG.test(id) ? { panel: 'experiments', project: id, args: {} } : null;
    case 'model_version': {
      const parts = splitProject(id);
      const at = parts ? parts[1].lastIndexOf('/') : -1;
      if (!parts || at <= 0) {
        return null;
      }
      const version = Number(parts[1].slice(at + 1));
      const model = parts[1].slice(0, at);
      return Number.isInteger(version) && version > 0
        ? { panel: 'models', project: parts[0], args: { model, version } }
        : null;
    }
    case 'gate_decision': {
      // The decided version when the citation says it (the planner's do), else the model
      const version = Number(c.version);
      const model = str(c.model);
      if (!model) {
        return inProject('models');
      }
      return inProject('models', Number.isInteger(version) && version > 0 ? { model, version } : { model });
    }
    case 'deployment':
    case 'predictions': {
      const parts = splitProject(id);
      return parts ? { panel: 'deployments', project: parts[0], args: { deployment: parts[1] } } : null;
    }
    case 'monitor_windows': {
      const parts = splitProject(id);
      return parts ? { panel: 'monitoring', project: parts[0], args: { deployment: parts[1] } } : null;
    }
    case 'monitor_window':
      return str(c.deployment) && /^\d+$/.test(id)
        ? inProject('monitoring', { deployment: str(c.deployment), window: Number(id) })
        : null;
    case 'retraining':
      return str(c.deployment) ? inProject('monitoring', { deployment: str(c.deployment) }) : null;
    case 'alert':
      return inProject('monitoring', str(c.deployment) ? { deployment: str(c.deployment) } : {});
    case 'alerts':
      return SLUG.test(id) ? { panel: 'monitoring', project: id, args: {} } : null;
    case 'pipeline_run':
      return str(c.pipeline) && /^[0-9a-f][0-9a-f-]{7,63}$/i.test(id)
        ? inProject('pipelines', { pipeline: str(c.pipeline), run: id })
        : null;
    case 'pipeline_runs': {
      const parts = splitProject(id);
      return parts ? { panel: 'pipelines', project: parts[0], args: { pipeline: parts[1] } } : null;
    }
    case 'project':
      return SLUG.test(id) ? { panel: 'projects', project: id, args: {} } : null;
    case 'note':
      return id && !id.startsWith('/') && !id.split('/').includes('..')
        ? { panel: 'file', project: '', args: { path: id } }
        : null;
    default:
      return null;
  }
}

/** What a chip says: the citation's label, else its type and id. */
export function citationLabel(c: ICitation): string {
  const label = typeof c.label === 'string' ? c.label.trim() : '';
  return label || `${c.type.replace(/_/g, ' ')} ${c.id}`;
}

/**
 * What a chip that opens nothing says (a record with no panel, a malformed or unknown one): its label with its type
 * and id, so that the record can still be found by hand; never a link.
 */
export function plainCitationLabel(c: ICitation): string {
  const label = citationLabel(c);
  const id = String(c.id ?? '');
  return !id || label.includes(id) ? label : `${label} (${c.type.replace(/_/g, ' ')} ${id})`;
}

/** Readable names of the record types, for a chip's tooltip. */
const TYPE_NAMES: Record<string, string> = {
  run: 'Run',
  run_search: 'Run search',
  model_version: 'Model version',
  gate_decision: 'Gate decision',
  deployment: 'Deployment',
  predictions: 'Prediction log',
  monitor_window: 'Monitor window',
  monitor_windows: 'Monitor windows',
  retraining: 'Retraining',
  alert: 'Alert',
  alerts: 'Alerts',
  pipeline_run: 'Pipeline run',
  pipeline_runs: 'Pipeline runs',
  project: 'Project',
  note: 'Note',
  dataset_snapshot: 'Dataset snapshot'
};

/** A chip's tooltip: the record's type, id and project, and where clicking it goes. */
export function citationTitle(c: ICitation): string {
  const type = TYPE_NAMES[c.type] ?? c.type;
  const where = typeof c.project === 'string' && c.project ? ` in ${c.project}` : '';
  return `${type} ${c.id}${where}`;
}

/** The answer as plain text with its numbered sources (what Copy puts on the clipboard). */
export function answerAsText(answer: IAnswer): string {
  const sources = answer.citations.map((c, i) => {
    const label = citationLabel(c);
    return `[${i + 1}] ${citationTitle(c)}${label !== String(c.id) ? ` (${label})` : ''}`;
  });
  const text = answer.text.trim();
  return sources.length > 0 ? `${text}\n\nSources:\n${sources.join('\n')}` : text;
}
