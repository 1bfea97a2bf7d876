/** Column policies of a project's datasets: what each role sees of each column (allow, mask, hash, deny). */
import type { Schemas } from '../apiSchemas';
import { api } from '../client';

export type DatasetPolicies = Schemas['DatasetPoliciesOut'];

/** The dataset's columns, each with its policy per role (a role not listed: allow). */
export async function datasetPolicies(slug: string, name: string): Promise<DatasetPolicies> {
  const { data } = await api().GET('/api/projects/{slug}/datasets/{name}/policies', {
    params: { path: { slug, name } }
  });
  return data as DatasetPolicies;
}

/** Set what a role sees of a column (leads and admins; audited); the dataset's policies after the change. */
export async function setDatasetPolicy(
  slug: string,
  name: string,
  body: Schemas['ColumnPolicyRequest']
): Promise<DatasetPolicies> {
  const { data } = await api().PUT('/api/projects/{slug}/datasets/{name}/policies', {
    params: { path: { slug, name } },
    body
  });
  return data as DatasetPolicies;
}
