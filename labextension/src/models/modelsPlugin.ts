import { OPEN_DEPLOYMENTS } from '../deployments/deploymentsPlugin';
import { OPEN_EXPERIMENTS } from '../experiments/experimentsPlugin';
import { loadPanelStyles } from '../common/lazy';
import { numberArg, panelPlugin, stringArg } from '../common/panelCommand';

export const OPEN_MODELS = 'jupyter-mlp:open-models';

/** The Models panel in the main area: registered models, versions, gates, approvals, lineage and diff. */
export const modelsPlugin = panelPlugin({
  id: 'jupyter-mlp:models',
  description: 'The Models panel: registered models of the current project, their versions, gates and approvals.',
  command: OPEN_MODELS,
  name: 'models',
  title: 'Models',
  caption: 'Registered models of the current ML Platform project',
  args: {
    model: { type: 'string', description: 'The registered model to select' },
    version: { type: 'number', description: 'With model: single out this version (its row marked, its lineage shown)' }
  },
  create: async ({ commands }, project) => {
    const [{ ModelsPanel }] = await Promise.all([import('./widgets/ModelsPanel'), loadPanelStyles()]);
    return new ModelsPanel(project, {
      openMlflowRun: runId => void commands.execute(OPEN_EXPERIMENTS, { runId }),
      deploy: prefill => void commands.execute(OPEN_DEPLOYMENTS, { ...prefill })
    });
  },
  show: (panel, args) => {
    const model = stringArg(args, 'model');
    if (model) {
      panel.showModel(model, numberArg(args, 'version'));
    }
  }
});
