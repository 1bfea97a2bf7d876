/**
 * The panels' stylesheet, a chunk of its own fetched with the first panel or dialog (see lazy.ts). Imported only
 * dynamically, by `loadPanelStyles`. `jupyter-mlp-style` is webpack.config.js's alias of labextension/style (the
 * same path from labextension/src and from the compiled lib/).
 */
import 'jupyter-mlp-style/panels.css';
