/**
 * Suggestions: model families, search spaces, preprocessing and warm starts for a dataset snapshot and a target.
 * The snapshot id is 64-bit: it is written as an exact number and read back as a string of digits.
 */
import type { Schemas } from '../apiSchemas';
import { api, notJson } from '../client';
import { batchBody, quoteSnapshotIds } from '../snapshotIds';

export type Suggestion = Omit<Schemas['SuggestionOut'], 'snapshot_id'> & { snapshot_id?: string | null };
export type FamilySuggestion = Schemas['FamilySuggestion'];
export type SuggestionEvidence = Schemas['Evidence'];

/** Ask for a suggestion for one of the project's datasets (its snapshot, or the current one) and a target. */
export async function suggest(
  slug: string,
  dataset: string,
  target: string,
  snapshotId?: string
): Promise<Suggestion> {
  const { data: text, response } = await api().POST('/api/projects/{slug}/suggest', {
    params: { path: { slug } },
    body: { dataset, target },
    bodySerializer: checked => batchBody({ ...checked, snapshot_id: snapshotId }),
    parseAs: 'text'
  });
  try {
    return JSON.parse(quoteSnapshotIds(text ?? '')) as Suggestion;
  } catch {
    throw notJson(response.status);
  }
}
