import React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import type { ShipOut } from '../../labextension/src/common/endpoints/ship';
import {
  challengerText,
  newClaim,
  numberField,
  parameterText,
  parameterValue,
  shipEnded,
  stepLine,
  stepLink,
  withChallenger
} from '../../labextension/src/ship/ship';
import { Progress } from '../../labextension/src/ship/widgets/ShipProgress';

describe('the Ship flow in words', () => {
  it('knows when a Ship has ended', () => {
    expect(['succeeded', 'failed', 'interrupted'].map(shipEnded)).toEqual([true, true, true]);
    expect(['running', 'waiting'].map(shipEnded)).toEqual([false, false]);
  });

  it('writes a step as a line with its time and message', () => {
    expect(stepLine({ name: 'run', status: 'done', seconds: 42.06, message: 'SUCCESS in 2 stage(s)' })).toBe(
      'Pipeline run — done in 42.1 s: SUCCESS in 2 stage(s)'
    );
    expect(stepLine({ name: 'approval', status: 'waiting', seconds: null, message: null })).toBe(
      "Lead's approval — waiting"
    );
  });

  it('reads parameter values as JSON where they are, as text otherwise', () => {
    expect(parameterValue('0.5')).toBe(0.5);
    expect(parameterValue('[1, 2]')).toEqual([1, 2]);
    expect(parameterValue('eu-west')).toBe('eu-west');
    expect(parameterText('eu-west')).toBe('eu-west');
    expect(parameterText(0.5)).toBe('0.5');
    expect(numberField(' ')).toBeNull();
    expect(numberField('abc')).toBeNull();
    expect(numberField('0.93')).toBe(0.93);
  });

  it("links each step to the panel of its record", () => {
    expect(stepLink('run', { pipeline: 'churn', run_id: 'r1', version: 'abc' })).toEqual({
      panel: 'pipelines',
      args: { pipeline: 'churn', version: 'abc' }
    });
    expect(stepLink('register', { model: 'churn', version: 2 })).toEqual({
      panel: 'models',
      args: { model: 'churn', version: 2 }
    });
    expect(stepLink('deploy', { deployment: 'churn-api', version: 2 })).toEqual({
      panel: 'deployments',
      args: { deployment: 'churn-api' }
    });
    expect(stepLink('monitor', { deployment: 'churn-api' })?.panel).toBe('monitoring');
    expect(stepLink('approval', { decision: 3 })).toBeNull();
  });
});

describe('the challenger gate in the plan', () => {
  const proposed = {
    challenger: { metric: 'accuracy', margin: 0, greater_is_better: true },
    evaluation: { dataset: 'customers', target: 'y', snapshot_id: null }
  };

  it('says what the challenger must beat, on which data', () => {
    expect(challengerText(proposed)).toBe('accuracy, higher is better, margin 0, scored on customers (label y)');
    expect(challengerText({ ...proposed, challenger: { metric: 'rmse', margin: 0.1, greater_is_better: false } })).toBe(
      'rmse, lower is better, margin 0.1, scored on customers (label y)'
    );
    expect(challengerText({ challenger: null })).toBeNull();
  });

  it('is removed with its evaluation data and put back as proposed', () => {
    const off = withChallenger({ ...proposed, require_approval: true }, proposed, false);
    expect(off).toEqual({ challenger: null, evaluation: null, require_approval: true });
    expect(withChallenger(off, proposed, true)).toEqual({ ...proposed, require_approval: true });
  });

  it("gives each progress view a claim of its own", () => {
    const a = newClaim();
    expect(a).toMatch(/^view-[0-9a-z]{24}$/);
    expect(newClaim()).not.toBe(a);
  });
});

describe('the progress view', () => {
  const step = (name: string, status: string, extra: Record<string, unknown> = {}) => ({
    name,
    status,
    message: null,
    started_at: null,
    ended_at: null,
    seconds: null,
    links: {},
    progress: [],
    ...extra
  });
  const ship = (steps: ReturnType<typeof step>[]): ShipOut =>
    ({
      id: 's1',
      project: 'acme',
      path: 'acme/churn.ipynb',
      created_by: 'sam',
      created_at: '2026-12-05T00:00:00Z',
      status: 'running',
      message: null,
      failed_step: null,
      plan: {},
      steps,
      endpoint: null
    }) as unknown as ShipOut;

  it('shows the base image being built, with its progress, before the first stage', () => {
    const html = renderToStaticMarkup(
      React.createElement(Progress, {
        ship: ship([
          step('promote', 'done', { seconds: 1.2, message: 'a new version of churn' }),
          step('image', 'running', {
            message: 'building base image mlp-base:bookworm (the platform started it at its start)',
            progress: ['building base image mlp-base:bookworm: missing: building it with debootstrap', '42 s so far']
          }),
          step('run', 'running', { message: 'STARTED (docker)' }),
          step('register', 'pending')
        ]),
        apiKey: null,
        open: () => undefined
      })
    );
    const image = html.indexOf('data-step="image"');
    const run = html.indexOf('data-step="run"');
    expect(image).toBeGreaterThan(html.indexOf('data-step="promote"'));
    expect(run).toBeGreaterThan(image);
    expect(html).toContain(
      'Stage base image — running: building base image mlp-base:bookworm (the platform started it at its start)'
    );
    expect(html.slice(image, run)).toContain('42 s so far');
  });

  it('says the image is ready once it is', () => {
    const html = renderToStaticMarkup(
      React.createElement(Progress, {
        ship: ship([step('image', 'done', { seconds: 61, message: 'base image mlp-base:bookworm ready (built in 61 s)' })]),
        apiKey: null,
        open: () => undefined
      })
    );
    expect(html).toContain('Stage base image — done in 61.0 s: base image mlp-base:bookworm ready (built in 61 s)');
  });
});
