/**
 * The Ship flow in words: step titles, whether a Ship has ended, the line a step shows, plan edits.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */

/** The steps in their order, with the words the progress view shows. */
export const STEP_TITLES: Record<string, string> = {
  promote: 'Promote to pipeline',
  image: 'Stage base image',
  run: 'Pipeline run',
  register: 'Register model',
  gates: 'Gates',
  approval: "Lead's approval",
  deploy: 'Deploy',
  monitor: 'Monitor',
  endpoint: 'Endpoint'
};

/** A Ship that will not change any more. */
export function shipEnded(status: string): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'interrupted';
}

interface IStepLike {
  name: string;
  status: string;
  message?: string | null;
  seconds?: number | null;
}

/** "Pipeline run — done in 42.1 s: SUCCESS in 2 stage(s)". */
export function stepLine(step: IStepLike): string {
  const title = STEP_TITLES[step.name] ?? step.name;
  const took = typeof step.seconds === 'number' ? ` in ${step.seconds.toFixed(1)} s` : '';
  const message = step.message ? `: ${step.message}` : '';
  return `${title} — ${step.status}${took}${message}`;
}

/** Parse a parameter value as typed in the plan form: JSON where it reads as JSON, else the text itself. */
export function parameterValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A parameter value as the plan form shows it. */
export function parameterText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A number field's value, or null when it is not a finite number. */
export function numberField(text: string): number | null {
  if (text.trim() === '') {
    return null;
  }
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** Which panel a step's links open, with the command's arguments (null: none). */
export function stepLink(
  name: string,
  links: Record<string, unknown>
): { panel: 'pipelines' | 'models' | 'deployments' | 'monitoring'; args: Record<string, string | number> } | null {
  const str = (k: string) => (typeof links[k] === 'string' ? (links[k] as string) : undefined);
  const num = (k: string) => (typeof links[k] === 'number' ? (links[k] as number) : undefined);
  if ((name === 'promote' || name === 'run') && str('pipeline')) {
    const args: Record<string, string | number> = { pipeline: str('pipeline') as string };
    if (str('version')) {
      args.version = str('version') as string;
    }
    return { panel: 'pipelines', args };
  }
  if ((name === 'register' || name === 'gates' || name === 'approval') && str('model')) {
    const args: Record<string, string | number> = { model: str('model') as string };
    if (num('version') !== undefined) {
      args.version = num('version') as number;
    }
    return { panel: 'models', args };
  }
  if (name === 'deploy' && str('deployment')) {
    return { panel: 'deployments', args: { deployment: str('deployment') as string } };
  }
  if ((name === 'monitor' || name === 'endpoint') && str('deployment')) {
    return { panel: name === 'monitor' ? 'monitoring' : 'deployments', args: { deployment: str('deployment') as string } };
  }
  return null;
}

interface IGatesLike {
  challenger?: { [key: string]: unknown } | null;
  evaluation?: { [key: string]: unknown } | null;
}

/** The challenger gate in words: "accuracy, higher is better, margin 0, scored on customers (label y)"; null: none. */
export function challengerText(gates: IGatesLike): string | null {
  const c = gates.challenger;
  if (!c) {
    return null;
  }
  const e = gates.evaluation ?? {};
  const better = c.greater_is_better === false ? 'lower is better' : 'higher is better';
  const data = e.dataset ? `, scored on ${String(e.dataset)} (label ${String(e.target)})` : ', no evaluation data';
  return `${String(c.metric)}, ${better}, margin ${Number(c.margin ?? 0)}${data}`;
}

/**
 * The gates with the challenger rule on (the proposed rule and its evaluation data) or off (neither: the
 * evaluation data was there for it). Returns a new object.
 */
export function withChallenger<T extends IGatesLike>(gates: T, proposed: IGatesLike, on: boolean): T {
  return on
    ? { ...gates, challenger: proposed.challenger ?? null, evaluation: proposed.evaluation ?? gates.evaluation ?? null }
    : { ...gates, challenger: null, evaluation: null };
}

/** A random id for one progress view's reads of its Ship (the new API key is handed to that view only). */
export function newClaim(random: () => number = Math.random): string {
  let out = 'view-';
  for (let i = 0; i < 24; i++) {
    out += Math.floor(random() * 36).toString(36);
  }
  return out;
}
