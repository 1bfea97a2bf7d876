import { lineagePolicies, policyRows, POLICY_ROLES } from '../../labextension/src/experiments/columnPolicies';

describe('column policies in the panel', () => {
  it('lists every column with an action per role, allow where none is set', () => {
    const rows = policyRows({
      dataset: 'credit',
      columns: [
        { name: 'customer', in_schema: true, policies: { viewer: 'hash' } },
        { name: 'income', in_schema: true, policies: {} },
        { name: 'ssn', in_schema: false, policies: { viewer: 'deny', stakeholder: 'mask' } }
      ]
    });
    expect(POLICY_ROLES).toEqual(['viewer', 'stakeholder', 'scientist', 'lead', 'admin']);
    expect(rows).toEqual([
      { column: 'customer', inSchema: true, actions: ['hash', 'allow', 'allow', 'allow', 'allow'], shaped: true },
      { column: 'income', inSchema: true, actions: ['allow', 'allow', 'allow', 'allow', 'allow'], shaped: false },
      { column: 'ssn', inSchema: false, actions: ['deny', 'mask', 'allow', 'allow', 'allow'], shaped: true }
    ]);
  });

  it("says in words which policies shaped a run's dataset read", () => {
    expect(lineagePolicies(undefined)).toBe('—');
    expect(lineagePolicies([])).toBe('—');
    expect(lineagePolicies(['credit.ssn:viewer=mask', 'credit.customer id:viewer=hash'])).toBe(
      'ssn masked, customer id hashed'
    );
    expect(lineagePolicies(['odd'])).toBe('odd');
  });
});
