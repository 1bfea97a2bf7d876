/**
 * The "View run" links MLflow prints in notebook output reach JupyterLab as
 * `lab?mlp-project=<slug>&mlp-run=<run id>` (the backend's link page turns MLflow's `#/experiments/...` fragment
 * into these): which project and run the Experiments panel should open.
 */

/** A link's target: the project, and the run or experiment in it when the link names one. */
export interface IRunLink {
  project: string;
  runId: string | null;
  experimentId: string | null;
}

/** JupyterLab's router pattern for such links. */
export const RUN_LINK_PATTERN = /[?&]mlp-project=[a-z0-9][a-z0-9-]*(&|$)/;

const SLUG = /^[a-z0-9][a-z0-9-]{0,63}$/;
const RUN_ID = /^[0-9a-f]{32}$/;
const EXPERIMENT_ID = /^\d{1,19}$/;

/** The link's target from a URL's query string, or null when it is not one (or malformed). */
export function parseRunLink(search: string): IRunLink | null {
  const q = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  const project = q.get('mlp-project') ?? '';
  if (!SLUG.test(project)) {
    return null;
  }
  const run = q.get('mlp-run');
  const experiment = q.get('mlp-experiment');
  return {
    project,
    runId: run && RUN_ID.test(run) ? run : null,
    experimentId: experiment && EXPERIMENT_ID.test(experiment) ? experiment : null
  };
}

/** The query string left once the link's own parameters are removed (the page's URL after it opened the run). */
export function withoutRunLink(search: string): string {
  const q = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  for (const key of ['mlp-project', 'mlp-run', 'mlp-experiment']) {
    q.delete(key);
  }
  const rest = q.toString();
  return rest ? `?${rest}` : '';
}
