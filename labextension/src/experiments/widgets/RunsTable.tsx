import React, { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';

import { ApiError, countRuns, listRuns, RunSummary } from '../../common/api';
import { formatMetric, formatTimestamp } from '../../common/runFormat';
import { IRunColumn, ISortState, RUNS_PAGE_SIZE } from '../runsQuery';
import { IRowWindow, PageCache, pagesFor, visibleWindow } from '../runsWindow';
import { IRunsTotal, RunsTotal } from '../runsTotal';

/** Every row's height in pixels; the virtual window depends on it being fixed. */
export const ROW_HEIGHT = 28;

export interface IRunsTableProps {
  slug: string;
  filter: string;
  orderBy: string;
  sort: ISortState;
  columns: IRunColumn[];
  selected: ReadonlySet<string>;
  activeRunId: string | null;
  /** Bumped to re-fetch the visible rows (new runs were logged). */
  refreshToken: number;
  onSort: (column: string) => void;
  onToggleSelected: (runId: string) => void;
  onOpenRun: (runId: string) => void;
  /** The runs matching (null while unknown): exact, or the server's estimate until the exact count arrives. */
  onTotal: (total: IRunsTotal | null) => void;
  /** The server refused the filter (400/422): the message, in words. */
  onFilterError: (error: ApiError) => void;
  onError: (error: unknown) => void;
}

function cellText(run: RunSummary, column: IRunColumn): string {
  switch (column.kind) {
    case 'attribute':
      if (column.key === 'start_time') {
        return formatTimestamp(run.start_time);
      }
      return String((run as unknown as Record<string, unknown>)[column.key] ?? '');
    case 'metric':
      return formatMetric(run.metrics?.[column.key]);
    case 'param':
      return run.params?.[column.key] ?? '';
    case 'tag':
      return run.tags?.[column.key] ?? '';
  }
}

function columnWidth(column: IRunColumn): string {
  if (column.kind !== 'attribute') {
    return '110px';
  }
  return (
    { run_name: '200px', status: '90px', user: '110px', start_time: '165px' }[column.key] ?? '110px'
  );
}

/**
 * The runs of a project, fetched page by page from the server as the user scrolls; only the rows in
 * view (plus a margin) are in the DOM.
 */
export function RunsTable(props: IRunsTableProps): JSX.Element {
  const { slug, filter, orderBy, columns, refreshToken, onTotal, onFilterError, onError } = props;
  const cache = useRef(new PageCache<RunSummary>(RUNS_PAGE_SIZE));
  const generation = useRef(0);
  const scroller = useRef<HTMLDivElement>(null);
  const [total, setTotal] = useState<number | null>(null);
  const totals = useRef<RunsTotal | null>(null);
  const [window, setWindow] = useState<IRowWindow>({ start: 0, end: 0 });
  const [, setVersion] = useState(0);

  const fetchPage = useCallback(
    async (page: number, gen: number) => {
      cache.current.markLoading(page);
      try {
        const result = await listRuns(slug, {
          filter,
          orderBy,
          limit: RUNS_PAGE_SIZE,
          offset: page * RUNS_PAGE_SIZE
        });
        if (gen !== generation.current) {
          return;
        }
        cache.current.set(page, result.items);
        totals.current?.page(result.total, result.total_exact ?? true);
        setVersion(v => v + 1);
      } catch (err) {
        if (gen !== generation.current) {
          return;
        }
        cache.current.unmarkLoading(page);
        if (err instanceof ApiError && (err.status === 400 || err.status === 422) && filter) {
          setTotal(0);
          onTotal(null);
          onFilterError(err);
        } else {
          onError(err);
        }
      }
    },
    [slug, filter, orderBy, onTotal, onFilterError, onError]
  );

  const measure = useCallback((count: number | null) => {
    const node = scroller.current;
    if (!node || count === null) {
      return;
    }
    // The header row scrolls with the body, so it takes one row of the viewport.
    setWindow(visibleWindow(node.scrollTop, node.clientHeight - ROW_HEIGHT, ROW_HEIGHT, count));
  }, []);

  // A new query: forget every page and start from the top.
  useEffect(() => {
    generation.current++;
    cache.current.clear();
    setTotal(null);
    onTotal(null);
    totals.current?.stop();
    // A page may answer with an estimate of its total (many runs on PostgreSQL): the exact count is asked once.
    totals.current = new RunsTotal(
      () => countRuns(slug, filter),
      found => {
        setTotal(found.count);
        onTotal(found);
      }
    );
    if (scroller.current) {
      scroller.current.scrollTop = 0;
    }
    void fetchPage(0, generation.current);
  }, [fetchPage]);

  // Fetch the pages the window needs.
  useEffect(() => {
    for (const page of cache.current.missing(window)) {
      void fetchPage(page, generation.current);
    }
  }, [window, fetchPage]);

  // Runs changed on the server: fetch the visible pages again, drop the rest.
  useEffect(() => {
    if (refreshToken === 0) {
      return;
    }
    // With nothing in view (an empty table), the first page is where new runs appear.
    const pages = pagesFor(
      window.end > window.start ? window : { start: 0, end: 1 },
      RUNS_PAGE_SIZE
    );
    cache.current.invalidateExcept(pages);
    totals.current?.changed();
    for (const page of pages) {
      void fetchPage(page, generation.current);
    }
    // Only a new token triggers this, not scrolling.
  }, [refreshToken]);

  useLayoutEffect(() => {
    measure(total);
    const node = scroller.current;
    if (!node) {
      return;
    }
    const observer = new ResizeObserver(() => measure(total));
    observer.observe(node);
    return () => observer.disconnect();
  }, [total, measure]);

  const template = ['32px', ...columns.map(columnWidth)].join(' ');
  const rows: JSX.Element[] = [];
  for (let index = window.start; index < window.end; index++) {
    const run = cache.current.row(index);
    const top = (index + 1) * ROW_HEIGHT;
    if (!run) {
      rows.push(
        <div
          key={`pending-${index}`}
          className="jp-mlp-run-row jp-mlp-pending"
          style={{ top, gridTemplateColumns: template }}
        >
          <span />
          <span>…</span>
        </div>
      );
      continue;
    }
    const classes = ['jp-mlp-run-row'];
    if (run.run_id === props.activeRunId) {
      classes.push('jp-mod-active');
    }
    if (props.selected.has(run.run_id)) {
      classes.push('jp-mod-selected');
    }
    rows.push(
      <div
        key={run.run_id}
        role="row"
        data-run-id={run.run_id}
        className={classes.join(' ')}
        style={{ top, gridTemplateColumns: template }}
        tabIndex={0}
        onClick={() => props.onOpenRun(run.run_id)}
        onKeyDown={e => {
          if (e.key === 'Enter' && e.target === e.currentTarget) {
            props.onOpenRun(run.run_id);
          }
        }}
      >
        <span role="gridcell" onClick={e => e.stopPropagation()}>
          <input
            type="checkbox"
            aria-label={`Select ${run.run_name || run.run_id} for compare`}
            checked={props.selected.has(run.run_id)}
            onChange={() => props.onToggleSelected(run.run_id)}
          />
        </span>
        {columns.map(column => {
          const text = cellText(run, column);
          return (
            <span
              role="gridcell"
              key={column.id}
              title={text}
              className={
                column.kind === 'attribute' && column.key === 'status'
                  ? `jp-mlp-status jp-mlp-status-${run.status}`
                  : undefined
              }
            >
              {text}
            </span>
          );
        })}
      </div>
    );
  }

  return (
    <div
      ref={scroller}
      className="jp-mlp-runs-scroller"
      data-testid="mlp-runs-table"
      role="grid"
      aria-rowcount={total ?? -1}
      aria-busy={total === null}
      onScroll={() => measure(total)}
    >
      <div className="jp-mlp-runs-canvas" style={{ height: ((total ?? 0) + 1) * ROW_HEIGHT }}>
        <div
          role="row"
          className="jp-mlp-run-row jp-mlp-runs-header"
          style={{ gridTemplateColumns: template }}
        >
          <span />
          {columns.map(column => {
            const sorted = props.sort.column === column.id;
            const arrow = sorted ? (props.sort.direction === 'DESC' ? ' ▼' : ' ▲') : '';
            return (
              <button
                key={column.id}
                role="columnheader"
                aria-sort={
                  sorted ? (props.sort.direction === 'DESC' ? 'descending' : 'ascending') : 'none'
                }
                data-column={column.id}
                className={`jp-mlp-column-header jp-mlp-kind-${column.kind}`}
                title={`Sort by ${column.id}`}
                onClick={() => props.onSort(column.id)}
              >
                {column.label}
                {arrow}
              </button>
            );
          })}
        </div>
        {rows}
        {total === 0 && <div className="jp-mlp-hint jp-mlp-runs-empty">No runs match.</div>}
      </div>
    </div>
  );
}
