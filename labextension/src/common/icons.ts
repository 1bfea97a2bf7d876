import { LabIcon } from '@jupyterlab/ui-components';

/** Three connected nodes: a pipeline. `jp-icon3` lets the theme colour it. */
const platformSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <circle cx="5" cy="6" r="3"/>
    <circle cx="5" cy="18" r="3"/>
    <circle cx="19" cy="12" r="3"/>
    <path d="M7.6 7.3l9 3.9-.8 1.8-9-3.9zM6.8 15.9l9-3.9.8 1.8-9 3.9z"/>
  </g>
</svg>`;

/** The ML Platform icon (sidebar tab, settings editor, commands). */
export const platformIcon = new LabIcon({ name: 'jupyter-mlp:platform', svgstr: platformSvg });
