import type { RunSummary } from '../../labextension/src/common/api';
import {
  alignHistories,
  compareSelectionProblem,
  differingParams,
  metricRows,
  paramRows,
  runLabel
} from '../../labextension/src/experiments/runCompare';

function run(
  id: string,
  params: Record<string, string>,
  metrics: Record<string, number | null> = {}
): RunSummary {
  return {
    run_id: id,
    run_name: `run-${id}`,
    experiment_id: '1',
    status: 'FINISHED',
    start_time: 0,
    end_time: 1,
    user: 'ada',
    params,
    metrics,
    tags: {}
  };
}

describe('compare', () => {
  const runs = [
    run('a', { alpha: '0.5', depth: '3', seed: '1' }, { auc: 0.8 }),
    run('b', { alpha: '0.5', depth: '4', seed: '1' }, { auc: 0.8 }),
    run('c', { alpha: '0.5', depth: '3' }, { auc: 0.9 })
  ];

  it('needs 2 to 50 runs', () => {
    expect(compareSelectionProblem(1)).toMatch(/at least 2/);
    expect(compareSelectionProblem(2)).toBeNull();
    expect(compareSelectionProblem(50)).toBeNull();
    expect(compareSelectionProblem(51)).toMatch(/at most 50/);
  });

  it('finds params that differ, counting a missing one as different', () => {
    expect(differingParams(runs)).toEqual(['depth', 'seed']);
  });

  it('builds param rows with one value per run', () => {
    const rows = paramRows(runs);
    expect(rows.map(r => [r.key, r.differs])).toEqual([
      ['alpha', false],
      ['depth', true],
      ['seed', true]
    ]);
    expect(rows[2].values).toEqual(['1', '1', null]);
  });

  it('builds metric rows', () => {
    expect(metricRows(runs)).toEqual([{ key: 'auc', values: [0.8, 0.8, 0.9], differs: true }]);
  });

  it('aligns histories on the union of steps, with gaps as null', () => {
    const data = alignHistories(
      {
        a: [
          { step: 0, timestamp: 0, value: 1 },
          { step: 2, timestamp: 0, value: 3 }
        ],
        b: [
          { step: 1, timestamp: 0, value: 5 },
          { step: 2, timestamp: 0, value: NaN }
        ]
      },
      ['a', 'b', 'missing']
    );
    expect(data).toEqual([
      [0, 1, 2],
      [1, null, 3],
      [null, 5, null],
      [null, null, null]
    ]);
  });

  it('labels runs by name, else by id', () => {
    expect(runLabel({ run_id: '0123456789', run_name: '' })).toBe('01234567');
    expect(runLabel({ run_id: 'x', run_name: 'baseline' })).toBe('baseline');
  });
});
