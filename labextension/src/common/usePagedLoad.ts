/**
 * The loading every paged table of the panels shares: one page at an offset, loaded again when what it lists, its
 * offset or a refresh token changes (and on each tick while the first page is shown), moved back onto the last
 * page when rows were removed from under it, and the error of the last try.
 */
import { useCallback, useEffect, useRef, useState } from 'react';

import { formatApiError } from './errors';
import { clampOffset } from './paging';

/** A page as the backend answers it: some rows and how many there are in all. */
export interface IPageOf {
  items: readonly unknown[];
  total: number;
}

/** Where the table stands, as its `Pager` takes it. */
export interface IPagerPosition {
  offset: number;
  shown: number;
  total: number;
  pageSize: number;
  onOffset: (offset: number) => void;
}

/** The state a paged table draws from. */
export interface IPagedLoad<P> {
  /** The page last loaded; null until the first answer. */
  page: P | null;
  offset: number;
  setOffset: (offset: number) => void;
  /** The last try's error (kept until a load succeeds); tables also show their own actions' errors here. */
  error: string | null;
  setError: (error: string | null) => void;
  /** A load is on its way. */
  busy: boolean;
  /** Load the page again (after a change made here). */
  reload: () => void;
  /** The pager's props: `<Pager {...pager} />`. */
  pager: IPagerPosition;
}

export interface IPagedLoadOptions {
  pageSize: number;
  /** What is listed (e.g. `${slug}/${name}`): a new one loads again. */
  source: string;
  /** A token: each change loads again. */
  refresh?: string | number;
  /** A tick: each change loads again while the first page is shown (an older page would shift under the reader). */
  follow?: number;
  /** Drop the answer of a load overtaken by a newer one (its request is aborted). */
  cancelStale?: boolean;
}

/** Load `fetchPage(limit, offset, signal)` as a paged table does. */
export function usePagedLoad<P extends IPageOf>(
  fetchPage: (limit: number, offset: number, signal: AbortSignal) => Promise<P>,
  { pageSize, source, refresh = 0, follow = 0, cancelStale = false }: IPagedLoadOptions
): IPagedLoad<P> {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<P | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [own, setOwn] = useState(0);
  const fetcher = useRef(fetchPage);
  fetcher.current = fetchPage;

  const followed = offset === 0 ? follow : 0;
  useEffect(() => {
    const abort = new AbortController();
    setBusy(true);
    fetcher
      .current(pageSize, offset, abort.signal)
      .then(found => {
        const fixed = clampOffset(offset, found.total, pageSize);
        if (fixed !== offset) {
          setOffset(fixed);
          return;
        }
        setPage(found);
        setError(null);
      })
      .catch(err => {
        if (!abort.signal.aborted) {
          setError(formatApiError(err));
        }
      })
      .finally(() => setBusy(false));
    return cancelStale ? () => abort.abort() : undefined;
  }, [source, offset, pageSize, refresh, followed, own, cancelStale]);

  const reload = useCallback(() => setOwn(n => n + 1), []);
  const pager = { offset, shown: page?.items.length ?? 0, total: page?.total ?? 0, pageSize, onOffset: setOffset };
  return { page, offset, setOffset, error, setError, busy, reload, pager };
}
