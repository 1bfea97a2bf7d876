import { loadPanelStyles } from '../common/lazy';
import { numberArg, panelPlugin, stringArg } from '../common/panelCommand';
import { OPEN_MONITORING } from '../monitoring/monitoringPlugin';

export const OPEN_DEPLOYMENTS = 'jupyter-mlp:open-deployments';

/** The Deployments panel in the main area: endpoints, status, versions and traffic, charts, keys and logs. */
export const deploymentsPlugin = panelPlugin({
  id: 'jupyter-mlp:deployments',
  description: 'The Deployments panel: serving endpoints of the current project, their traffic, keys and logs.',
  command: OPEN_DEPLOYMENTS,
  name: 'deployments',
  title: 'Deployments',
  caption: 'Serving endpoints of the current ML Platform project',
  args: {
    deployment: { type: 'string', description: 'The deployment to select' },
    model: { type: 'string', description: 'Fill the Deploy form with this registered model' },
    alias: { type: 'string', description: 'With model: deploy this alias (staging or champion)' },
    version: { type: 'number', description: 'With model: deploy this version number' }
  },
  create: async (app, project) => {
    const [{ DeploymentsPanel }] = await Promise.all([import('./widgets/DeploymentsPanel'), loadPanelStyles()]);
    return new DeploymentsPanel(project, deployment => {
      void app.commands.execute(OPEN_MONITORING, { deployment });
    });
  },
  show: (panel, args) => {
    const deployment = stringArg(args, 'deployment');
    if (deployment) {
      panel.showDeployment(deployment);
    }
    const model = stringArg(args, 'model');
    if (model) {
      panel.showDeployForm({
        model,
        alias: typeof args.alias === 'string' ? args.alias : undefined,
        version: numberArg(args, 'version')
      });
    }
  }
});
