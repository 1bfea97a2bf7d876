import { loadPanelStyles } from '../common/lazy';
import { numberArg, panelPlugin, stringArg } from '../common/panelCommand';

export const OPEN_MONITORING = 'jupyter-mlp:open-monitoring';

/** The Monitoring panel in the main area: drift, performance, alerts, retraining and webhooks per deployment. */
export const monitoringPlugin = panelPlugin({
  id: 'jupyter-mlp:monitoring',
  description: 'The Monitoring panel: drift and performance of the current project\'s deployments, alerts and webhooks.',
  command: OPEN_MONITORING,
  name: 'monitoring',
  title: 'Monitoring',
  caption: 'Drift, performance, alerts and retraining of the current ML Platform project\'s deployments',
  args: {
    deployment: { type: 'string', description: 'The deployment to show' },
    window: { type: 'number', description: 'With deployment: open this monitor window\'s drift report (its id)' }
  },
  create: async (_app, project) => {
    const [{ MonitoringPanel }] = await Promise.all([import('./widgets/MonitoringPanel'), loadPanelStyles()]);
    return new MonitoringPanel(project);
  },
  show: (panel, args) => {
    const deployment = stringArg(args, 'deployment');
    if (deployment) {
      panel.showDeployment(deployment, numberArg(args, 'window'));
    }
  }
});
