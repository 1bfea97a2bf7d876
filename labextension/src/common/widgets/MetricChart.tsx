import React, { useEffect, useRef } from 'react';
import uPlot from 'uplot';
// uPlot's own styles travel with it, in the chunks that draw charts (not with JupyterLab's start).
import 'uplot/dist/uPlot.min.css';

import { tickLabels, xRange, yRange } from '../chartScale';

/** One line of a chart. */
export interface IChartSeries {
  label: string;
  values: (number | null)[];
  colour: string;
  /** Dash pattern (e.g. `[6, 4]` for a threshold line); solid when absent. */
  dash?: number[];
}

export interface IMetricChartProps {
  title: string;
  /** The x values (steps, or unix seconds when `time`), shared by every series. */
  xs: number[];
  series: IChartSeries[];
  height?: number;
  /** The x values are unix seconds: the axis shows clock times. */
  time?: boolean;
}

const STEP_INCREMENTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 1e5, 1e6, 1e7];

function themeColour(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/** A line chart of metric values by step (uPlot on a canvas), sized to its container's width. */
export function MetricChart({ title, xs, series, height = 180, time = false }: IMetricChartProps): JSX.Element {
  const holder = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const node = holder.current;
    if (!node) {
      return;
    }
    const text = themeColour('--jp-ui-font-color1', '#333');
    const grid = themeColour('--jp-border-color2', '#ddd');
    const axis = {
      stroke: text,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 }
    };
    // A metric at one step, or flat, gets explicit ranges: uPlot's own would be 0-100 with repeated labels.
    const xr = xRange(xs, time);
    const yr = yRange(series.flatMap(s => s.values));
    const options: uPlot.Options = {
      title,
      width: Math.max(200, node.clientWidth),
      height,
      scales: {
        x: xr ? { time, range: xr } : { time },
        y: yr ? { range: yr } : {}
      },
      // Steps are whole numbers: no ticks between them; no two ticks read the same.
      axes: [
        time ? { ...axis } : { ...axis, label: 'step', incrs: STEP_INCREMENTS, values: (_u, ticks) => tickLabels(ticks) },
        { ...axis, values: (_u, ticks) => tickLabels(ticks) }
      ],
      series: [
        { label: time ? 'time' : 'step' },
        ...series.map(s => ({
          label: s.label,
          stroke: s.colour,
          width: 1.5,
          dash: s.dash,
          spanGaps: true,
          // A sparse line (a few values among gaps) would not show at all without its points.
          points: { show: s.values.filter(v => v !== null).length < 50 }
        }))
      ],
      legend: { show: true, live: true }
    };
    const data = [xs, ...series.map(s => s.values)] as uPlot.AlignedData;
    const plot = new uPlot(options, data, node);
    const observer = new ResizeObserver(() => {
      const width = Math.max(200, node.clientWidth);
      if (width !== plot.width) {
        plot.setSize({ width, height });
      }
    });
    observer.observe(node);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [title, xs, series, height, time]);

  if (xs.length === 0) {
    return (
      <div className="jp-mlp-chart jp-mlp-hint" data-testid="mlp-chart-empty">
        {title}: no values logged.
      </div>
    );
  }
  return <div ref={holder} className="jp-mlp-chart" data-testid="mlp-chart" data-metric={title} />;
}
