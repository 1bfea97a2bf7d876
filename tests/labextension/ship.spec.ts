import {
  numberField,
  parameterText,
  parameterValue,
  shipEnded,
  stepLine,
  stepLink
} from '../../labextension/src/ship/ship';

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
