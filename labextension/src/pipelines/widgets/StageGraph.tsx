import React, { useMemo } from 'react';

import type { StageOut } from '../../common/api';
import { statusLabel, statusTone } from '../pipelineRuns';
import { fitLabel, layoutStageGraph } from '../stageGraph';

/** Characters that fit in a box of the default width at the UI font size. */
const LABEL_CHARS = 18;

let nextGraphId = 0;

/** A stage's tooltip: its cells, inputs and outputs. */
function stageTitle(stage: StageOut): string {
  const list = (items: string[]) => (items.length > 0 ? items.join(', ') : '—');
  return (
    `${stage.name}\ncells ${list(stage.cells.map(String))}\n` +
    `inputs ${list(stage.inputs)}\noutputs ${list(stage.outputs)}`
  );
}

/**
 * A pipeline's stages as boxes, top to bottom by dependency depth, with arrows to dependents; with
 * `statuses` (stage name → run status) each box is coloured by its stage's status.
 */
export function StageGraph({
  stages,
  statuses
}: {
  stages: StageOut[];
  statuses?: Record<string, string>;
}): JSX.Element | null {
  const layout = useMemo(() => layoutStageGraph(stages), [stages]);
  // Marker ids are document-wide; two graphs on the page must not share one.
  const markerId = useMemo(() => `jp-mlp-arrow-${++nextGraphId}`, []);
  const byName = useMemo(() => new Map(stages.map(s => [s.name, s])), [stages]);
  if (layout.nodes.length === 0) {
    return null;
  }
  return (
    <svg
      className="jp-mlp-stage-graph"
      data-testid="mlp-stage-graph"
      role="img"
      aria-label={`Stage graph: ${stages.map(s => s.name).join(', ')}`}
      width={layout.width}
      height={layout.height}
      viewBox={`0 0 ${layout.width} ${layout.height}`}
    >
      <defs>
        <marker
          id={markerId}
          viewBox="0 0 10 10"
          refX="10"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto-start-reverse"
        >
          <path d="M 0 0 L 10 5 L 0 10 z" className="jp-mlp-stage-arrowhead" />
        </marker>
      </defs>
      {layout.edges.map(edge => (
        <line
          key={`${edge.from}->${edge.to}`}
          className="jp-mlp-stage-edge"
          data-from={edge.from}
          data-to={edge.to}
          x1={edge.x1}
          y1={edge.y1}
          x2={edge.x2}
          y2={edge.y2}
          markerEnd={`url(#${markerId})`}
        />
      ))}
      {layout.nodes.map(node => {
        const stage = byName.get(node.name);
        const status = statuses?.[node.name];
        const tone = status ? ` jp-mlp-tone-${statusTone(status)}` : '';
        return (
          <g
            key={node.name}
            data-stage={node.name}
            data-status={status}
            className={`jp-mlp-stage-node${tone}`}
          >
            {stage && (
              <title>
                {stageTitle(stage)}
                {status ? `\nstatus ${statusLabel(status)}` : ''}
              </title>
            )}
            <rect x={node.x} y={node.y} width={node.width} height={node.height} rx={4} ry={4} />
            <text
              x={node.x + node.width / 2}
              y={node.y + node.height / 2}
              textAnchor="middle"
              dominantBaseline="central"
            >
              {fitLabel(node.name, LABEL_CHARS)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
