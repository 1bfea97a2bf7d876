import React, { useEffect, useRef, useState } from 'react';

import { IColumnChoice } from '../runsQuery';

export interface IColumnChooserProps {
  /** Every param and metric key the project's runs use. */
  available: IColumnChoice;
  chosen: IColumnChoice;
  onToggle: (kind: 'params' | 'metrics', key: string) => void;
  onReset: () => void;
}

/** A "Columns" button opening checkbox lists of the project's metric and param keys. */
export function ColumnChooser({
  available,
  chosen,
  onToggle,
  onReset
}: IColumnChooserProps): JSX.Element {
  const [open, setOpen] = useState(false);
  const holder = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) {
      return;
    }
    const close = (event: MouseEvent) => {
      if (!holder.current?.contains(event.target as Node)) {
        setOpen(false);
      }
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [open]);

  const count = chosen.metrics.length + chosen.params.length;
  return (
    <div ref={holder} className="jp-mlp-column-chooser" data-testid="mlp-column-chooser">
      <button
        className="jp-mlp-button"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
        title="Choose which metrics and params are columns"
      >
        Columns ({count})
      </button>
      {open && (
        <div className="jp-mlp-popover" role="dialog" aria-label="Choose columns">
          {(['metrics', 'params'] as const).map(kind => (
            <fieldset key={kind} className="jp-mlp-column-list">
              <legend>{kind === 'metrics' ? 'Metrics' : 'Params'}</legend>
              {available[kind].length === 0 && (
                <span className="jp-mlp-hint">None logged yet.</span>
              )}
              {available[kind].map(key => (
                <label key={key} className="jp-mlp-check">
                  <input
                    type="checkbox"
                    data-kind={kind}
                    data-key={key}
                    checked={chosen[kind].includes(key)}
                    onChange={() => onToggle(kind, key)}
                  />
                  <span>{key}</span>
                </label>
              ))}
            </fieldset>
          ))}
          <button className="jp-mlp-button jp-mlp-button-small" onClick={onReset}>
            Reset to defaults
          </button>
        </div>
      )}
    </div>
  );
}
