/**
 * What the runs table asks the server for: sort order, filter, columns, paging.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */

/** Runs fetched per request while scrolling. */
export const RUNS_PAGE_SIZE = 100;

/** Params and metrics shown by default: the first few of each. */
export const DEFAULT_COLUMNS_PER_KIND = 5;

export type SortDirection = 'ASC' | 'DESC';

/** The column the table is sorted by: a run attribute or `params.<k>` / `metrics.<k>` / `tags.<k>`. */
export interface ISortState {
  column: string;
  direction: SortDirection;
}

/** Newest runs first. */
export const DEFAULT_SORT: ISortState = { column: 'start_time', direction: 'DESC' };

/** Run attributes the server sorts by, as the table's fixed columns. */
export const ATTRIBUTE_COLUMNS = ['run_name', 'status', 'user', 'start_time'] as const;

export type AttributeColumn = (typeof ATTRIBUTE_COLUMNS)[number];

export type ColumnKind = 'attribute' | 'param' | 'metric' | 'tag';

/** One column of the runs table. */
export interface IRunColumn {
  /** The sort attribute: `run_name`, `params.alpha`, `metrics.auc`. */
  id: string;
  kind: ColumnKind;
  /** The key inside params/metrics/tags, or the attribute name. */
  key: string;
  label: string;
}

const ATTRIBUTE_LABELS: Record<AttributeColumn, string> = {
  run_name: 'Run',
  status: 'Status',
  user: 'User',
  start_time: 'Started'
};

const PREFIX: Record<Exclude<ColumnKind, 'attribute'>, string> = {
  param: 'params',
  metric: 'metrics',
  tag: 'tags'
};

/** The param and metric keys the user chose to see. */
export interface IColumnChoice {
  params: string[];
  metrics: string[];
}

/** What the runs endpoint takes. */
export interface IRunsQuery {
  filter?: string;
  orderBy?: string;
  limit: number;
  offset: number;
  experimentIds?: string[];
}

/** Quote a key for MLflow's search syntax when it is not a plain identifier. */
function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : `\`${key.replace(/`/g, '')}\``;
}

/** Split a column id into its kind and key; null when it names nothing sortable. */
export function parseColumnId(id: string): { kind: ColumnKind; key: string } | null {
  if ((ATTRIBUTE_COLUMNS as readonly string[]).includes(id)) {
    return { kind: 'attribute', key: id };
  }
  for (const [kind, prefix] of Object.entries(PREFIX) as [
    Exclude<ColumnKind, 'attribute'>,
    string
  ][]) {
    if (id.startsWith(`${prefix}.`) && id.length > prefix.length + 1) {
      return { kind, key: id.slice(prefix.length + 1) };
    }
  }
  return null;
}

/** The `order_by` value for a sort, e.g. `metrics.auc DESC`; '' for an unknown column. */
export function buildOrderBy(sort: ISortState): string {
  const parsed = parseColumnId(sort.column);
  if (!parsed) {
    return '';
  }
  const name =
    parsed.kind === 'attribute' ? parsed.key : `${PREFIX[parsed.kind]}.${quoteKey(parsed.key)}`;
  return `${name} ${sort.direction}`;
}

/**
 * The sort after clicking a column header: the same column flips direction; a new one starts
 * descending for metrics and times (best/newest first) and ascending otherwise.
 */
export function nextSort(current: ISortState, column: string): ISortState {
  if (current.column === column) {
    return { column, direction: current.direction === 'DESC' ? 'ASC' : 'DESC' };
  }
  const descending = column === 'start_time' || column.startsWith('metrics.');
  return { column, direction: descending ? 'DESC' : 'ASC' };
}

/** The query string for the runs endpoint. */
export function runsQueryString(query: IRunsQuery): string {
  const params = new URLSearchParams();
  if (query.filter?.trim()) {
    params.set('filter', query.filter.trim());
  }
  if (query.orderBy) {
    params.set('order_by', query.orderBy);
  }
  params.set('limit', String(query.limit));
  params.set('offset', String(query.offset));
  for (const id of query.experimentIds ?? []) {
    params.append('experiment_id', id);
  }
  return params.toString();
}

