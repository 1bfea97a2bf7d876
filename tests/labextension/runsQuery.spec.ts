import {
  applyFilter,
  buildOrderBy,
  columnChoiceKey,
  DEFAULT_SORT,
  defaultColumns,
  editFilter,
  EMPTY_FILTER,
  filterFailed,
  IChoiceStorage,
  loadColumnChoice,
  nextSort,
  parseColumnId,
  runsQueryString,
  saveColumnChoice,
  tableColumns,
  toggleColumn
} from '../../labextension/src/experiments/runsQuery';

function memoryStorage(): IChoiceStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: k => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

const available = {
  params: ['alpha', 'beta', 'depth', 'eta', 'gamma', 'lr', 'seed'],
  metrics: ['acc', 'auc', 'f1', 'loss', 'precision', 'recall']
};

describe('order_by', () => {
  it('builds attribute, param and metric sorts', () => {
    expect(buildOrderBy(DEFAULT_SORT)).toBe('start_time DESC');
    expect(buildOrderBy({ column: 'metrics.auc', direction: 'DESC' })).toBe('metrics.auc DESC');
    expect(buildOrderBy({ column: 'params.alpha', direction: 'ASC' })).toBe('params.alpha ASC');
    expect(buildOrderBy({ column: 'run_name', direction: 'ASC' })).toBe('run_name ASC');
  });

  it('quotes keys that are not plain identifiers', () => {
    expect(buildOrderBy({ column: 'metrics.val.loss', direction: 'ASC' })).toBe(
      'metrics.`val.loss` ASC'
    );
    expect(buildOrderBy({ column: 'params.my key', direction: 'DESC' })).toBe(
      'params.`my key` DESC'
    );
  });

  it('refuses unknown columns', () => {
    expect(buildOrderBy({ column: 'drop table', direction: 'ASC' })).toBe('');
    expect(buildOrderBy({ column: 'metrics.', direction: 'ASC' })).toBe('');
    expect(parseColumnId('status')).toEqual({ kind: 'attribute', key: 'status' });
    expect(parseColumnId('tags.team')).toEqual({ kind: 'tag', key: 'team' });
  });

  it('flips direction on the same column and picks a natural one for a new column', () => {
    const byAuc = nextSort(DEFAULT_SORT, 'metrics.auc');
    expect(byAuc).toEqual({ column: 'metrics.auc', direction: 'DESC' });
    expect(nextSort(byAuc, 'metrics.auc')).toEqual({ column: 'metrics.auc', direction: 'ASC' });
    expect(nextSort(byAuc, 'run_name')).toEqual({ column: 'run_name', direction: 'ASC' });
    expect(nextSort(DEFAULT_SORT, 'start_time').direction).toBe('ASC');
  });
});

describe('runs query string', () => {
  it('sends filter, order, paging and repeated experiment ids', () => {
    const query = new URLSearchParams(
      runsQueryString({
        filter: "  params.alpha = '0.5' and metrics.auc > 0.8 ",
        orderBy: 'metrics.auc DESC',
        limit: 100,
        offset: 200,
        experimentIds: ['1', '2']
      })
    );
    expect(query.get('filter')).toBe("params.alpha = '0.5' and metrics.auc > 0.8");
    expect(query.get('order_by')).toBe('metrics.auc DESC');
    expect(query.get('limit')).toBe('100');
    expect(query.get('offset')).toBe('200');
    expect(query.getAll('experiment_id')).toEqual(['1', '2']);
  });

  it('leaves out an empty filter and order', () => {
    const query = new URLSearchParams(runsQueryString({ filter: '   ', limit: 100, offset: 0 }));
    expect(query.has('filter')).toBe(false);
    expect(query.has('order_by')).toBe(false);
  });
});

describe('columns', () => {
  it('defaults to the first five metrics and params', () => {
    expect(defaultColumns(available)).toEqual({
      params: ['alpha', 'beta', 'depth', 'eta', 'gamma'],
      metrics: ['acc', 'auc', 'f1', 'loss', 'precision']
    });
  });

  it('lists attributes, then metrics, then params', () => {
    const ids = tableColumns({ params: ['alpha'], metrics: ['auc'] }).map(c => c.id);
    expect(ids).toEqual([
      'run_name',
      'status',
      'user',
      'start_time',
      'metrics.auc',
      'params.alpha'
    ]);
  });

  it('remembers the choice per project and drops keys that no longer exist', () => {
    const storage = memoryStorage();
    saveColumnChoice(storage, 'churn', { params: ['seed', 'gone'], metrics: ['recall'] });
    expect(storage.data.has(columnChoiceKey('churn'))).toBe(true);
    expect(loadColumnChoice(storage, 'churn', available)).toEqual({
      params: ['seed'],
      metrics: ['recall']
    });
    expect(loadColumnChoice(storage, 'fraud', available)).toEqual(defaultColumns(available));
  });

  it('falls back to the defaults on unreadable storage', () => {
    const storage = memoryStorage();
    storage.data.set(columnChoiceKey('churn'), '{not json');
    expect(loadColumnChoice(storage, 'churn', available)).toEqual(defaultColumns(available));
    storage.data.set(columnChoiceKey('churn'), JSON.stringify({ params: 3 }));
    expect(loadColumnChoice(storage, 'churn', available)).toEqual(defaultColumns(available));
    expect(loadColumnChoice(null, 'churn', available)).toEqual(defaultColumns(available));
  });

  it('toggles a key, keeping the listed order', () => {
    const choice = { params: ['gamma'], metrics: [] };
    expect(toggleColumn(choice, available, 'params', 'alpha').params).toEqual(['alpha', 'gamma']);
    expect(toggleColumn(choice, available, 'params', 'gamma').params).toEqual([]);
  });
});

describe('filter state', () => {
  it('applies on Enter only and keeps the server complaint until the next apply', () => {
    let state = editFilter(EMPTY_FILTER, ' metrics.auc > 0.8 ');
    expect(state.applied).toBe('');
    state = applyFilter(state);
    expect(state.applied).toBe('metrics.auc > 0.8');
    state = filterFailed(state, 'Invalid filter: unknown attribute.');
    expect(state.error).toBe('Invalid filter: unknown attribute.');
    state = editFilter(state, 'metrics.auc > 0.9');
    expect(state.error).not.toBeNull();
    expect(applyFilter(state).error).toBeNull();
  });
});
