import type { Alert, MonitorWindow, Retraining } from '../../labextension/src/common/api';
import {
  columnLabel,
  crossesThreshold,
  driftRatio,
  heatCell,
  heatColour,
  heatmap,
  profileFeatures,
  windowDrift
} from '../../labextension/src/monitoring/drift';
import {
  evaluationWords,
  monitorInput,
  monitorRequest,
  webhookInput,
  webhookRequest
} from '../../labextension/src/monitoring/forms';
import {
  canManageWebhooks,
  canWriteMonitoring,
  deliveryWords,
  DRIFT_RULE,
  driftStatusWords,
  firingBanner,
  performanceStatusWords,
  resolvedSlice,
  retrainingChain,
  sortAlerts
} from '../../labextension/src/monitoring/monitoring';
import {
  availableMetrics,
  baselineMetrics,
  chartGeometry,
  defaultTolerance,
  isDegraded,
  performanceSeries,
  toleranceBand
} from '../../labextension/src/monitoring/performance';

const ROLES = ['viewer', 'stakeholder', 'scientist', 'lead', 'admin'] as const;

function feature(name: string, test: string, statistic: number, threshold: number, status?: string) {
  return {
    feature: name,
    kind: test === 'ks' ? 'numerical' : 'categorical',
    test,
    statistic,
    threshold,
    drift: status === 'drift',
    status: status ?? (test === 'ks' ? (statistic < threshold ? 'drift' : 'ok') : statistic >= threshold ? 'drift' : 'ok'),
    message: null
  };
}

function win(
  id: number,
  seq: number,
  drift: Record<string, unknown>,
  performance: Record<string, unknown> | null = null,
  extra: Partial<MonitorWindow> = {}
): MonitorWindow {
  return {
    id,
    version: 1,
    seq,
    start: new Date(Date.UTC(2025, 0, 1, seq)).toISOString(),
    end: new Date(Date.UTC(2025, 0, 1, seq, 59)).toISOString(),
    rows: 500,
    status: String(drift.status ?? 'ok'),
    drift,
    labelled: Number(performance?.labelled ?? 0),
    performance,
    ...extra
  };
}

function okDrift(...features: ReturnType<typeof feature>[]) {
  const drifted = features.some(f => f.status === 'drift');
  return { status: drifted ? 'drift' : 'ok', rows: 500, features, added_columns: [], missing_columns: [], message: null };
}

function perf(metrics: Record<string, number>, checks: Record<string, unknown>[] = [], status = 'ok') {
  return { status, labelled: 200, metrics, checks };
}

describe('roles', () => {
  it('lets scientists and up write monitors, and only leads and admins manage webhooks', () => {
    expect(ROLES.map(canWriteMonitoring)).toEqual([false, false, true, true, true]);
    expect(ROLES.map(canManageWebhooks)).toEqual([false, false, false, true, true]);
    expect(canWriteMonitoring(null)).toBe(false);
  });
});

describe('drift ratio and threshold', () => {
  it('reads KS p-values on a log scale against their threshold', () => {
    expect(driftRatio('ks', 1, 0.05)).toBe(0);
    expect(driftRatio('ks', 0.05, 0.05)).toBeCloseTo(1);
    expect(driftRatio('ks', 0.0025, 0.05)).toBeCloseTo(2);
    expect(driftRatio('ks', 0.5, 0.05)).toBeGreaterThan(0);
    expect(driftRatio('ks', 0.5, 0.05)).toBeLessThan(1);
    expect(driftRatio('KS', 0, 0.05)).toBeGreaterThan(3);
  });

  it('divides PSI by its threshold', () => {
    expect(driftRatio('psi', 0.1, 0.2)).toBeCloseTo(0.5);
    expect(driftRatio('psi', 0.4, 0.2)).toBeCloseTo(2);
    expect(driftRatio('psi', -0.01, 0.2)).toBe(0);
  });

  it('gives no ratio without both numbers or with a meaningless threshold', () => {
    expect(driftRatio('ks', null, 0.05)).toBeNull();
    expect(driftRatio('psi', 0.1, undefined)).toBeNull();
    expect(driftRatio('ks', 0.1, 0)).toBeNull();
    expect(driftRatio('psi', 0.1, 0)).toBeNull();
  });

  it('crosses the threshold the way the backend decides: p < t for KS, value ≥ t for PSI', () => {
    expect(crossesThreshold('ks', 0.05, 0.05)).toBe(false);
    expect(crossesThreshold('ks', 0.049, 0.05)).toBe(true);
    expect(crossesThreshold('psi', 0.2, 0.2)).toBe(true);
    expect(crossesThreshold('psi', 0.19, 0.2)).toBe(false);
  });
});