/** The table's columns: the fixed attributes, then the chosen metrics, then the chosen params. */
export function tableColumns(choice: IColumnChoice): IRunColumn[] {
  const attributes = ATTRIBUTE_COLUMNS.map(key => ({
    id: key,
    kind: 'attribute' as const,
    key,
    label: ATTRIBUTE_LABELS[key]
  }));
  const metrics = choice.metrics.map(key => ({
    id: `metrics.${key}`,
    kind: 'metric' as const,
    key,
    label: key
  }));
  const params = choice.params.map(key => ({
    id: `params.${key}`,
    kind: 'param' as const,
    key,
    label: key
  }));
  return [...attributes, ...metrics, ...params];
}

/** The default choice: the first five metrics and the first five params. */
export function defaultColumns(available: IColumnChoice): IColumnChoice {
  return {
    params: available.params.slice(0, DEFAULT_COLUMNS_PER_KIND),
    metrics: available.metrics.slice(0, DEFAULT_COLUMNS_PER_KIND)
  };
}

/** The localStorage key holding a project's column choice. */
export function columnChoiceKey(slug: string): string {
  return `jupyter-mlp:runColumns:${slug}`;
}

/** The minimal Storage surface used, so tests can pass a fake. */
export type IChoiceStorage = Pick<Storage, 'getItem' | 'setItem'>;

function stringList(value: unknown): string[] | null {
  return Array.isArray(value) && value.every(v => typeof v === 'string') ? value : null;
}

/**
 * A project's remembered column choice, keeping only keys that still exist; the defaults when
 * nothing (or nothing readable) is remembered.
 */
export function loadColumnChoice(
  storage: IChoiceStorage | null,
  slug: string,
  available: IColumnChoice
): IColumnChoice {
  let raw: string | null = null;
  try {
    raw = storage?.getItem(columnChoiceKey(slug)) ?? null;
  } catch {
    raw = null;
  }
  if (raw === null) {
    return defaultColumns(available);
  }
  try {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    const params = stringList(parsed.params);
    const metrics = stringList(parsed.metrics);
    if (!params || !metrics) {
      return defaultColumns(available);
    }
    return {
      params: params.filter(k => available.params.includes(k)),
      metrics: metrics.filter(k => available.metrics.includes(k))
    };
  } catch {
    return defaultColumns(available);
  }
}

/** Remember a project's column choice. */
export function saveColumnChoice(
  storage: IChoiceStorage | null,
  slug: string,
  choice: IColumnChoice
): void {
  try {
    storage?.setItem(columnChoiceKey(slug), JSON.stringify(choice));
  } catch {
    // A full or blocked storage only costs the user their column choice.
  }
}

/** Add or remove one key of one kind, keeping the order keys were listed in `available`. */
export function toggleColumn(
  choice: IColumnChoice,
  available: IColumnChoice,
  kind: 'params' | 'metrics',
  key: string
): IColumnChoice {
  const chosen = new Set(choice[kind]);
  if (chosen.has(key)) {
    chosen.delete(key);
  } else {
    chosen.add(key);
  }
  const ordered = available[kind].filter(k => chosen.has(k));
  return { ...choice, [kind]: ordered };
}

/** The filter box: what is typed, what the table shows, and the server's complaint if any. */
export interface IFilterState {
  draft: string;
  applied: string;
  error: string | null;
}

export const EMPTY_FILTER: IFilterState = { draft: '', applied: '', error: null };

/** The user typed; the table keeps showing the applied filter. */
export function editFilter(state: IFilterState, draft: string): IFilterState {
  return { ...state, draft };
}

/** Enter: apply the draft (trimmed) and clear the previous complaint. */
export function applyFilter(state: IFilterState): IFilterState {
  return { draft: state.draft, applied: state.draft.trim(), error: null };
}

/** The server refused the applied filter. */
export function filterFailed(state: IFilterState, message: string): IFilterState {
  return { ...state, error: message };
}
