/**
 * Projects, members, the caller and the stakeholder dashboard: typed calls through the openapi-fetch client.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type {
  Dashboard,
  EncryptionOut,
  Member,
  MemberPage,
  Project,
  ProjectCreate,
  ProjectOf,
  ProjectPage,
  Role,
  WhoAmI
} from '../apiSchemas';
import { api, data, page, parseJson, send } from '../client';

/** Who the caller is, whether they are a platform admin, and their projects. */
export function whoami(): Promise<WhoAmI> {
  return data(api().GET('/api/whoami'));
}

/** One page of the projects the caller can see, each with the caller's effective role. */
export function listProjects(limit = 50, offset = 0): Promise<ProjectPage> {
  return data(api().GET('/api/projects', { params: { query: page(limit, offset) } }));
}

/** Create a project (platform admins only). */
export function createProject(body: ProjectCreate): Promise<Project> {
  return data(api().POST('/api/projects', { body }));
}

/** One project; a 404 when it does not exist or the caller is not a member. */
export function getProject(slug: string): Promise<Project> {
  return data(api().GET('/api/projects/{slug}', { params: { path: { slug } } }));
}

/** One page of a project's members. */
export function listMembers(slug: string, limit = 50, offset = 0): Promise<MemberPage> {
  return data(api().GET('/api/projects/{slug}/members', { params: { path: { slug }, query: page(limit, offset) } }));
}

/** Add a member, or change an existing member's role. */
export function setMember(slug: string, user: string, role: Role): Promise<Member> {
  return data(api().PUT('/api/projects/{slug}/members/{user}', { params: { path: { slug, user } }, body: { role } }));
}

/** Remove a member from a project. */
export async function removeMember(slug: string, user: string): Promise<void> {
  await data(api().DELETE('/api/projects/{slug}/members/{user}', { params: { path: { slug, user } } }));
}

/** Whether the project's files are encrypted at rest (any member may read it). */
export function getEncryption(slug: string): Promise<EncryptionOut> {
  return data(api().GET('/api/projects/{slug}/encryption', { params: { path: { slug } } }));
}

/** Turn encryption at rest on or off for a project: platform admins only (the backend answers 403 to others). */
export function setEncryption(slug: string, enabled: boolean): Promise<EncryptionOut> {
  return data(api().PUT('/api/projects/{slug}/encryption', { params: { path: { slug } }, body: { enabled } }));
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

/**
 * Which project a notebook (path relative to the Jupyter root) belongs to.
 *
 * Plain `makeRequest`: `/mlp/local/project-of` is the server extension's own route (it reads the notebook's folders),
 * not the backend's, so the backend's OpenAPI document has no type for it.
 */
export async function projectOf(path: string): Promise<ProjectOf> {
  const settings = ServerConnection.makeSettings();
  const url =
    URLExt.join(settings.baseUrl, 'mlp', 'local', 'project-of') +
    '?' +
    new URLSearchParams({ path }).toString();
  return parseJson<ProjectOf>(await send(url, {}));
}

/** The read-only summary of the caller's projects the stakeholder dashboard shows. */
export function getDashboard(): Promise<Dashboard> {
  return data(api().GET('/api/dashboard'));
}
