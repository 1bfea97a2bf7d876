import React, { useEffect, useMemo, useRef, useState } from 'react';

import { fetchWindowReport, MonitorOut, MonitorWindowPage } from '../../common/api';
import { formatApiError } from '../../common/errors';
import { columnLabel, heatColour, heatmap, IHeatColumn, profileFeatures } from '../drift';
import { chipClass, driftStatusWords } from '../monitoring';
import { formatTimestamp } from '../../common/runFormat';

/** A window to open, as a command asked for it (a new object each time it is asked for). */
export interface IWindowFocus {
  window: number;
}

/**
 * Drift per feature and window: rows are features, columns windows (oldest left, newest right), each cell coloured
 * by how far its test statistic is towards its threshold. Clicking a column opens that window's Evidently report.
 */
export function DriftHeatmap({
  slug,
  name,
  monitor,
  page,
  offset,
  onOlder,
  onNewer,
  focus = null
}: {
  slug: string;
  name: string;
  monitor: MonitorOut;
  page: MonitorWindowPage | null;
  offset: number;
  onOlder: () => void;
  onNewer: () => void;
  /** Open this window's report once it is among the columns shown (the newest page; older ones are not searched). */
  focus?: IWindowFocus | null;
}): JSX.Element {
  const [selected, setSelected] = useState<IHeatColumn | null>(null);
  const order = useMemo(() => profileFeatures(monitor), [monitor]);
  const map = useMemo(() => (page ? heatmap(page.items, order) : null), [page, order]);
  const focused = useRef<IWindowFocus | null>(null);
  useEffect(() => {
    const column = focus && focused.current !== focus ? map?.columns.find(c => c.id === focus.window) : undefined;
    if (column) {
      focused.current = focus;
      setSelected(column);
    }
  }, [focus, map]);
  const manyVersions = !!map && new Set(map.columns.map(c => c.version)).size > 1;

  const total = page?.total ?? 0;
  const shown = page?.items.length ?? 0;
  const first = total - offset - shown + 1; // window numbers counted from the oldest, for the pager
  return (
    <section className="jp-mlp-monitor-drift" data-testid="drift-heatmap" data-windows={total}>
      <div className="jp-mlp-diff-header">
        <h4 className="jp-mlp-heading">Drift per feature</h4>
        <Legend />
      </div>
      {!page && <div className="jp-mlp-loading">Loading…</div>}
      {page && total === 0 && (
        <p className="jp-mlp-hint" data-testid="drift-heatmap-empty">
          No full window yet: {monitor.pending_rows} of {monitor.window_size} predictions so far. Each full window is
          compared with the training data.
        </p>
      )}
      {map && map.columns.length > 0 && (
        <>
          <div className="jp-mlp-heatmap-scroll">
            <table className="jp-mlp-heatmap" aria-label="Drift per feature and window">
              <thead>
                <tr>
                  <th className="jp-mlp-heat-feature">feature \ window</th>
                  {map.columns.map(c => {
                    const words = driftStatusWords(c.status);
                    return (
                      <th
                        key={c.id}
                        className={`jp-mlp-heat-col${selected?.id === c.id ? ' jp-mod-selected' : ''}`}
                        data-testid={`heat-col-${c.seq}`}
                        data-window-id={c.id}
                        data-status={c.status}
                      >
                        <button
                          className="jp-mlp-heat-colbutton"
                          title={`Window ${c.seq} (v${c.version}): ${c.rows} predictions, ${formatTimestamp(
                            c.start ? Date.parse(c.start) : null
                          )} – ${formatTimestamp(c.end ? Date.parse(c.end) : null)}. ${words.label}${
                            c.drift.message ? `: ${c.drift.message}` : ''
                          }. Click for the Evidently report.`}
                          aria-pressed={selected?.id === c.id}
                          onClick={() => setSelected(selected?.id === c.id ? null : c)}
                        >
                          {columnLabel(c, manyVersions)}
                          <span className={`jp-mlp-heat-dot jp-mlp-tone-${words.tone}`} aria-hidden="true" />
                        </button>
                      </th>
                    );
                  })}
                </tr>
              </thead>
              <tbody>
                {map.features.map((feature, row) => (
                  <tr key={feature}>
                    <th className="jp-mlp-heat-feature" title={feature}>
                      {feature}
                    </th>
                    {map.cells[row].map((cell, col) => {
                      const c = map.columns[col];
                      return (
                        <td
                          key={c.id}
                          className={[
                            'jp-mlp-heat-cell',
                            cell.hatched ? 'jp-mlp-heat-hatched' : '',
                            cell.status === 'drift' ? 'jp-mlp-heat-drift' : '',
                            selected?.id === c.id ? 'jp-mod-selected' : ''
                          ]
                            .filter(Boolean)
                            .join(' ')}
                          data-testid={`heat-${feature}-${c.seq}`}
                          data-status={cell.status}
                          data-window-id={c.id}
                          data-ratio={cell.ratio === null ? undefined : cell.ratio.toFixed(3)}
                          style={{ backgroundColor: cell.colour }}
                          title={cell.title}
                          onClick={() => setSelected(c)}
                        >
                          {cell.status === 'drift' ? '▲' : cell.status === 'schema changed' ? '≠' : ''}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="jp-mlp-pager">
            <span>
              windows {Math.max(1, first)}–{total - offset} of {total}, oldest left
              {manyVersions ? ' · the columns span versions (v·window)' : ''}
            </span>
            <span className="jp-mlp-actions">
              <button
                className="jp-mlp-button jp-mlp-button-small"
                data-testid="drift-heatmap-older"
                disabled={offset + shown >= total}
                onClick={onOlder}
              >
                ‹ Older
              </button>
              <button
                className="jp-mlp-button jp-mlp-button-small"
                data-testid="drift-heatmap-newer"
                disabled={offset === 0}
                onClick={onNewer}
              >
                Newer ›
              </button>
            </span>
          </div>
        </>
      )}
      {selected && (
        <WindowReport key={selected.id} slug={slug} name={name} column={selected} onClose={() => setSelected(null)} />
      )}
    </section>
  );
}

function Legend(): JSX.Element {
  const swatches: [string, string, string][] = [
    ['far from threshold', heatColour('ok', 0), ''],
    ['near threshold', heatColour('ok', 0.95), ''],
    ['drift', heatColour('drift', 1.5), 'jp-mlp-heat-drift'],
    ['insufficient data / schema changed', heatColour('insufficient data', null), 'jp-mlp-heat-hatched']
  ];
  return (
    <span className="jp-mlp-heat-legend jp-mlp-hint">
      {swatches.map(([label, colour, cls]) => (
        <span key={label} className="jp-mlp-heat-legend-item">
          <span className={`jp-mlp-heat-swatch ${cls}`} style={{ backgroundColor: colour }} aria-hidden="true" />
          {label}
        </span>
      ))}
      <span>KS: p-value vs threshold · PSI: value vs threshold</span>
    </span>
  );
}

/** A window's Evidently report in a sandboxed frame: its scripts run at an opaque origin, away from the platform. */
function WindowReport({
  slug,
  name,
  column,
  onClose
}: {
  slug: string;
  name: string;
  column: IHeatColumn;
  onClose: () => void;
}): JSX.Element {
  const [html, setHtml] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    setHtml(null);
    setError(null);
    fetchWindowReport(slug, name, column.id)
      .then(text => live && setHtml(text))
      .catch(err => live && setError(formatApiError(err)));
    return () => {
      live = false;
    };
  }, [slug, name, column.id]);

  const words = driftStatusWords(column.status);
  return (
    <div className="jp-mlp-window-report" data-testid="window-report-section" data-window-id={column.id}>
      <div className="jp-mlp-diff-header">
        <h4 className="jp-mlp-heading">
          Window {column.seq} (v{column.version}) · {column.rows} predictions
        </h4>
        <span className={chipClass(words.tone)}>{words.label}</span>
        <span className="jp-mlp-hint">Evidently report</span>
        <button className="jp-mlp-button jp-mlp-button-small" aria-label="Close report" onClick={onClose}>
          ×
        </button>
      </div>
      {error && (
        <div className="jp-mlp-error" role="alert">
          {error}
        </div>
      )}
      {!html && !error && (
        <div className="jp-mlp-progress" role="status">
          <span className="jp-mlp-spinner" aria-hidden="true" />
          Building the report (Evidently compares this window with the reference)…
        </div>
      )}
      {html !== null && (
        <iframe
          className="jp-mlp-report-frame"
          data-testid="window-report"
          title={`Evidently report of window ${column.seq}`}
          sandbox="allow-scripts"
          srcDoc={html}
        />
      )}
    </div>
  );
}
