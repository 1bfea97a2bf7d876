/**
 * Which project a notebook belongs to, in words, and the `mlp-project.toml` marker that decides it.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type { ProjectOf } from '../common/api';

/** The marker file's name: the nearest one above a notebook names its project. */
export const PROJECT_MARKER_FILE = 'mlp-project.toml';

/** The marker's content for a project slug. */
export function projectMarkerContent(slug: string): string {
  const escaped = slug.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return `project = "${escaped}"\n`;
}

/** Where the marker goes in a folder ('' is the Jupyter root). */
export function projectMarkerPath(folder: string): string {
  const trimmed = folder.replace(/\/+$/, '');
  return trimmed ? `${trimmed}/${PROJECT_MARKER_FILE}` : PROJECT_MARKER_FILE;
}

/** The notebook toolbar label and its tooltip. */
export interface IProjectLabel {
  text: string;
  tooltip: string;
}

/** What the notebook toolbar shows for a `project-of` answer, or for a failure to get one. */
export function projectLabel(answer: ProjectOf | null, error?: string): IProjectLabel {
  if (!answer) {
    return {
      text: 'Project: ?',
      tooltip: error ? `Could not find this notebook's project: ${error}` : 'Finding the project…'
    };
  }
  if (!answer.project) {
    return {
      text: 'No project',
      tooltip: `Runs logged from this notebook belong to no project. ${answer.rule}`.trim()
    };
  }
  const decidedBy = answer.marker ? `Decided by ${answer.marker}. ` : '';
  return {
    text: `Project: ${answer.project}`,
    tooltip: `${decidedBy}${answer.rule}`.trim()
  };
}

/** Where "Open logged copy" saves a run's notebook, relative to the Jupyter root. */
export function loggedNotebookPath(runId: string): string {
  return `mlp-logged-notebooks/${runId.replace(/[^A-Za-z0-9_-]/g, '_')}/notebook.ipynb`;
}

/** The artifact path of the notebook copy logged with every run. */
export const LOGGED_NOTEBOOK_ARTIFACT = 'lineage/notebook.ipynb';
