/**
 * Layout of a pipeline's stage graph: boxes top to bottom by dependency depth, arrows from a stage to
 * the stages that depend on it.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */

/** What the layout needs of a stage. */
export interface IStageLike {
  name: string;
  depends_on: readonly string[];
}

/** Sizes of the layout, in SVG user units. */
export interface IStageGraphOptions {
  boxWidth: number;
  boxHeight: number;
  /** Horizontal space between boxes of one row. */
  gapX: number;
  /** Vertical space between rows (room for the arrows). */
  gapY: number;
  /** Space around the whole graph. */
  margin: number;
}

export const DEFAULT_GRAPH_OPTIONS: IStageGraphOptions = {
  boxWidth: 140,
  boxHeight: 32,
  gapX: 20,
  gapY: 36,
  margin: 8
};

/** A stage's box. */
export interface IStageNode {
  name: string;
  depth: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** An arrow from the bottom of the stage depended on to the top of the dependent stage. */
export interface IStageEdge {
  from: string;
  to: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface IStageGraphLayout {
  width: number;
  height: number;
  nodes: IStageNode[];
  edges: IStageEdge[];
}

/**
 * Each stage's depth: 0 without dependencies, else one more than its deepest dependency.
 *
 * Dependencies on unknown stages are ignored; a dependency that closes a cycle is ignored too, so a
 * malformed graph still lays out (preflight reports the cycle itself).
 */
export function stageDepths(stages: readonly IStageLike[]): Map<string, number> {
  const byName = new Map(stages.map(s => [s.name, s]));
  const depths = new Map<string, number>();
  const visiting = new Set<string>();

  const depthOf = (name: string): number => {
    const known = depths.get(name);
    if (known !== undefined) {
      return known;
    }
    visiting.add(name);
    let depth = 0;
    for (const dep of byName.get(name)?.depends_on ?? []) {
      if (byName.has(dep) && !visiting.has(dep)) {
        depth = Math.max(depth, depthOf(dep) + 1);
      }
    }
    visiting.delete(name);
    depths.set(name, depth);
    return depth;
  };

  for (const stage of stages) {
    depthOf(stage.name);
  }
  return depths;
}

/** Lay the stages out in rows by depth, each row centred, stages in notebook order within a row. */
export function layoutStageGraph(
  stages: readonly IStageLike[],
  options: Partial<IStageGraphOptions> = {}
): IStageGraphLayout {
  const o = { ...DEFAULT_GRAPH_OPTIONS, ...options };
  const unique = stages.filter((s, i) => stages.findIndex(t => t.name === s.name) === i);
  const depths = stageDepths(unique);

  const rows: string[][] = [];
  for (const stage of unique) {
    const depth = depths.get(stage.name) ?? 0;
    (rows[depth] ??= []).push(stage.name);
  }
  const filled = rows.filter(row => row && row.length > 0);
  const widest = Math.max(0, ...filled.map(row => row.length));
  const rowWidth = (n: number) => n * o.boxWidth + Math.max(0, n - 1) * o.gapX;
  const width = widest === 0 ? 0 : rowWidth(widest) + 2 * o.margin;
  const height =
    filled.length === 0 ? 0 : filled.length * o.boxHeight + (filled.length - 1) * o.gapY + 2 * o.margin;

  const nodes: IStageNode[] = [];
  const at = new Map<string, IStageNode>();
  filled.forEach((row, level) => {
    const left = o.margin + (rowWidth(widest) - rowWidth(row.length)) / 2;
    row.forEach((name, i) => {
      const node: IStageNode = {
        name,
        depth: depths.get(name) ?? 0,
        x: left + i * (o.boxWidth + o.gapX),
        y: o.margin + level * (o.boxHeight + o.gapY),
        width: o.boxWidth,
        height: o.boxHeight
      };
      nodes.push(node);
      at.set(name, node);
    });
  });

  const edges: IStageEdge[] = [];
  for (const stage of unique) {
    const to = at.get(stage.name)!;
    for (const dep of new Set(stage.depends_on)) {
      const from = at.get(dep);
      // Only arrows that point down: unknown stages and cycle-closing dependencies have none.
      if (!from || from.y >= to.y) {
        continue;
      }
      edges.push({
        from: dep,
        to: stage.name,
        x1: from.x + from.width / 2,
        y1: from.y + from.height,
        x2: to.x + to.width / 2,
        y2: to.y
      });
    }
  }
  return { width, height, nodes, edges };
}

/** A label that fits `maxChars`, with an ellipsis when cut. */
export function fitLabel(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, Math.max(1, maxChars - 1))}…`;
}
