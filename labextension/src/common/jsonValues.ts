/**
 * Reading values out of the free-form JSON the backend sends (a window's drift, an event's detail): each answers
 * null (or an empty list) for what is missing or of another type, so a view never shows "undefined".
 */

/** A finite number, else null. */
export function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A string, else null. */
export function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** The strings of a list (other items dropped); [] when it is not a list. */
export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
