import {
  assignableRoles,
  canManageMembers,
  formatApiError,
  isRole,
  ROLES,
  validateSlug
} from '../../labextension/src/common/permissions';

describe('ROLES', () => {
  it('lists the roles from least to most privileged', () => {
    expect(ROLES).toEqual(['viewer', 'stakeholder', 'scientist', 'lead', 'admin']);
  });

  it('recognises only known roles', () => {
    expect(isRole('lead')).toBe(true);
    expect(isRole('owner')).toBe(false);
    expect(isRole(null)).toBe(false);
  });
});

describe('canManageMembers', () => {
  it.each([
    ['lead', true],
    ['admin', true],
    ['scientist', false],
    ['stakeholder', false],
    ['viewer', false]
  ] as const)('%s -> %s', (role, expected) => {
    expect(canManageMembers(role)).toBe(expected);
  });

  it('is false without a role', () => {
    expect(canManageMembers(null)).toBe(false);
    expect(canManageMembers(undefined)).toBe(false);
  });
});

describe('assignableRoles', () => {
  it('lets a lead assign viewer up to lead, but not admin', () => {
    expect(assignableRoles('lead', false)).toEqual(['viewer', 'stakeholder', 'scientist', 'lead']);
  });

  it('does not let a project admin who is not a platform admin assign admin', () => {
    expect(assignableRoles('admin', false)).not.toContain('admin');
  });

  it('lets a platform admin assign every role', () => {
    expect(assignableRoles('admin', true)).toEqual([...ROLES]);
    expect(assignableRoles(null, true)).toEqual([...ROLES]);
  });

  it('gives members below lead nothing to assign', () => {
    expect(assignableRoles('scientist', false)).toEqual([]);
    expect(assignableRoles('viewer', false)).toEqual([]);
    expect(assignableRoles(null, false)).toEqual([]);
  });

  it('returns a copy, so callers cannot change ROLES', () => {
    const roles = assignableRoles('admin', true);
    roles.pop();
    expect(ROLES).toHaveLength(5);
  });
});

describe('validateSlug', () => {
  it.each(['a', '7', 'churn-2025', 'a-b-c', 'x'.repeat(64)])('accepts %p', slug => {
    expect(validateSlug(slug)).toBeNull();
  });

  it.each([
    ['', /enter a slug/i],
    ['x'.repeat(65), /at most 64/],
    ['Churn', /lowercase/],
    ['-churn', /hyphen/],
    ['churn-', /hyphen/],
    ['-', /hyphen/],
    ['churn_2025', /only lowercase letters, digits and hyphens/],
    ['churn 2025', /only lowercase letters, digits and hyphens/],
    ['café', /only lowercase letters, digits and hyphens/]
  ])('rejects %p', (slug, message) => {
    expect(validateSlug(slug)).toMatch(message);
  });

  it('agrees with the backend pattern on a range of inputs', () => {
    const backend = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
    for (const slug of ['ab', 'a--b', '--', 'a.b', 'A', '0-0', 'a'.repeat(63) + '-', 'é']) {
      expect(validateSlug(slug) === null).toBe(backend.test(slug));
    }
  });
});

describe('formatApiError', () => {
  it('names the field of a validation error', () => {
    const body = {
      error: {
        code: 'validation_error',
        message: "slug: String should match pattern '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$'",
        detail: [
          {
            loc: ['body', 'slug'],
            msg: "String should match pattern '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$'",
            type: 'string_pattern_mismatch'
          }
        ]
      }
    };
    expect(formatApiError(body)).toBe(
      'The field "slug" is not valid: String should match pattern ' +
        "'^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$'."
    );
  });

  it("reads the backend's own detail shape", () => {
    const body = {
      error: {
        code: 'validation_error',
        message: "role: Input should be 'viewer', 'stakeholder', 'scientist', 'lead' or 'admin'",
        detail: [
          {
            field: 'role',
            message: "Input should be 'viewer', 'stakeholder', 'scientist', 'lead' or 'admin'",
            type: 'enum'
          }
        ]
      }
    };
    expect(formatApiError(body)).toBe(
      'The field "role" is not valid: Input should be ' +
        "'viewer', 'stakeholder', 'scientist', 'lead' or 'admin'."
    );
  });

  it('names every field at fault, with nested locations', () => {
    const body = {
      error: {
        code: 'validation_error',
        message: 'invalid',
        detail: [
          { loc: ['body', 'name'], msg: 'String should have at least 1 character' },
          { loc: ['query', 'limit'], msg: 'Input should be less than or equal to 200' },
          { loc: ['body', 'owner', 'email'], msg: 'Field required' }
        ]
      }
    };
    const text = formatApiError(body);
    expect(text).toContain('The field "name" is not valid: String should have at least 1 character.');
    expect(text).toContain('The field "limit" is not valid');
    expect(text).toContain('The field "owner.email" is not valid: Field required.');
  });

  it('uses the message when the detail names no field', () => {
    const body = { error: { code: 'conflict', message: "project 'churn' already exists", detail: null } };
    expect(formatApiError(body)).toBe("Project 'churn' already exists.");
  });

  it('passes plain Errors and strings through as sentences', () => {
    expect(formatApiError(new Error('boom'))).toBe('Boom.');
    expect(formatApiError('Not allowed!')).toBe('Not allowed!');
  });

  it('never returns an empty sentence', () => {
    expect(formatApiError(undefined)).toBe('Something went wrong.');
    expect(formatApiError({ error: 'nope' })).toBe('Something went wrong.');
  });
});
