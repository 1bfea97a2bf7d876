/**
 * The platform API as typed functions. Widgets call these, never `fetch`.
 *
 * Requests go to the server extension's `/mlp/api/...`, which proxies to the backend's `/api/...`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { components } from './api-types';
import { ApiError, parseApiError } from './errors';
import type { Role as PanelRole } from './permissions';

export { ApiError } from './errors';

type Schemas = components['schemas'];
export type Role = Schemas['Role'];
export type WhoAmI = Schemas['Whoami'];
export type Project = Schemas['ProjectOut'];
export type ProjectCreate = Schemas['ProjectCreate'];
export type ProjectPage = Schemas['ProjectPage'];
export type Member = Schemas['MemberOut'];
export type MemberPage = Schemas['MemberPage'];

/**
 * Call the platform API and return the parsed JSON body.
 *
 * @param endPoint path under `/mlp/api/`, optionally with a query string
 * @throws ApiError carrying the backend's error code, message and detail
 */
export async function requestAPI<T>(endPoint = '', init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const [path, query] = splitQuery(endPoint);
  const url = URLExt.join(settings.baseUrl, 'mlp', 'api', path) + query;

  const headers = new Headers(init.headers);
  if (init.body !== undefined && !headers.has('Content-Type')) {
    headers.set('Content-Type', 'application/json');
  }

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, { ...init, headers }, settings);
  } catch (error) {
    throw new ApiError(0, 'network_error', 'Could not reach the ML Platform server.', String(error));
  }

  const text = await response.text();
  if (!response.ok) {
    throw parseApiError(response.status, response.statusText, text);
  }
  if (!text) {
    return undefined as T;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, 'invalid_response', 'The server sent a response that is not JSON.');
  }
}

function splitQuery(endPoint: string): [string, string] {
  const at = endPoint.indexOf('?');
  return at === -1 ? [endPoint, ''] : [endPoint.slice(0, at), endPoint.slice(at)];
}

function projectPath(slug: string): string {
  return `projects/${encodeURIComponent(slug)}`;
}

function page(limit: number, offset: number): string {
  return new URLSearchParams({ limit: String(limit), offset: String(offset) }).toString();
}

/** Who the caller is, whether they are a platform admin, and their projects. */
export function whoami(): Promise<WhoAmI> {
  return requestAPI<WhoAmI>('whoami');
}

/** One page of the projects the caller can see, each with the caller's effective role. */
export function listProjects(limit = 50, offset = 0): Promise<ProjectPage> {
  return requestAPI<ProjectPage>(`projects?${page(limit, offset)}`);
}

/** Create a project (platform admins only). */
export function createProject(body: ProjectCreate): Promise<Project> {
  return requestAPI<Project>('projects', { method: 'POST', body: JSON.stringify(body) });
}

/** One project; a 404 when it does not exist or the caller is not a member. */
export function getProject(slug: string): Promise<Project> {
  return requestAPI<Project>(projectPath(slug));
}

/** One page of a project's members. */
export function listMembers(slug: string, limit = 50, offset = 0): Promise<MemberPage> {
  return requestAPI<MemberPage>(`${projectPath(slug)}/members?${page(limit, offset)}`);
}

/** Add a member, or change an existing member's role. */
export function setMember(slug: string, user: string, role: Role): Promise<Member> {
  return requestAPI<Member>(`${projectPath(slug)}/members/${encodeURIComponent(user)}`, {
    method: 'PUT',
    body: JSON.stringify({ role })
  });
}

/** Remove a member from a project. */
export async function removeMember(slug: string, user: string): Promise<void> {
  await requestAPI<void>(`${projectPath(slug)}/members/${encodeURIComponent(user)}`, {
    method: 'DELETE'
  });
}

/** Fetch every project the caller can see, page by page. */
export async function listAllProjects(pageSize = 50): Promise<Project[]> {
  const projects: Project[] = [];
  for (;;) {
    const result = await listProjects(pageSize, projects.length);
    projects.push(...result.items);
    if (result.items.length === 0 || projects.length >= result.total) {
      return projects;
    }
  }
}

// Fails to compile when the backend's roles drift from the panel's ROLES list.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const rolesMatch: Same<Role, PanelRole> = true;
void rolesMatch;
