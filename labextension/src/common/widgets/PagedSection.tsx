/**
 * The parts every paged table of the panels draws around its rows, so that a table writes only its columns and rows:
 *
 * - `PagedSection`: the whole section over a `usePagedLoad` result: heading, error, loading line, empty hint, table
 *   and pager. Two kinds: a panel's list (`list`: Refresh and the count in the pager, aria-busy while it loads) and
 *   a table that follows the panel's ticks (a failed reload under rows already shown is a quiet note; a
 *   deployment's events, alerts and retrainings).
 * - `PagedList`: a panel's list of the current project's records that loads itself (the Models, Deployments and
 *   Pipelines lists), with `IProjectListProps`, what such a list is given, and `SelectableRow`, its row.
 * - `PagedTable`: the empty hint and the table alone, for sections that put forms and notes around them.
 * - `PagedError`: a followed table's error: an alert until rows are shown, then a note that the refresh failed.
 * - `IDeploymentTableProps`: the props of a deployment's table that follows the panel's ticks, and
 *   `everyPageFollowed`: the loading of such a table whose every page follows them.
 */
import React from 'react';

import { IPagedLoad, IPagedLoadOptions, usePagedLoad } from '../usePagedLoad';
import { Pager } from './Pager';

/** A table of one deployment that follows the panel's polling. */
export interface IDeploymentTableProps {
  slug: string;
  /** The deployment. */
  name: string;
  /** Goes up every few seconds while the panel is visible: the table reloads (its first page, or every page). */
  tick: number;
  /** Bumped after a change made here: the table reloads. */
  reloadToken: number;
}

/**
 * The loading of a deployment's table whose every page follows the ticks (its rows change anywhere, as alerts
 * resolve and fire): each tick's requests abort the last ones.
 */
export function everyPageFollowed(
  { slug, name, tick, reloadToken }: IDeploymentTableProps,
  pageSize: number
): IPagedLoadOptions {
  return { pageSize, source: `${slug}/${name}`, refresh: `${tick}/${reloadToken}`, cancelStale: true };
}

/** What `PagedTable` draws from. */
export interface IPagedTableProps<T> {
  /** The page loaded (null until the first answer) and where it starts. */
  page: { items: readonly T[] } | null;
  offset: number;
  /** What an empty first page says, and the hint's test id. */
  empty: React.ReactNode;
  emptyTestId?: string;
  /** The table's own class names (it always has `jp-mlp-table`) and test id. */
  className?: string;
  testid?: string;
  /** Whether a load is on its way, said by the table's aria-busy (left out: the table says nothing). */
  busy?: boolean;
  /** The column headings, with a tooltip where one needs it (left out: no header row). */
  columns?: readonly (string | { label: string; title: string })[];
  /** One row of the table, with its key. */
  row: (item: T) => React.ReactNode;
}

function busyAttribute(busy: boolean | undefined): 'true' | 'false' | undefined {
  return busy === undefined ? undefined : busy ? 'true' : 'false';
}

/** The empty hint of a first page without rows, else the table of the page's rows. */
export function PagedTable<T>({
  page,
  offset,
  empty,
  emptyTestId,
  className,
  testid,
  busy,
  columns,
  row
}: IPagedTableProps<T>): JSX.Element {
  const items = page?.items ?? [];
  return (
    <>
      {page && items.length === 0 && offset === 0 && (
        <p className="jp-mlp-hint" data-testid={emptyTestId}>
          {empty}
        </p>
      )}
      {items.length > 0 && (
        <table
          className={className ? `jp-mlp-table ${className}` : 'jp-mlp-table'}
          data-testid={testid}
          aria-busy={busyAttribute(busy)}
        >
          {columns && (
            <thead>
              <tr>
                {columns.map((column, i) =>
                  typeof column === 'string' ? (
                    <th key={i}>{column}</th>
                  ) : (
                    <th key={i} title={column.title}>
                      {column.label}
                    </th>
                  )
                )}
              </tr>
            </thead>
          )}
          <tbody>{items.map(item => row(item))}</tbody>
        </table>
      )}
    </>
  );
}

/**
 * A followed table's error: an alert while no rows are shown; once they are, a quiet note, since the rows stay and
 * the next tick tries again. `what` ('the alerts') words the note; without it the note is the error alone.
 */
export function PagedError({
  error,
  shown,
  role,
  what
}: {
  error: string | null;
  shown: boolean;
  role: 'alert' | 'status';
  what?: string;
}): JSX.Element | null {
  if (!error) {
    return null;
  }
  return (
    <div className={shown ? 'jp-mlp-hint' : 'jp-mlp-error'} role={role}>
      {shown && what ? `Could not refresh ${what} just now (${error}).` : error}
    </div>
  );
}

