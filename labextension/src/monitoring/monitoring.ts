/**
 * Monitoring in words: who may do what, the panel's paging and polling, statuses, alerts in order and retraining
 * chains. The drift heatmap is in drift.ts, the performance series and charts in performance.ts, the monitor and
 * webhook forms' checks in forms.ts.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type { Alert, AlertDelivery, Retraining } from '../common/api';
import type { Role } from '../common/permissions';

/** How often the panel reloads while it is visible. */
export const MONITOR_REFRESH_MS = 5000;

/** Windows shown in the heatmap and the performance charts per page. */
export const WINDOWS_PAGE_SIZE = 20;

/** Alerts per page. */
export const ALERTS_PAGE_SIZE = 10;

/** Retrainings per page. */
export const RETRAININGS_PAGE_SIZE = 10;

/** Webhooks per page. */
export const WEBHOOKS_PAGE_SIZE = 20;

// --- roles ---------------------------------------------------------------------------------------------

/** Whether this role may create or change a monitor and ask for an evaluation (scientists and up). */
export function canWriteMonitoring(role: Role | null | undefined): boolean {
  return role === 'scientist' || role === 'lead' || role === 'admin';
}

/** Whether this role may add and delete webhooks (leads and admins). */
export function canManageWebhooks(role: Role | null | undefined): boolean {
  return role === 'lead' || role === 'admin';
}

// --- statuses ------------------------------------------------------------------------------------------

/** The colour family of a status chip (the same tones the other panels use). */
export type Tone = 'success' | 'running' | 'warning' | 'failure' | 'pending';

interface IStatusWords {
  tone: Tone;
  label: string;
  title: string;
}

/**
 * The drift rule, in the words the backend's report banner uses (monitoring/drift.py RULE): one verdict everywhere.
 */
export const DRIFT_RULE =
  "A window is drifted when any feature's own test finds drift (KS for continuous, PSI for categorical " +
  'features, with thresholds calibrated for this model); one drifted feature is enough.';

const DRIFT_STATUS: Record<string, IStatusWords> = {
  ok: { tone: 'success', label: 'No drift', title: `No feature of the newest window drifted. ${DRIFT_RULE}` },
  drift: { tone: 'failure', label: 'Drift', title: `At least one feature of the newest window drifted. ${DRIFT_RULE}` },
  'schema changed': {
    tone: 'failure',
    label: 'Schema changed',
    title: 'The newest window has columns the model was not trained on, or lacks some it was.'
  },
  'insufficient data': {
    tone: 'pending',
    label: 'Insufficient data',
    title: 'The newest window could not be compared with the reference (see its message).'
  },
  waiting: {
    tone: 'pending',
    label: 'Waiting',
    title: 'Not enough predictions yet for the first full window.'
  }
};

/** A monitor's or window's drift status as a person reads it; `message`: the window's verdict in words. */
export function driftStatusWords(status: string, message?: string | null): IStatusWords {
  const words = DRIFT_STATUS[status] ?? { tone: 'pending', label: status, title: status };
  return message ? { ...words, title: `${words.label}: ${message}. ${words.title}` } : words;
}

/**
 * The banner over a monitor while alerts fire: red when any is critical (performance, schema), amber for drift
 * warnings only; null when nothing fires.
 */
export function firingBanner(firing: number, critical: number): { tone: Tone; text: string } | null {
  if (!(firing > 0)) {
    return null;
  }
  const what = `${firing} alert${firing === 1 ? '' : 's'} firing`;
  if (critical > 0) {
    return { tone: 'failure', text: `${what} (${critical} critical): see Alerts below.` };
  }
  return { tone: 'warning', text: `${what} (warning${firing === 1 ? '' : 's'}): see Alerts below.` };
}

const PERF_STATUS: Record<string, IStatusWords> = {
  ok: {
    tone: 'success',
    label: 'OK',
    title: 'No metric is worse than its tolerance of the validated baseline beyond its 95% interval.'
  },
  degraded: {
    tone: 'failure',
    label: 'Degraded',
    title: "A metric fell below its tolerance: its whole 95% interval, not just this window's value."
  },
  'not enough labelled rows': {
    tone: 'pending',
    label: 'Not enough labelled rows',
    title: 'Too few labelled rows for any metric to give a verdict (ECE needs 500): neither OK nor degraded.'
  },
  'insufficient data': {
    tone: 'pending',
    label: 'Too few labels',
    title: 'Too few labelled predictions in this window to score it.'
  },
  error: { tone: 'warning', label: 'Error', title: 'The labels and predictions could not be compared.' }
};

