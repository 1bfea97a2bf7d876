/**
 * Virtual scrolling for the runs table: which rows to draw, which pages they need, and a cache of
 * the pages already fetched.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */

/** Rows `[start, end)` to draw. */
export interface IRowWindow {
  start: number;
  end: number;
}

/**
 * The rows to draw for a scroll position: the visible ones plus `overscan` rows either side.
 *
 * @param scrollTop how far the body is scrolled, in pixels
 * @param viewportHeight the body's visible height, in pixels
 * @param rowHeight every row's fixed height, in pixels
 * @param total how many rows there are
 */
export function visibleWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  total: number,
  overscan = 10
): IRowWindow {
  if (total <= 0 || rowHeight <= 0) {
    return { start: 0, end: 0 };
  }
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const shown = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const start = Math.max(0, Math.min(first - overscan, total - 1));
  const end = Math.min(total, first + shown + overscan);
  return { start, end: Math.max(start, end) };
}

/** The page numbers (0-based) that hold rows `[start, end)`. */
export function pagesFor(window: IRowWindow, pageSize: number): number[] {
  if (window.end <= window.start) {
    return [];
  }
  const first = Math.floor(window.start / pageSize);
  const last = Math.floor((window.end - 1) / pageSize);
  const pages: number[] = [];
  for (let p = first; p <= last; p++) {
    pages.push(p);
  }
  return pages;
}

/**
 * Pages of rows fetched so far, for one query (filter + sort). Make a new cache, or `clear()`
 * this one, when the query changes.
 */
export class PageCache<T> {
  private readonly _pages = new Map<number, T[]>();
  private readonly _loading = new Set<number>();

  constructor(readonly pageSize: number) {}

  /** The row at `index`, or undefined while its page is not fetched. */
  row(index: number): T | undefined {
    return this._pages.get(Math.floor(index / this.pageSize))?.[index % this.pageSize];
  }

  has(page: number): boolean {
    return this._pages.has(page);
  }

  /** Store a fetched page. */
  set(page: number, rows: T[]): void {
    this._pages.set(page, rows);
    this._loading.delete(page);
  }

  /** Mark a page as being fetched, so scrolling does not ask for it twice. */
  markLoading(page: number): void {
    this._loading.add(page);
  }

  /** A fetch failed or was abandoned: allow asking again. */
  unmarkLoading(page: number): void {
    this._loading.delete(page);
  }

  /** Pages of `window` that are neither fetched nor being fetched. */
  missing(window: IRowWindow): number[] {
    return pagesFor(window, this.pageSize).filter(
      p => !this._pages.has(p) && !this._loading.has(p)
    );
  }

  /** Forget everything (the query changed). */
  clear(): void {
    this._pages.clear();
    this._loading.clear();
  }

  /** Forget fetched pages except `keep`, so they are fetched again on demand (the data changed). */
  invalidateExcept(keep: number[]): void {
    for (const page of [...this._pages.keys()]) {
      if (!keep.includes(page)) {
        this._pages.delete(page);
      }
    }
  }

  get size(): number {
    return this._pages.size;
  }
}