/** What `PagedSection` draws from besides the table's own props. */
export interface IPagedSectionProps<T> extends Omit<IPagedTableProps<T>, 'page' | 'offset' | 'busy'> {
  /** The table's loading, from `usePagedLoad`. */
  load: IPagedLoad<{ items: readonly T[]; total: number }>;
  /** The section's class names and test id. */
  sectionClassName: string;
  sectionTestId?: string;
  /** The section's heading (left out: none) and its level. */
  title?: string;
  level?: 'h3' | 'h4';
  /** The table's own class names and test id. */
  tableClassName?: string;
  tableTestId?: string;
  /**
   * A panel's list: aria-busy on the section and the table while it loads, and a pager always shown with Refresh,
   * the count (`countTestId`) and 'Loading…' before the first answer; `pageButtons`: its Previous and Next even on
   * a single page. Otherwise a followed table: a loading line, and the error as `PagedError` says (`errorRole`,
   * `errorWhat`).
   */
  list?: boolean;
  countTestId?: string;
  pageButtons?: boolean;
  errorRole?: 'alert' | 'status';
  errorWhat?: string;
  /** The pager's test id, and `newest`: its buttons read Newer/Older. */
  pagerTestId?: string;
  newest?: boolean;
}

/** A section of one paged table: heading, error, loading line, empty hint, the table, the pager. */
export function PagedSection<T>({
  load,
  sectionClassName,
  sectionTestId,
  title,
  level = 'h3',
  tableClassName,
  tableTestId,
  list = false,
  countTestId,
  pageButtons,
  errorRole = 'alert',
  errorWhat,
  pagerTestId,
  newest,
  ...table
}: IPagedSectionProps<T>): JSX.Element {
  const { page, offset, error, busy, reload, pager } = load;
  const Heading = level;
  return (
    <section
      className={sectionClassName}
      data-testid={sectionTestId}
      aria-busy={list ? busyAttribute(busy) : undefined}
    >
      {title && <Heading className="jp-mlp-heading">{title}</Heading>}
      {list ? (
        error && (
          <div className="jp-mlp-error" role="alert">
            {error}
          </div>
        )
      ) : (
        <>
          <PagedError error={error} shown={page !== null} role={errorRole} what={errorWhat} />
          {!page && !error && <div className="jp-mlp-loading">Loading…</div>}
        </>
      )}
      <PagedTable
        {...table}
        page={page}
        offset={offset}
        className={tableClassName}
        testid={tableTestId}
        busy={list ? busy : undefined}
      />
      <Pager
        {...pager}
        onRefresh={list ? reload : undefined}
        loading={list && !page}
        countTestId={countTestId}
        pageButtons={pageButtons}
        testid={pagerTestId}
        newest={newest}
      />
    </section>
  );
}

/** What a panel's list of the current project's records (models, deployments, pipelines) is given. */
export interface IProjectListProps {
  slug: string;
  /** Bumped whenever the list may be stale: it loads again. */
  reloadToken: number;
  /** The name of the record the panel shows, and how a row selects its record. */
  selected: string | null;
  onSelect: (name: string) => void;
}

/** A panel's list section that loads its pages itself: `fetchPage(limit, offset)` as `paging` says. */
export function PagedList<T>({
  fetchPage,
  paging,
  ...section
}: Omit<IPagedSectionProps<T>, 'load' | 'list'> & {
  fetchPage: (limit: number, offset: number) => Promise<{ items: T[]; total: number }>;
  paging: IPagedLoadOptions;
}): JSX.Element {
  return <PagedSection {...section} list load={usePagedLoad(fetchPage, paging)} />;
}

/** A row of a panel's list that selects what it names: marked and aria-selected when it is the selected one. */
export function SelectableRow({
  selected,
  onSelect,
  children,
  ...attributes
}: {
  selected: boolean;
  onSelect: () => void;
  children: React.ReactNode;
} & Omit<React.HTMLAttributes<HTMLTableRowElement>, 'className' | 'onClick' | 'onKeyDown' | 'tabIndex'>): JSX.Element {
  return (
    <tr
      {...attributes}
      className={selected ? 'jp-mod-selected' : undefined}
      aria-selected={selected}
      tabIndex={0}
      onClick={() => onSelect()}
      onKeyDown={e => e.key === 'Enter' && onSelect()}
    >
      {children}
    </tr>
  );
}
