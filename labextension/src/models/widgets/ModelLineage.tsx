import React, { useEffect, useMemo, useState } from 'react';

import { getModelLineage, LineageGraph, LineageNode } from '../../common/api';
import { formatApiError } from '../../common/errors';
import { layoutLineage, lineageDetailLine } from '../modelsLineage';
import { fitLabel } from '../../pipelines/stageGraph';
import type { IModelsActions } from '../actions';

/** Characters that fit on a line of a box of the default width. */
const LABEL_CHARS = 22;

let nextLineageId = 0;

function nodeTitle(node: LineageNode): string {
  const detail = Object.entries(node.detail ?? {})
    .filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('\n');
  return detail ? `${node.label}\n${detail}` : node.label;
}

/**
 * Where a version came from, left to right: data snapshots, pipeline, runs, the version, deployments.
 * Reloaded in place when `reloadToken` changes (its aliases may have moved); key it by version.
 */
export function ModelLineage({
  slug,
  name,
  version,
  reloadToken,
  actions
}: {
  slug: string;
  name: string;
  version: number;
  reloadToken: number;
  actions: IModelsActions;
}): JSX.Element {
  const [graph, setGraph] = useState<LineageGraph | null>(null);
  const [error, setError] = useState<string | null>(null);
  const markerId = useMemo(() => `jp-mlp-lineage-arrow-${++nextLineageId}`, []);

  useEffect(() => {
    let live = true;
    getModelLineage(slug, name, version)
      .then(found => {
        if (live) {
          setGraph(found);
          setError(null);
        }
      })
      .catch(err => live && setError(formatApiError(err)));
    return () => {
      live = false;
    };
  }, [slug, name, version, reloadToken]);

  const layout = useMemo(() => (graph ? layoutLineage(graph.nodes, graph.edges) : null), [graph]);

  const open = (node: LineageNode) => {
    const runId = node.detail?.run_id;
    if (node.kind === 'mlflow_run' && typeof runId === 'string') {
      actions.openMlflowRun(runId);
    }
  };

  return (
    <section className="jp-mlp-model-lineage" data-testid="mlp-lineage" data-version={version}>
      <h4 className="jp-mlp-heading">Lineage of v{version}</h4>
      {error && (
        <div className="jp-mlp-error" role="alert">
          {error}
        </div>
      )}
      {!graph && !error && <div className="jp-mlp-loading">Loading…</div>}
      {layout && layout.boxes.length === 0 && <p className="jp-mlp-hint">No lineage was recorded.</p>}
      {layout && layout.boxes.length > 0 && (
        <div className="jp-mlp-lineage-scroll">
          <svg
            className="jp-mlp-lineage-graph"
            role="img"
            aria-label={`Lineage of ${name} v${version}`}
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
                <path d="M 0 0 L 10 5 L 0 10 z" className="jp-mlp-lineage-arrowhead" />
              </marker>
            </defs>
            {layout.columns.map(column => (
              <text
                key={column.kind}
                className="jp-mlp-lineage-column"
                x={column.x + column.width / 2}
                y={14}
                textAnchor="middle"
              >
                {column.label}
              </text>
            ))}
            {layout.arrows.map(arrow => (
              <path
                key={`${arrow.source}->${arrow.target}`}
                className={`jp-mlp-lineage-edge${arrow.backwards ? ' jp-mod-backwards' : ''}`}
                d={arrow.path}
                markerEnd={`url(#${markerId})`}
              />
            ))}
            {layout.boxes.map(box => {
              const detail = lineageDetailLine(box.node.kind, box.node.detail);
              const clickable = box.node.kind === 'mlflow_run';
              const classes = `jp-mlp-lineage-node jp-mlp-lineage-${box.kind}`;
              return (
                <g
                  key={box.node.id}
                  className={clickable ? `${classes} jp-mod-clickable` : classes}
                  data-node={box.node.id}
                  data-kind={box.node.kind}
                  onClick={clickable ? () => open(box.node) : undefined}
                >
                  <title>{nodeTitle(box.node)}</title>
                  <rect x={box.x} y={box.y} width={box.width} height={box.height} rx={4} ry={4} />
                  <text x={box.x + 8} y={box.y + (detail ? 17 : box.height / 2 + 4)}>
                    {fitLabel(box.node.label, LABEL_CHARS)}
                  </text>
                  {detail && (
                    <text className="jp-mlp-lineage-detail" x={box.x + 8} y={box.y + 34}>
                      {fitLabel(detail, LABEL_CHARS + 4)}
                    </text>
                  )}
                </g>
              );
            })}
          </svg>
        </div>
      )}
    </section>
  );
}
