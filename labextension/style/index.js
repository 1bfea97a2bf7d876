// Loaded with JupyterLab: only what is on screen before any panel opens. The panels' styles (panels.css) load
// with the first panel (labextension/src/common/lazy.ts), uPlot's with the chart (common/widgets/MetricChart.tsx).
import './base.css';
