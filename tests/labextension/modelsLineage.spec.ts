import {
  curvePath,
  DEFAULT_LINEAGE_OPTIONS as O,
  kindRank,
  layoutLineage,
  lineageColumns,
  lineageDetailLine
} from '../../labextension/src/models/modelsLineage';

const node = (id: string, kind: string, label = id) => ({ id, kind, label });

/** The graph the backend returns for a version trained by a pipeline on two pinned snapshots. */
const NODES = [
  node('model:credit/1', 'model_version', 'credit v1'),
  node('mlflow:r1', 'mlflow_run', 'run r1'),
  node('prun:p1', 'pipeline_run', 'pipeline run p1'),
  node('pver:v1', 'pipeline_version', 'pipeline v1'),
  node('data:loans@2', 'dataset', 'loans @ 2'),
  node('data:accounts@7', 'dataset', 'accounts @ 7')
];
const EDGES = [
  { source: 'mlflow:r1', target: 'model:credit/1' },
  { source: 'prun:p1', target: 'mlflow:r1' },
  { source: 'pver:v1', target: 'prun:p1' },
  { source: 'data:loans@2', target: 'prun:p1' },
  { source: 'data:accounts@7', target: 'prun:p1' }
];

describe('columns', () => {
  it('orders kinds from the data to the deployments, unknown kinds last', () => {
    expect(kindRank('dataset')).toBeLessThan(kindRank('mlflow_run'));
    expect(kindRank('deployment')).toBeLessThan(kindRank('something'));
    expect(lineageColumns([node('a', 'model_version'), node('b', 'dataset'), node('c', 'mystery')])).toEqual([
      'dataset',
      'model_version',
      'other'
    ]);
  });
});

describe('layoutLineage', () => {
  const layout = layoutLineage(NODES, EDGES);
  const box = (id: string) => layout.boxes.find(b => b.node.id === id)!;

  it('makes one column per kind present, left to right', () => {
    expect(layout.columns.map(c => c.label)).toEqual([
      'Data snapshots',
      'Pipeline version',
      'Pipeline run',
      'MLflow run',
      'Model version'
    ]);
    expect(box('data:loans@2').column).toBe(0);
    expect(box('model:credit/1').column).toBe(4);
    expect(box('pver:v1').x).toBeLessThan(box('prun:p1').x);
    expect(layout.width).toBe(5 * O.boxWidth + 4 * O.gapX + 2 * O.margin);
    expect(layout.height).toBe(O.headerHeight + 2 * O.boxHeight + O.gapY + 2 * O.margin);
  });

  it('stacks a column by label and centres shorter columns on the tallest', () => {
    const [first, second] = [box('data:accounts@7'), box('data:loans@2')];
    expect([first.row, second.row]).toEqual([0, 1]);
    expect(second.y - first.y).toBe(O.boxHeight + O.gapY);
    const middle = (b: { y: number; height: number }) => b.y + b.height / 2;
    expect(middle(box('mlflow:r1'))).toBeCloseTo((middle(first) + middle(second)) / 2);
  });

  it('draws each arrow once, from the right of the source to the left of the target', () => {
    const twice = layoutLineage(NODES, [...EDGES, EDGES[0], { source: 'ghost', target: 'mlflow:r1' }]);
    expect(twice.arrows).toHaveLength(EDGES.length);
    const arrow = layout.arrows.find(a => a.source === 'mlflow:r1')!;
    const from = box('mlflow:r1');
    const to = box('model:credit/1');
    expect(arrow.backwards).toBe(false);
    expect(arrow.path.startsWith(`M ${from.x + from.width} ${from.y + from.height / 2} C`)).toBe(true);
    expect(arrow.path.endsWith(`${to.x} ${to.y + to.height / 2}`)).toBe(true);
  });

  it('dashes an arrow that runs against the columns and drops self-loops', () => {
    const back = layoutLineage(NODES, [
      { source: 'model:credit/1', target: 'mlflow:r1' },
      { source: 'mlflow:r1', target: 'mlflow:r1' }
    ]);
    expect(back.arrows).toHaveLength(1);
    expect(back.arrows[0].backwards).toBe(true);
  });

  it('keeps a node given twice once, and lays out nothing for no nodes', () => {
    const doubled = layoutLineage([...NODES, NODES[0]], EDGES);
    expect(doubled.boxes).toHaveLength(NODES.length);
    expect(layoutLineage([], [])).toEqual({ width: 0, height: 0, columns: [], boxes: [], arrows: [] });
  });
});

describe('curvePath', () => {
  it('leaves and arrives horizontally', () => {
    expect(curvePath(0, 10, 100, 50)).toBe('M 0 10 C 50 10, 50 50, 100 50');
    expect(curvePath(0, 0, 10, 0)).toBe('M 0 0 C 24 0, -14 0, 10 0');
  });
});

describe('lineageDetailLine', () => {
  it('shows what identifies each kind of node', () => {
    expect(lineageDetailLine('model_version', { signed: true, aliases: ['champion', 'staging'] })).toBe(
      'signed · champion · staging'
    );
    expect(lineageDetailLine('model_version', { signed: false, aliases: [] })).toBe('unsigned');
    expect(lineageDetailLine('mlflow_run', { run_id: 'abc123' })).toBe('abc123');
    expect(lineageDetailLine('dataset', { snapshot_id: 42 })).toBe('snapshot 42');
    expect(lineageDetailLine('dataset', { sha256: 'f'.repeat(64) })).toBe('f'.repeat(16));
    expect(lineageDetailLine('deployment', { anything: 1 })).toBe('');
    expect(lineageDetailLine('mlflow_run', null)).toBe('');
  });
});
