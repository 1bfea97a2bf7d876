/**
 * Iceberg snapshot ids on the wire: 64-bit integers that JSON.parse would round. The API client reads and writes
 * them as exact strings of digits with these two functions.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */

/**
 * Iceberg snapshot ids are 64-bit: JSON.parse would round them. Quote every `snapshot_id` and
 * `current_snapshot_id` in a response body so that they arrive as exact strings of digits.
 */
export function quoteSnapshotIds(json: string): string {
  return json.replace(/("(?:current_)?snapshot_id"\s*:\s*)(-?\d+)(?=\s*[,}\]])/g, '$1"$2"');
}

/** A request body as JSON, with its snapshot id (a string of digits) written as an exact number. */
export function batchBody(request: Record<string, unknown> & { snapshot_id?: string }): string {
  const { snapshot_id, ...rest } = request;
  const json = JSON.stringify(rest);
  if (snapshot_id === undefined || !/^\d+$/.test(snapshot_id)) {
    return json;
  }
  return `${json.slice(0, -1)}${json === '{}' ? '' : ','}"snapshot_id":${snapshot_id}}`;
}