/** A window's performance status as a person reads it. */
export function performanceStatusWords(status: string | null | undefined): IStatusWords {
  if (!status) {
    return { tone: 'pending', label: 'No labels', title: 'No performance for this window yet.' };
  }
  return PERF_STATUS[status] ?? { tone: 'pending', label: status, title: status };
}

const RETRAINING_STATUS: Record<string, IStatusWords> = {
  launching: { tone: 'running', label: 'Launching', title: 'Starting the pipeline run.' },
  launched: { tone: 'running', label: 'Running', title: 'The pipeline is retraining the model.' },
  'awaiting approval': {
    tone: 'warning',
    label: 'Awaiting approval',
    title: 'The new version passed its automatic gates and waits for a lead to approve it.'
  },
  deployed: { tone: 'success', label: 'Deployed', title: 'The new version passed its gates and is served now.' },
  rejected: { tone: 'failure', label: 'Rejected', title: 'A lead rejected the new version; nothing was deployed.' },
  failed: { tone: 'failure', label: 'Failed', title: 'The retraining stopped; see its message.' }
};

/** A retraining's status as a person reads it. */
export function retrainingStatusWords(status: string): IStatusWords {
  return RETRAINING_STATUS[status] ?? { tone: 'pending', label: status, title: status };
}

/** The CSS class of a status chip of this tone. */
export function chipClass(tone: Tone): string {
  return `jp-mlp-chip jp-mlp-tone-${tone}`;
}

// --- alerts --------------------------------------------------------------------------------------------

/** Firing alerts first, then the newest. */
export function sortAlerts<T extends Pick<Alert, 'state' | 'started_at' | 'id'>>(alerts: readonly T[]): T[] {
  const time = (a: T) => (a.started_at ? Date.parse(a.started_at) : 0) || 0;
  return [...alerts].sort((a, b) => {
    const fa = a.state === 'firing' ? 0 : 1;
    const fb = b.state === 'firing' ? 0 : 1;
    if (fa !== fb) {
      return fa - fb;
    }
    const dt = time(b) - time(a);
    return dt !== 0 ? dt : b.id - a.id;
  });
}

/**
 * Which resolved alerts fill a page that lists the firing ones first: the page at `offset` holds firing alerts
 * `offset…` (the server sent `firingShown` of them, out of `firingTotal`), then resolved ones from the start.
 * The limit is at least 1 so that the request still answers the resolved total.
 */
export function resolvedSlice(
  offset: number,
  pageSize: number,
  firingTotal: number,
  firingShown: number
): { offset: number; limit: number; take: number } {
  const take = Math.max(0, pageSize - firingShown);
  return { offset: Math.max(0, offset - firingTotal), limit: Math.max(1, take), take };
}

/** A delivery to a webhook in words: `slack-ops ✓ 200` or `jira ✗ 500 (timeout)`. */
export function deliveryWords(d: AlertDelivery): { ok: boolean; text: string; title: string } {
  const code = d.status_code === null ? '' : ` ${d.status_code}`;
  const tries = d.attempts > 1 ? ` after ${d.attempts} attempts` : '';
  return {
    ok: d.ok,
    text: `${d.webhook} ${d.ok ? '✓' : '✗'}${code}`,
    title: d.ok
      ? `Delivered "${d.state}" to ${d.webhook}${tries}.`
      : `Could not deliver "${d.state}" to ${d.webhook}${tries}: ${d.error ?? `HTTP${code}`}`
  };
}

/** An alert's state as a chip. */
export function alertStateWords(a: Pick<Alert, 'state' | 'severity'>): IStatusWords {
  if (a.state === 'firing') {
    return {
      tone: a.severity === 'critical' ? 'failure' : 'warning',
      label: 'Firing',
      title: `Firing (${a.severity}): the newest window still shows it.`
    };
  }
  return { tone: 'success', label: 'Resolved', title: 'A later window no longer shows it.' };
}

// --- retrainings ---------------------------------------------------------------------------------------

/** One link of a retraining's chain: alert → run → version → gate decision. */
export interface IChainStep {
  key: 'alert' | 'run' | 'version' | 'decision';
  label: string;
  value: string | null;
}

/** A retraining's chain; a step it has not reached has a null value. */
export function retrainingChain(r: Retraining): IChainStep[] {
  return [
    { key: 'alert', label: 'alert', value: r.alert ?? (r.alert_id === null ? null : `#${r.alert_id}`) },
    { key: 'run', label: 'run', value: r.pipeline_run_id },
    { key: 'version', label: 'version', value: r.version === null ? null : `v${r.version}` },
    { key: 'decision', label: 'gate decision', value: r.decision_id === null ? null : `#${r.decision_id}` }
  ];
}
