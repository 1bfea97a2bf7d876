import { roleLabel } from '../../labextension/src/common/permissions';

describe('roleLabel', () => {
  it('says the membership role the members table shows, and admin rights beside it', () => {
    expect(roleLabel('admin', 'lead')).toBe('lead (with platform admin rights)');
    expect(roleLabel('admin', null)).toBe('platform admin (not a member)');
    expect(roleLabel('admin', 'admin')).toBe('admin');
    expect(roleLabel('scientist', 'scientist')).toBe('scientist');
    expect(roleLabel('viewer', undefined)).toBe('viewer');
  });
});
