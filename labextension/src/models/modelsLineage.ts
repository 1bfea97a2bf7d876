/**
 * Layout of a model version's lineage: one column per kind, left to right from the data to the
 * deployments, with curved arrows from each node to what was made from it.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */

/** Node kinds in the order things are made: data, pipeline, runs, the model, where it serves. */
export const LINEAGE_KINDS = [
  'dataset',
  'pipeline_version',
  'pipeline_run',
  'mlflow_run',
  'model_version',
  'deployment'
] as const;

export type LineageKind = (typeof LINEAGE_KINDS)[number];

/** Column headings. */
export const KIND_LABELS: Record<LineageKind, string> = {
  dataset: 'Data snapshots',
  pipeline_version: 'Pipeline version',
  pipeline_run: 'Pipeline run',
  mlflow_run: 'MLflow run',
  model_version: 'Model version',
  deployment: 'Deployments'
};

/** What the layout needs of a node and an edge. */
export interface ILineageNodeLike {
  id: string;
  kind: string;
  label: string;
}

export interface ILineageEdgeLike {
  source: string;
  target: string;
}

/** Sizes of the layout, in SVG user units. */
export interface ILineageOptions {
  boxWidth: number;
  boxHeight: number;
  /** Horizontal space between columns (room for the arrows). */
  gapX: number;
  /** Vertical space between boxes of one column. */
  gapY: number;
  /** Room above the boxes for the column headings. */
  headerHeight: number;
  margin: number;
}

export const DEFAULT_LINEAGE_OPTIONS: ILineageOptions = {
  boxWidth: 170,
  boxHeight: 44,
  gapX: 56,
  gapY: 14,
  headerHeight: 22,
  margin: 8
};

