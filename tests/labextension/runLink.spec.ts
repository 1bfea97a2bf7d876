import { parseRunLink, RUN_LINK_PATTERN, withoutRunLink } from '../../labextension/src/experiments/runLink';

describe('View run links', () => {
  const run = '0123456789abcdef0123456789abcdef';

  it('names the project and run of the link page', () => {
    const search = `?mlp-project=acme&mlp-run=${run}`;
    expect(RUN_LINK_PATTERN.test(search)).toBe(true);
    expect(parseRunLink(search)).toEqual({ project: 'acme', runId: run, experimentId: null });
  });

  it('opens the project alone for an experiment link', () => {
    expect(parseRunLink('?mlp-project=acme&mlp-experiment=3')).toEqual({
      project: 'acme',
      runId: null,
      experimentId: '3'
    });
  });

  it('ignores what is not a link or is malformed', () => {
    expect(RUN_LINK_PATTERN.test('?reset')).toBe(false);
    expect(parseRunLink('?reset')).toBeNull();
    expect(parseRunLink('?mlp-project=Not%20a%20slug')).toBeNull();
    expect(parseRunLink('?mlp-project=acme&mlp-run=../../etc')).toEqual({
      project: 'acme',
      runId: null,
      experimentId: null
    });
  });

  it('leaves the rest of the query string', () => {
    expect(withoutRunLink(`?mlp-project=acme&mlp-run=${run}`)).toBe('');
    expect(withoutRunLink(`?token=x&mlp-project=acme&mlp-run=${run}`)).toBe('?token=x');
  });
});
