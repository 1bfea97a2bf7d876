import React, { useCallback, useEffect, useRef, useState } from 'react';

import { listMembers, Member, Project, removeMember, setMember } from '../../common/api';
import { assignableRoles, canManageMembers, isRole, Role } from '../../common/permissions';

/** Rows per page of the members table. */
export const MEMBERS_PAGE_SIZE = 50;

/** Props for the members section of the panel. */
export interface IMembersSectionProps {
  project: Project;
  /** The signed-in user. */
  caller: string;
  isPlatformAdmin: boolean;
  /** Show an error (or clear it with null). */
  onError: (error: unknown) => void;
  /** The caller changed their own membership, so their project list may differ. */
  onOwnMembershipChanged: () => void;
}

/**
 * The members table of the current project, with role changes and an add-member form for leads.
 *
 * Give it `key={project.slug}` so that switching projects starts again at the first page.
 */
export function MembersSection(props: IMembersSectionProps): JSX.Element {
  const { project, caller, isPlatformAdmin, onError, onOwnMembershipChanged } = props;
  const [members, setMembers] = useState<Member[]>([]);
  const [total, setTotal] = useState(0);
  const [offset, setOffset] = useState(0);
  const [loading, setLoading] = useState(true);
  const [busy, setBusy] = useState(false);
  // Only the latest request may set state, so a slow earlier page cannot overwrite a newer one.
  const latestRequest = useRef(0);

  const manage = canManageMembers(project.role);
  const roles = assignableRoles(project.role, isPlatformAdmin);

  const load = useCallback(async () => {
    const request = ++latestRequest.current;
    setLoading(true);
    try {
      const result = await listMembers(project.slug, MEMBERS_PAGE_SIZE, offset);
      if (request === latestRequest.current) {
        setMembers(result.items);
        setTotal(result.total);
      }
    } catch (error) {
      if (request === latestRequest.current) {
        onError(error);
      }
    } finally {
      if (request === latestRequest.current) {
        setLoading(false);
      }
    }
  }, [project.slug, offset, onError]);

  useEffect(() => {
    void load();
  }, [load]);

  /** Run a membership change, then reload; a change to the caller's own row reloads projects too. */
  const change = async (user: string, action: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true);
    onError(null);
    try {
      await action();
      await load();
      if (user === caller) {
        onOwnMembershipChanged();
      }
      return true;
    } catch (error) {
      onError(error);
      return false;
    } finally {
      setBusy(false);
    }
  };

  const lastRow = Math.min(offset + members.length, total);

  return (
    <section className="jp-mlp-section" aria-label="Members">
      <h3 className="jp-mlp-heading">Members {loading ? '' : `(${total})`}</h3>
      {loading && members.length === 0 ? (
        <div className="jp-mlp-loading">Loading members…</div>
      ) : (
        <table data-testid="mlp-members" className="jp-mlp-table" aria-busy={loading}>
          <thead>
            <tr>
              <th>User</th>
              <th>Role</th>
              {manage && <th aria-label="Actions" />}
            </tr>
          </thead>
          <tbody>
            {members.map(member => {
              // A lead cannot change or remove someone whose role they could not assign (an admin).
              const editable = manage && roles.includes(member.role);
              return (
                <tr key={member.user} data-user={member.user}>
                  <td title={`Added by ${member.added_by}`}>{member.user}</td>
                  <td>
                    {editable ? (
                      <select
                        className="jp-mlp-select"
                        aria-label={`Role of ${member.user}`}
                        value={member.role}
                        disabled={busy}
                        onChange={e => {
                          const role = e.target.value;
                          if (isRole(role)) {
                            void change(member.user, () => setMember(project.slug, member.user, role));
                          }
                        }}
                      >
                        {roles.map(role => (
                          <option key={role} value={role}>
                            {role}
                          </option>
                        ))}
                      </select>
                    ) : (
                      member.role
                    )}
                  </td>
                  {manage && (
                    <td>
                      {editable && (
                        <button
                          className="jp-mlp-button jp-mlp-button-small"
                          aria-label={`Remove ${member.user}`}
                          disabled={busy}
                          onClick={() =>
                            void change(member.user, () => removeMember(project.slug, member.user))
                          }
                        >
                          Remove
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {total > MEMBERS_PAGE_SIZE && (
        <div className="jp-mlp-pager">
          <button
            className="jp-mlp-button jp-mlp-button-small"
            disabled={loading || offset === 0}
            onClick={() => setOffset(Math.max(0, offset - MEMBERS_PAGE_SIZE))}
          >
            Previous
          </button>
          <span>
            {offset + 1}–{lastRow} of {total}
          </span>
          <button
            className="jp-mlp-button jp-mlp-button-small"
            disabled={loading || offset + MEMBERS_PAGE_SIZE >= total}
            onClick={() => setOffset(offset + MEMBERS_PAGE_SIZE)}
          >
            Next
          </button>
        </div>
      )}
      {manage && (
        <AddMemberForm
          roles={roles}
          busy={busy}
          onAdd={(user, role) => change(user, () => setMember(project.slug, user, role))}
        />
      )}
    </section>
  );
}

interface IAddMemberFormProps {
  roles: Role[];
  busy: boolean;
  /** Resolves true when the member was added. */
  onAdd: (user: string, role: Role) => Promise<boolean>;
}

function AddMemberForm({ roles, busy, onAdd }: IAddMemberFormProps): JSX.Element {
  const [user, setUser] = useState('');
  const [role, setRole] = useState<Role>('viewer');

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const name = user.trim();
    if (!name) {
      return;
    }
    if (await onAdd(name, role)) {
      setUser('');
    }
  };

  return (
    <form className="jp-mlp-form jp-mlp-inline" onSubmit={submit} aria-label="Add member">
      <input
        data-testid="mlp-member-user"
        className="jp-mod-styled"
        placeholder="User name"
        aria-label="User name"
        value={user}
        onChange={e => setUser(e.target.value)}
      />
      <select
        data-testid="mlp-member-role"
        className="jp-mlp-select"
        aria-label="Role"
        value={role}
        onChange={e => isRole(e.target.value) && setRole(e.target.value)}
      >
        {roles.map(r => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
      <button
        type="submit"
        data-testid="mlp-add-member"
        className="jp-mlp-button jp-mod-accept"
        disabled={busy || user.trim() === ''}
      >
        Add member
      </button>
    </form>
  );
}
