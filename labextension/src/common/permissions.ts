/**
 * Project roles and what each may do in the panel, mirroring the backend's rules.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly. The backend remains the
 * authority: these only decide what the panel offers.
 */

export { formatApiError } from './errors';

/** Project roles, least to most privileged. */
export const ROLES = ['viewer', 'stakeholder', 'scientist', 'lead', 'admin'] as const;

export type Role = (typeof ROLES)[number];

/** Whether a caller with this project role may add, change and remove members. */
export function canManageMembers(role: Role | null | undefined): boolean {
  return role === 'lead' || role === 'admin';
}

/**
 * The roles a caller may hand out in a project.
 *
 * A lead (or project admin) may assign viewer up to lead; only a platform admin may assign admin.
 */
export function assignableRoles(
  callerRole: Role | null | undefined,
  isPlatformAdmin: boolean
): Role[] {
  if (isPlatformAdmin) {
    return [...ROLES];
  }
  if (!canManageMembers(callerRole)) {
    return [];
  }
  return ROLES.filter(role => role !== 'admin');
}

/** Whether `value` is one of the known roles. */
/**
 * The caller's role in a project as the sidebar says it: the membership role the members table shows, and that a
 * platform admin acts with admin rights on top of it (or without being a member at all).
 */
export function roleLabel(role: Role, memberRole: Role | null | undefined): string {
  if (role !== 'admin' || memberRole === 'admin') {
    return memberRole ?? role;
  }
  return memberRole
    ? `${memberRole} (with platform admin rights)`
    : 'platform admin (not a member)';
}

export function isRole(value: unknown): value is Role {
  return (ROLES as readonly unknown[]).includes(value);
}

/** The backend's slug rule: 1–64 lowercase letters, digits and hyphens, no hyphen at either end. */
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** Check a project slug as the backend will; returns a sentence saying what is wrong, or null. */
export function validateSlug(slug: string): string | null {
  if (slug.length === 0) {
    return 'Enter a slug.';
  }
  if (slug.length > 64) {
    return `A slug can be at most 64 characters (this one has ${slug.length}).`;
  }
  if (/[A-Z]/.test(slug)) {
    return 'A slug must be lowercase.';
  }
  if (slug.startsWith('-') || slug.endsWith('-')) {
    return 'A slug cannot start or end with a hyphen.';
  }
  if (!SLUG_PATTERN.test(slug)) {
    return 'A slug may contain only lowercase letters, digits and hyphens.';
  }
  return null;
}