export interface ILineageBox<N extends ILineageNodeLike = ILineageNodeLike> {
  node: N;
  kind: LineageKind | 'other';
  column: number;
  row: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ILineageColumn {
  kind: LineageKind | 'other';
  label: string;
  x: number;
  width: number;
}

export interface ILineageArrow {
  source: string;
  target: string;
  /** SVG path data: a curve from the right of the source to the left of the target. */
  path: string;
  /** Whether it runs against the columns' order (drawn, but dashed). */
  backwards: boolean;
}

export interface ILineageLayout<N extends ILineageNodeLike = ILineageNodeLike> {
  width: number;
  height: number;
  columns: ILineageColumn[];
  boxes: ILineageBox<N>[];
  arrows: ILineageArrow[];
}

/** The column of a kind; unknown kinds go last. */
export function kindRank(kind: string): number {
  const i = (LINEAGE_KINDS as readonly string[]).indexOf(kind);
  return i === -1 ? LINEAGE_KINDS.length : i;
}

/** The kinds present in a graph, as the columns they make, in order. */
export function lineageColumns(nodes: readonly ILineageNodeLike[]): (LineageKind | 'other')[] {
  const present = new Set(nodes.map(n => (kindRank(n.kind) < LINEAGE_KINDS.length ? n.kind : 'other')));
  return [...LINEAGE_KINDS, 'other' as const].filter(k => present.has(k)) as (LineageKind | 'other')[];
}

/** A curve from (x1, y1) to (x2, y2), leaving and arriving horizontally. */
export function curvePath(x1: number, y1: number, x2: number, y2: number): string {
  const bend = Math.max(24, Math.abs(x2 - x1) / 2);
  const r = (n: number) => Math.round(n * 10) / 10;
  return `M ${r(x1)} ${r(y1)} C ${r(x1 + bend)} ${r(y1)}, ${r(x2 - bend)} ${r(y2)}, ${r(x2)} ${r(y2)}`;
}

/** A curve below the boxes, for an arrow that goes back against the columns' order. */
function loopPath(x1: number, y1: number, x2: number, y2: number, drop: number): string {
  const r = (n: number) => Math.round(n * 10) / 10;
  const low = Math.max(y1, y2) + Math.max(8, drop);
  return `M ${r(x1)} ${r(y1)} C ${r(x1)} ${r(low)}, ${r(x2)} ${r(low)}, ${r(x2)} ${r(y2)}`;
}

/**
 * Lay the nodes out in one column per kind (only the kinds present), each column centred vertically,
 * nodes in a column by label; arrows between known nodes (duplicates once).
 */
export function layoutLineage<N extends ILineageNodeLike>(
  nodes: readonly N[],
  edges: readonly ILineageEdgeLike[],
  options: Partial<ILineageOptions> = {}
): ILineageLayout<N> {
  const o = { ...DEFAULT_LINEAGE_OPTIONS, ...options };
  const unique = nodes.filter((n, i) => nodes.findIndex(m => m.id === n.id) === i);
  const kinds = lineageColumns(unique);
  const byColumn: N[][] = kinds.map(kind =>
    unique
      .filter(n => (kind === 'other' ? kindRank(n.kind) === LINEAGE_KINDS.length : n.kind === kind))
      .sort((a, b) => a.label.localeCompare(b.label) || a.id.localeCompare(b.id))
  );
  const tallest = Math.max(0, ...byColumn.map(c => c.length));
  const columnHeight = (n: number) => n * o.boxHeight + Math.max(0, n - 1) * o.gapY;
  const width =
    kinds.length === 0 ? 0 : kinds.length * o.boxWidth + (kinds.length - 1) * o.gapX + 2 * o.margin;
  const height = tallest === 0 ? 0 : o.headerHeight + columnHeight(tallest) + 2 * o.margin;

  const columns: ILineageColumn[] = kinds.map((kind, i) => ({
    kind,
    label: kind === 'other' ? 'Other' : KIND_LABELS[kind],
    x: o.margin + i * (o.boxWidth + o.gapX),
    width: o.boxWidth
  }));
  const boxes: ILineageBox<N>[] = [];
  const at = new Map<string, ILineageBox<N>>();
  byColumn.forEach((column, c) => {
    const top = o.margin + o.headerHeight + (columnHeight(tallest) - columnHeight(column.length)) / 2;
    column.forEach((node, row) => {
      const box: ILineageBox<N> = {
        node,
        kind: kinds[c],
        column: c,
        row,
        x: columns[c].x,
        y: top + row * (o.boxHeight + o.gapY),
        width: o.boxWidth,
        height: o.boxHeight
      };
      boxes.push(box);
      at.set(node.id, box);
    });
  });

  const arrows: ILineageArrow[] = [];
  const seen = new Set<string>();
  for (const edge of edges) {
    const from = at.get(edge.source);
    const to = at.get(edge.target);
    const key = `${edge.source}\u0000${edge.target}`;
    if (!from || !to || from === to || seen.has(key)) {
      continue;
    }
    seen.add(key);
    const backwards = from.column >= to.column;
    const path = backwards
      ? loopPath(from.x + from.width / 2, from.y + from.height, to.x + to.width / 2, to.y + to.height, o.gapY)
      : curvePath(from.x + from.width, from.y + from.height / 2, to.x, to.y + to.height / 2);
    arrows.push({ source: edge.source, target: edge.target, path, backwards });
  }
  return { width, height, columns, boxes, arrows };
}

/** A second line for a node's box from its detail: a run id, a snapshot, a signature and aliases. */
export function lineageDetailLine(kind: string, detail: Record<string, unknown> | null | undefined): string {
  const d = detail ?? {};
  const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  switch (kind) {
    case 'model_version': {
      const aliases = Array.isArray(d.aliases) ? d.aliases.map(String) : [];
      const signed = d.signed === true ? 'signed' : d.signed === false ? 'unsigned' : '';
      return [signed, ...aliases].filter(Boolean).join(' · ');
    }
    case 'mlflow_run':
    case 'pipeline_run':
      return str(d.run_id);
    case 'pipeline_version':
      return str(d.version);
    case 'dataset':
      return d.snapshot_id !== undefined && d.snapshot_id !== null
        ? `snapshot ${str(d.snapshot_id)}`
        : str(d.sha256).slice(0, 16);
    default:
      return '';
  }
}