describe('heatmap colours', () => {
  const hue = (c: string) => Number(/^hsl\((\d+)/.exec(c)?.[1]);
  const lightness = (c: string) => Number(/(\d+)%\)$/.exec(c)?.[1]);

  it('runs green to amber below the threshold and red above, deeper the further', () => {
    expect(hue(heatColour('ok', 0))).toBe(120);
    expect(hue(heatColour('ok', 1))).toBe(45);
    expect(hue(heatColour('ok', 0.5))).toBeLessThan(120);
    expect(hue(heatColour('drift', 1))).toBe(0);
    expect(lightness(heatColour('drift', 3))).toBeLessThan(lightness(heatColour('drift', 1)));
    expect(heatColour('drift', 100)).toBe(heatColour('drift', 3));
  });

  it('greys out cells without a comparison', () => {
    expect(heatColour('insufficient data', null)).toBe(heatColour('schema changed', 0.5));
    expect(heatColour('insufficient data', null)).toMatch(/hsl\(0, 0%/);
  });
});

describe('heatmap cells', () => {
  it('takes the status from the backend and the colour from the statistic', () => {
    const d = windowDrift(win(1, 0, okDrift(feature('age', 'ks', 0.001, 0.05), feature('plan', 'psi', 0.05, 0.2))));
    const age = heatCell(d, 'age');
    expect(age.status).toBe('drift');
    expect(age.hatched).toBe(false);
    expect(age.ratio).toBeGreaterThan(1);
    expect(age.title).toContain('DRIFT');
    expect(age.title).toContain('p-value');
    const plan = heatCell(d, 'plan');
    expect(plan.status).toBe('ok');
    expect(plan.ratio).toBeCloseTo(0.25);
    expect(plan.title).toContain('PSI 0.05');
  });

  it('derives the status from the numbers when the backend sent none', () => {
    const d = windowDrift(
      win(1, 0, {
        status: 'ok',
        features: [
          { feature: 'a', test: 'psi', statistic: 0.3, threshold: 0.2 },
          { feature: 'b', test: 'ks', statistic: 0.3, threshold: 0.05 },
          { feature: 'c', test: 'ks' }
        ]
      })
    );
    expect(heatCell(d, 'a').status).toBe('drift');
    expect(heatCell(d, 'b').status).toBe('ok');
    expect(heatCell(d, 'c').status).toBe('insufficient data');
    expect(heatCell(d, 'c').hatched).toBe(true);
  });

  it('marks missing and added columns as a schema change, and unknown statuses as insufficient data', () => {
    const d = windowDrift(
      win(1, 0, {
        status: 'schema changed',
        features: [feature('age', 'ks', 0.5, 0.05), { ...feature('plan', 'psi', 0, 0.2), status: 'insufficient data' }],
        added_columns: ['new_col'],
        missing_columns: ['income'],
        message: 'columns differ'
      })
    );
    expect(heatCell(d, 'income').status).toBe('schema changed');
    expect(heatCell(d, 'income').hatched).toBe(true);
    expect(heatCell(d, 'new_col').status).toBe('schema changed');
    expect(heatCell(d, 'age').status).toBe('ok');
    expect(heatCell(d, 'plan').status).toBe('insufficient data');
    expect(heatCell(d, 'other').status).toBe('schema changed');
  });

  it('shows a window without a reference as insufficient data, with its message', () => {
    const d = windowDrift(
      win(1, 0, { status: 'insufficient data', features: [], message: 'this version has no reference profile' })
    );
    const cell = heatCell(d, 'age');
    expect(cell.status).toBe('insufficient data');
    expect(cell.title).toContain('no reference profile');
  });

  it('reads free-form JSON defensively', () => {
    const d = windowDrift({ drift: { features: [null, 3, { test: 'ks' }], added_columns: 'x' }, status: 'ok', rows: 9 });
    expect(d.features).toEqual([]);
    expect(d.added_columns).toEqual([]);
    expect(d.rows).toBe(9);
    expect(d.status).toBe('ok');
  });
});

describe('heatmap', () => {
  it('puts the oldest window left and follows the profile order, then new features', () => {
    const newestFirst = [
      win(12, 2, okDrift(feature('b', 'psi', 0.5, 0.2), feature('z', 'psi', 0.1, 0.2))),
      win(11, 1, okDrift(feature('a', 'ks', 0.5, 0.05), feature('b', 'psi', 0.1, 0.2))),
      win(10, 0, okDrift(feature('a', 'ks', 0.01, 0.05)))
    ];
    const map = heatmap(newestFirst, ['b', 'a']);
    expect(map.columns.map(c => c.seq)).toEqual([0, 1, 2]);
    expect(map.features).toEqual(['b', 'a', 'z']);
    expect(map.cells[0].map(c => c.status)).toEqual(['insufficient data', 'ok', 'drift']);
    expect(map.cells[1].map(c => c.status)).toEqual(['drift', 'ok', 'insufficient data']);
    expect(map.cells[2][2].status).toBe('ok');
  });

  it('orders by end time, then id, whatever order the windows come in', () => {
    const a = win(5, 3, okDrift(), null, { end: '2025-01-02T00:00:00Z' });
    const b = win(4, 0, okDrift(), null, { end: '2025-01-03T00:00:00Z', version: 2 });
    const c = win(6, 4, okDrift(), null, { end: null });
    expect(heatmap([b, c, a]).columns.map(x => x.id)).toEqual([5, 4, 6]);
    expect(columnLabel({ seq: 3, version: 2 }, true)).toBe('v2·3');
    expect(columnLabel({ seq: 3, version: 2 }, false)).toBe('#3');
  });

  it('reads the profile features in order', () => {
    expect(
      profileFeatures({
        profile: { features: [{ feature: 'x' }, { name: 'y' }, { other: 1 }] } as never
      })
    ).toEqual(['x', 'y']);
    expect(profileFeatures(null)).toEqual([]);
  });
});

describe('performance series', () => {
  const windows = [
    win(3, 2, okDrift(), perf({ roc_auc: 0.7 }, [{ metric: 'roc_auc', value: 0.7, baseline: 0.85, tolerance: 0.05, degraded: true }], 'degraded')),
    win(2, 1, okDrift(), { status: 'insufficient data', labelled: 3, metrics: {}, checks: [], message: '3 labelled predictions' }),
    win(1, 0, okDrift(), perf({ roc_auc: 0.84, rmse: 0.3 }, [{ metric: 'roc_auc', value: 0.84, baseline: 0.85, tolerance: 0.05, degraded: false }])),
    win(4, 3, okDrift(), null)
  ];

  it('runs oldest first with gaps where labels were too few or missing', () => {
    const s = performanceSeries(windows, 'roc_auc');
    expect(s.map(p => p.seq)).toEqual([0, 1, 2, 3]);
    expect(s.map(p => p.value)).toEqual([0.84, null, 0.7, null]);
    expect(s[1].gap).toBe('3 labelled predictions');
    expect(s[3].gap).toBe('no labels yet');
    expect(s.map(p => p.degraded)).toEqual([false, false, true, false]);
    expect(s[0].baseline).toBe(0.85);
    expect(s[0].tolerance).toBe(0.05);
  });

  it('falls back to the monitor baseline and default tolerance where a window has no check', () => {
    const s = performanceSeries(windows, 'rmse', { baseline: 0.2 });
    expect(s[0].value).toBe(0.3);
    expect(s[0].baseline).toBe(0.2);
    expect(s[0].tolerance).toBeCloseTo(0.02);
    expect(s[0].degraded).toBe(true); // 0.3 - 0.2 > 0.02
    expect(s[2].value).toBeNull();
    expect(s[2].gap).toContain('RMSE');
    const none = performanceSeries(windows, 'ece');
    expect(none.every(p => p.baseline === null && p.tolerance === null)).toBe(true);
  });

  it('carries each check\'s 95% interval and says when a metric has too few labelled rows for a verdict', () => {
    const w = win(7, 5, okDrift(), perf({ f1: 0.7, ece: 0.12 }, [
      { metric: 'f1', value: 0.7, baseline: 0.78, tolerance: 0.05, degraded: false, interval: [0.62, 0.77], status: 'ok', rows: 200, min_rows: 30 },
      { metric: 'ece', value: 0.12, baseline: 0.02, tolerance: 0.05, degraded: false, interval: [0.08, 0.16], status: 'not enough labelled rows', rows: 200, min_rows: 500 }
    ]));
    const [f1] = performanceSeries([w], 'f1');
    expect(f1.degraded).toBe(false); // the value lost 0.08, but the interval reaches within the tolerance
    expect(f1.interval).toEqual([0.62, 0.77]);
    expect(f1.evidence).toBeNull();
    const [ece] = performanceSeries([w], 'ece');
    expect(ece.degraded).toBe(false);
    expect(ece.evidence).toBe('not enough labelled rows for a verdict (200 of 500)');
    expect(performanceStatusWords('not enough labelled rows').label).toBe('Not enough labelled rows');
  });

  it('follows the backend rules for tolerance and degradation', () => {
    expect(defaultTolerance('roc_auc', 0.9)).toBe(0.05);
    expect(defaultTolerance('rmse', -2)).toBeCloseTo(0.2);
    expect(defaultTolerance('rmse', null)).toBeNull();
    expect(isDegraded('f1', 0.79, 0.85, 0.05)).toBe(true);
    expect(isDegraded('f1', 0.8, 0.85, 0.05)).toBe(false);
    expect(isDegraded('ece', 0.2, 0.1, 0.05)).toBe(true);
    const [lo, hi] = toleranceBand('roc_auc', { baseline: 0.85, tolerance: 0.05 }) as [number, number];
    expect(lo).toBeCloseTo(0.8);
    expect(hi).toBe(0.85);
    expect(toleranceBand('rmse', { baseline: 1, tolerance: 0.1 })).toEqual([1, 1.1]);
    expect(toleranceBand('rmse', { baseline: null, tolerance: 0.1 })).toBeNull();
  });

  it('charts the metrics any window scored or the baseline names, in a fixed order', () => {
    expect(availableMetrics(windows)).toEqual(['roc_auc', 'rmse']);
    expect(availableMetrics(windows, { ece: 0.1, junk: 'x' })).toEqual(['roc_auc', 'rmse', 'ece']);
    expect(availableMetrics([])).toEqual([]);
    expect(baselineMetrics({ baseline: { metrics: { roc_auc: 0.9, bad: 'x' }, source: 's' } })).toEqual({ roc_auc: 0.9 });
  });

  it('breaks the drawn line at gaps and draws the band and baseline', () => {
    const g = chartGeometry('roc_auc', performanceSeries(windows, 'roc_auc', { baseline: 0.85 }));
    expect(g.line.match(/M/g)).toHaveLength(2); // 0.84 | gap | 0.7 | gap
    expect(g.line).not.toContain('L');
    expect(g.ys.filter(y => y !== null)).toHaveLength(2);
    expect(g.band.match(/Z/g)).toHaveLength(1); // every window has a baseline (its check's, else the monitor's)
    // without the monitor's baseline, windows with no check of their own break the band
    expect(chartGeometry('roc_auc', performanceSeries(windows, 'roc_auc')).band.match(/Z/g)).toHaveLength(2);
    expect(g.baseline.startsWith('M')).toBe(true);
    expect(g.yMin).toBeLessThan(0.7);
    expect(g.yMax).toBeGreaterThan(0.85);
    // a higher value is drawn higher (smaller y)
    const [y0, , y2] = g.ys;
    expect((y0 as number) < (y2 as number)).toBe(true);
  });

  it('draws a continuous line across consecutive values', () => {
    const ws = [0, 1, 2].map(i => win(i + 1, i, okDrift(), perf({ f1: 0.8 + i / 100 })));
    const g = chartGeometry('f1', performanceSeries(ws, 'f1'));
    expect(g.line.match(/M/g)).toHaveLength(1);
    expect(g.line.match(/L/g)).toHaveLength(2);
  });
});

describe('alerts', () => {
  const alert = (id: number, state: string, started: string): Alert => ({
    id,
    deployment: 'churn',
    key: `drift:f${id}`,
    kind: 'drift',
    severity: 'warning',
    state,
    title: `t${id}`,
    detail: {},
    windows: 1,
    started_at: started,
    updated_at: null,
    resolved_at: state === 'resolved' ? started : null,
    deliveries: []
  });

  it('lists firing alerts first, then the newest', () => {
    const sorted = sortAlerts([
      alert(1, 'resolved', '2025-01-05T00:00:00Z'),
      alert(2, 'firing', '2025-01-01T00:00:00Z'),
      alert(3, 'firing', '2025-01-03T00:00:00Z'),
      alert(4, 'resolved', '2025-01-06T00:00:00Z'),
      alert(5, 'resolved', '2025-01-06T00:00:00Z')
    ]);
    expect(sorted.map(a => a.id)).toEqual([3, 2, 5, 4, 1]);
  });

  it('fills a page with resolved alerts after the firing ones', () => {
    // 3 firing: the first page shows them and 7 resolved from the start
    expect(resolvedSlice(0, 10, 3, 3)).toEqual({ offset: 0, limit: 7, take: 7 });
    // the second page: resolved 7…16
    expect(resolvedSlice(10, 10, 3, 0)).toEqual({ offset: 7, limit: 10, take: 10 });
    // a page full of firing ones still asks for one resolved, for its total, and shows none
    expect(resolvedSlice(0, 10, 25, 10)).toEqual({ offset: 0, limit: 1, take: 0 });
    expect(resolvedSlice(20, 10, 25, 5)).toEqual({ offset: 0, limit: 5, take: 5 });
  });

  it('says what each webhook answered', () => {
    const ok = deliveryWords({ webhook: 'ops', state: 'firing', ok: true, status_code: 200, attempts: 1, error: null, at: null });
    expect(ok).toEqual({ ok: true, text: 'ops ✓ 200', title: 'Delivered "firing" to ops.' });
    const bad = deliveryWords({ webhook: 'jira', state: 'resolved', ok: false, status_code: null, attempts: 3, error: 'timed out', at: null });
    expect(bad.ok).toBe(false);
    expect(bad.text).toBe('jira ✗');
    expect(bad.title).toBe('Could not deliver "resolved" to jira after 3 attempts: timed out');
  });
});

describe('retraining chain and words', () => {
  it('lists alert → run → version → decision, with missing links as null', () => {
    const r: Retraining = {
      id: 1,
      deployment: 'churn',
      alert_id: 7,
      alert: 'drift:f3',
      pipeline_run_id: 'abc123',
      status: 'awaiting approval',
      version: 4,
      decision_id: null,
      message: null,
      created_at: null,
      updated_at: null
    };
    expect(retrainingChain(r).map(s => s.value)).toEqual(['drift:f3', 'abc123', 'v4', null]);
    expect(retrainingChain({ ...r, alert: null, alert_id: 9 })[0].value).toBe('#9');
  });

  it('names statuses and evaluations in words', () => {
    expect(driftStatusWords('drift').tone).toBe('failure');
    expect(driftStatusWords('waiting').label).toBe('Waiting');
    expect(driftStatusWords('odd').label).toBe('odd');
    expect(evaluationWords({ windows: 2, summary: '2 new window(s); firing: drift:f3', message: null })).toBe(
      '2 new window(s); firing: drift:f3.'
    );
    expect(evaluationWords({ windows: 0, summary: '', message: 'No reference.' })).toBe('0 new window(s). No reference.');
  });
});

describe('the monitor form', () => {
  it('sends only what was given, with the platform default window when empty', () => {
    const input = monitorInput();
    expect(monitorRequest(input)).toEqual({
      request: {
        retrain: false,
        retrain_on: 'any',
        enabled: true,
        tolerance: {},
        window_size: null,
        window_seconds: null,
        cooldown_s: 3600
      }
    });
    const filled = { ...input, windowSize: '500', retrain: true, retrainOn: 'drift' as const, tolerance: { ...input.tolerance, f1: '0.1' } };
    expect(monitorRequest(filled)).toEqual({
      request: {
        retrain: true,
        retrain_on: 'drift',
        enabled: true,
        tolerance: { f1: 0.1 },
        window_size: 500,
        window_seconds: null,
        cooldown_s: 3600
      }
    });
    const hourly = { ...input, windowSeconds: '3600' };
    expect('request' in monitorRequest(hourly) && monitorRequest(hourly)).toMatchObject({
      request: { window_seconds: 3600, window_size: null }
    });
  });

  it('names each bad field', () => {
    const input = {
      ...monitorInput(),
      windowSize: '10',
      windowSeconds: '30',
      cooldownS: '-1',
      tolerance: { roc_auc: 'x', f1: '', rmse: '-2', ece: '' }
    };
    const out = monitorRequest(input);
    expect('errors' in out && Object.keys(out.errors).sort()).toEqual([
      'cooldown_s',
      'tolerance.rmse',
      'tolerance.roc_auc',
      'window_seconds',
      'window_size'
    ]);
  });

  it('starts from an existing monitor', () => {
    const m = { window_size: 800, retrain: true, retrain_on: 'performance', cooldown_s: 60, enabled: false, tolerance: { rmse: 0.5 } };
    const input = monitorInput(m as never);
    expect(input.windowSize).toBe('800');
    expect(input.retrainOn).toBe('performance');
    expect(input.tolerance.rmse).toBe('0.5');
    expect(input.tolerance.f1).toBe('');
    expect(input.enabled).toBe(false);
  });
});

describe('the webhook form', () => {
  it('builds a Slack webhook without a secret', () => {
    const out = webhookRequest({ ...webhookInput(), name: ' ops-slack ', url: 'https://hooks.slack.com/services/T/B/x', secret: 'stale' });
    expect(out).toEqual({ request: { name: 'ops-slack', kind: 'slack', url: 'https://hooks.slack.com/services/T/B/x' } });
  });

  it('needs a Jira project key and user:api_token', () => {
    const bad = webhookRequest({ ...webhookInput(), kind: 'jira', name: 'jira', url: 'https://x.atlassian.net', jiraProject: 'ops' });
    expect('errors' in bad && Object.keys(bad.errors).sort()).toEqual(['jira_project', 'secret']);
    const ok = webhookRequest({
      ...webhookInput(),
      kind: 'jira',
      name: 'jira',
      url: 'https://x.atlassian.net',
      jiraProject: 'OPS',
      secret: 'me@x.com:tok'
    });
    expect(ok).toEqual({
      request: {
        name: 'jira',
        kind: 'jira',
        url: 'https://x.atlassian.net',
        secret: 'me@x.com:tok',
        jira_project: 'OPS',
        jira_issue_type: 'Bug'
      }
    });
  });

  it('refuses bad names and URLs in plain words', () => {
    const out = webhookRequest({ ...webhookInput(), kind: 'generic', name: '-x', url: 'ftp://x' });
    expect('errors' in out && out.errors.name).toMatch(/starting with a letter or digit/);
    expect('errors' in out && out.errors.url).toMatch(/http/);
    expect('errors' in webhookRequest({ ...webhookInput(), name: '', url: '' })).toBe(true);
  });
});

describe('one verdict and the firing banner', () => {
  it('explains the drift badge with the window verdict and the same rule as the report', () => {
    const words = driftStatusWords('drift', 'drift in 1 of 3 features: x2');
    expect(words.tone).toBe('failure');
    expect(words.title).toContain('drift in 1 of 3 features: x2');
    expect(words.title).toContain(DRIFT_RULE);
    expect(DRIFT_RULE).toContain('one drifted feature is enough');
  });

  it('is red while a critical alert fires, amber for drift warnings only, absent when none fire', () => {
    expect(firingBanner(0, 0)).toBeNull();
    expect(firingBanner(2, 1)).toEqual({ tone: 'failure', text: '2 alerts firing (1 critical): see Alerts below.' });
    expect(firingBanner(1, 0)?.tone).toBe('warning');
  });

  it('says why AUC is missing where the deployment served class labels only', () => {
    const labelsOnly = win(1, 0, okDrift(), {
      ...perf({ f1: 0.8 }),
      unavailable: [{ metric: 'roc_auc', reason: 'the model returns class labels only' }]
    });
    const [point] = performanceSeries([labelsOnly], 'roc_auc');
    expect(point.value).toBeNull();
    expect(point.gap).toContain('cannot be computed: the model returns class labels only');
  });
});
