/** Paging of the panels' tables: which page to show and what the pager says. Pure, for jest. */

/** The offset of the last page of `total` rows (0 when there are none). */
export function lastPageOffset(total: number, pageSize: number): number {
  return total <= 0 ? 0 : Math.floor((total - 1) / pageSize) * pageSize;
}

/** `offset` moved back onto the last page when rows were removed from under it. */
export function clampOffset(offset: number, total: number, pageSize: number): number {
  return Math.min(Math.max(0, offset), lastPageOffset(total, pageSize));
}

/** The pager's text: `21–25 of 25`; '' when there are no rows. */
export function pageRange(offset: number, shown: number, total: number): string {
  return total === 0 || shown === 0 ? '' : `${offset + 1}–${offset + shown} of ${total}`;
}
