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
