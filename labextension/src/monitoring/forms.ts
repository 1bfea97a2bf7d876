/**
 * The monitor and webhook forms: their fields from what is stored, their checks, and the requests they send.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */
import type { MonitorOut, MonitorRequest, WebhookRequest } from '../common/api';
import { METRIC_LABELS, PERF_METRICS, PerfMetric } from './performance';

// --- the monitor form ----------------------------------------------------------------------------------

/** The monitor form's inputs, as typed. */
export interface IMonitorInput {
  windowSize: string;
  /** Empty: windows by count; seconds: windows by time (the predictions of each ended clock slice). */
  windowSeconds: string;
  retrain: boolean;
  retrainOn: 'drift' | 'performance' | 'any';
  cooldownS: string;
  enabled: boolean;
  tolerance: Record<PerfMetric, string>;
}

export type MonitorField = 'window_size' | 'window_seconds' | 'cooldown_s' | `tolerance.${PerfMetric}`;

/** The form's inputs: empty for a new monitor, the monitor's settings to change one. */
export function monitorInput(m?: MonitorOut | null): IMonitorInput {
  const tol = (k: PerfMetric) => (m && typeof m.tolerance[k] === 'number' ? String(m.tolerance[k]) : '');
  return {
    windowSize: m ? String(m.window_size) : '',
    windowSeconds: m?.window_seconds ? String(m.window_seconds) : '',
    retrain: m?.retrain ?? false,
    retrainOn: (m?.retrain_on as IMonitorInput['retrainOn']) ?? 'any',
    cooldownS: m ? String(m.cooldown_s) : '3600',
    enabled: m?.enabled ?? true,
    tolerance: { roc_auc: tol('roc_auc'), f1: tol('f1'), rmse: tol('rmse'), ece: tol('ece') }
  };
}

/** The PUT body of the monitor form, or the problem of each field. */
export function monitorRequest(
  input: IMonitorInput
): { request: MonitorRequest } | { errors: Partial<Record<MonitorField, string>> } {
  const errors: Partial<Record<MonitorField, string>> = {};
  const request: MonitorRequest = {
    retrain: input.retrain,
    retrain_on: input.retrainOn,
    enabled: input.enabled,
    tolerance: {}
  };
  const size = input.windowSize.trim();
  if (size) {
    const n = Number(size);
    if (!Number.isInteger(n) || n < 50 || n > 1_000_000) {
      errors.window_size = 'A window is a whole number of predictions from 50 to 1,000,000.';
    } else {
      request.window_size = n;
    }
  } else {
    request.window_size = null;
  }
  const seconds = input.windowSeconds.trim();
  if (seconds) {
    const n = Number(seconds);
    if (!Number.isInteger(n) || n < 60 || n > 30 * 86400) {
      errors.window_seconds = 'A time window is a whole number of seconds from 60 to 2,592,000 (30 days).';
    } else {
      request.window_seconds = n;
    }
  } else {
    request.window_seconds = null;
  }
  const cooldown = input.cooldownS.trim();
  if (cooldown) {
    const n = Number(cooldown);
    if (!Number.isInteger(n) || n < 0 || n > 30 * 86400) {
      errors.cooldown_s = 'The cooldown is a whole number of seconds from 0 to 2,592,000 (30 days).';
    } else {
      request.cooldown_s = n;
    }
  }
  for (const m of PERF_METRICS) {
    const text = input.tolerance[m].trim();
    if (!text) {
      continue;
    }
    const v = Number(text);
    if (!Number.isFinite(v) || v < 0 || v > 1e9) {
      errors[`tolerance.${m}`] = `The ${METRIC_LABELS[m]} tolerance is a number of 0 or more.`;
    } else {
      (request.tolerance as Record<string, number>)[m] = v;
    }
  }
  return Object.keys(errors).length > 0 ? { errors } : { request };
}

/** What "Check now" did, in words. */
export function evaluationWords(e: { windows: number; summary: string; message: string | null }): string {
  const text = e.summary ? `${e.summary[0].toUpperCase()}${e.summary.slice(1)}.` : `${e.windows} new window(s).`;
  return e.message ? `${text} ${e.message}` : text;
}

// --- webhooks ------------------------------------------------------------------------------------------

/** The webhook form's inputs, as typed. */
export interface IWebhookInput {
  kind: 'slack' | 'jira' | 'generic';
  name: string;
  url: string;
  secret: string;
  jiraProject: string;
  jiraIssueType: string;
}

export type WebhookField = 'name' | 'url' | 'secret' | 'jira_project' | 'jira_issue_type';

/** An empty webhook form. */
export function webhookInput(): IWebhookInput {
  return { kind: 'slack', name: '', url: '', secret: '', jiraProject: '', jiraIssueType: 'Bug' };
}

const HOOK_NAME = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;
const JIRA_KEY = /^[A-Z][A-Z0-9_]{0,31}$/;

/** What the URL field asks for, per kind. */
export function webhookUrlHint(kind: IWebhookInput['kind']): string {
  switch (kind) {
    case 'slack':
      return 'https://hooks.slack.com/services/…';
    case 'jira':
      return 'https://your-site.atlassian.net';
    default:
      return 'https://example.com/hooks/mlp';
  }
}

/** The POST body of the webhook form, or the problem of each field. */
export function webhookRequest(
  input: IWebhookInput
): { request: WebhookRequest } | { errors: Partial<Record<WebhookField, string>> } {
  const errors: Partial<Record<WebhookField, string>> = {};
  const name = input.name.trim();
  const url = input.url.trim();
  const secret = input.kind === 'slack' ? '' : input.secret; // Slack's secret is in its URL
  if (!name) {
    errors.name = 'Name the webhook, e.g. ops-slack.';
  } else if (!HOOK_NAME.test(name)) {
    errors.name = 'A name has up to 64 letters, digits, spaces, _ . or -, starting with a letter or digit.';
  }
  if (!/^https?:\/\/[^\s/]+/i.test(url)) {
    errors.url = 'Enter the full http:// or https:// address.';
  } else if (url.length > 2000) {
    errors.url = 'The address is longer than 2,000 characters.';
  }
  if (secret.length > 500) {
    errors.secret = 'The secret is longer than 500 characters.';
  }
  const request: WebhookRequest = { name, kind: input.kind, url };
  if (secret) {
    request.secret = secret;
  }
  if (input.kind === 'jira') {
    const key = input.jiraProject.trim();
    if (!JIRA_KEY.test(key)) {
      errors.jira_project = 'The Jira project key is in capitals, e.g. OPS.';
    } else {
      request.jira_project = key;
    }
    if (!secret) {
      errors.secret = 'Jira needs `user:api_token` to create issues.';
    } else if (!secret.includes(':')) {
      errors.secret = 'Enter the Jira credentials as user:api_token.';
    }
    const type = input.jiraIssueType.trim();
    if (type) {
      if (type.length > 64) {
        errors.jira_issue_type = 'The issue type has at most 64 characters.';
      } else {
        request.jira_issue_type = type;
      }
    }
  }
  return Object.keys(errors).length > 0 ? { errors } : { request };
}

/** What a webhook does, in words. */
export function webhookWords(h: { kind: string; jira_project: string | null; jira_issue_type: string }): string {
  switch (h.kind) {
    case 'slack':
      return 'posts to a Slack channel';
    case 'jira':
      return `opens a ${h.jira_issue_type} in Jira project ${h.jira_project ?? '?'}`;
    default:
      return 'POSTs signed JSON';
  }
}
