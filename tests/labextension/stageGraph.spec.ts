import { fitLabel, layoutStageGraph, stageDepths } from '../../labextension/src/pipelines/stageGraph';

const stage = (name: string, ...depends_on: string[]) => ({ name, depends_on });

describe('stage depths', () => {
  it('puts a stage one below its deepest dependency', () => {
    const depths = stageDepths([
      stage('load'),
      stage('features', 'load'),
      stage('split', 'load'),
      stage('train', 'features', 'split'),
      stage('report', 'load', 'train')
    ]);
    expect(Object.fromEntries(depths)).toEqual({ load: 0, features: 1, split: 1, train: 2, report: 3 });
  });

  it('does not care about notebook order', () => {
    const depths = stageDepths([stage('train', 'load'), stage('load')]);
    expect(depths.get('train')).toBe(1);
    expect(depths.get('load')).toBe(0);
  });

  it('ignores unknown stages and survives cycles', () => {
    expect(stageDepths([stage('a', 'ghost')]).get('a')).toBe(0);
    const cyclic = stageDepths([stage('a', 'b'), stage('b', 'a'), stage('c', 'c')]);
    expect(cyclic.size).toBe(3);
    expect(cyclic.get('c')).toBe(0);
    expect([cyclic.get('a'), cyclic.get('b')].sort()).toEqual([0, 1]);
  });
});

describe('stage graph layout', () => {
  const options = { boxWidth: 100, boxHeight: 20, gapX: 10, gapY: 30, margin: 5 };

  it('lays rows top to bottom, centred, in notebook order', () => {
    const layout = layoutStageGraph(
      [stage('load'), stage('features', 'load'), stage('split', 'load'), stage('train', 'features', 'split')],
      options
    );
    expect(layout.width).toBe(2 * 100 + 10 + 2 * 5);
    expect(layout.height).toBe(3 * 20 + 2 * 30 + 2 * 5);
    const byName = Object.fromEntries(layout.nodes.map(n => [n.name, n]));
    expect(byName.load).toMatchObject({ x: 60, y: 5, depth: 0 });
    expect(byName.features).toMatchObject({ x: 5, y: 55, depth: 1 });
    expect(byName.split).toMatchObject({ x: 115, y: 55, depth: 1 });
    expect(byName.train).toMatchObject({ x: 60, y: 105, depth: 2 });
  });

  it('draws an arrow from the bottom of a dependency to the top of its dependent', () => {
    const layout = layoutStageGraph([stage('load'), stage('train', 'load', 'load', 'ghost')], options);
    expect(layout.edges).toEqual([{ from: 'load', to: 'train', x1: 55, y1: 25, x2: 55, y2: 55 }]);
  });

  it('draws no arrow that would point up, and one box per name', () => {
    const layout = layoutStageGraph([stage('a', 'b'), stage('b', 'a'), stage('a')], options);
    expect(layout.nodes.map(n => n.name).sort()).toEqual(['a', 'b']);
    expect(layout.edges).toHaveLength(1);
    for (const edge of layout.edges) {
      expect(edge.y2).toBeGreaterThan(edge.y1);
    }
  });

  it('is empty without stages', () => {
    expect(layoutStageGraph([])).toEqual({ width: 0, height: 0, nodes: [], edges: [] });
  });
});

describe('fitLabel', () => {
  it('cuts long names with an ellipsis', () => {
    expect(fitLabel('train', 8)).toBe('train');
    expect(fitLabel('feature-engineering', 8)).toBe('feature…');
    expect(fitLabel('feature-engineering', 8)).toHaveLength(8);
  });
});
