// Merged into @jupyter/builder's configuration (package.json jupyterlab.webpackConfig), development builds and
// production builds alike.
const path = require('path');

module.exports = {
  resolve: {
    alias: {
      // The stylesheets, by one name from labextension/src and lib/ alike (common/panelStyles.ts imports them
      // into a chunk fetched with the first panel).
      'jupyter-mlp-style': path.resolve(__dirname, 'labextension/style')
    }
  },
  // Minified in development builds too (`jlpm build`, the editable install): what JupyterLab fetches at start is
  // then the same size in a checkout as from the wheel (tests/bench/bench_page_load.py asserts it). The source
  // maps still map every line back to labextension/src for the browser's debugger.
  optimization: { minimize: true }
};
