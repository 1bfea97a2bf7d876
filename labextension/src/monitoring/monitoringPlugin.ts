import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { addPanelCommand, stringArg } from '../common/panelCommand';
import { ICurrentProject } from '../common/tokens';
import { MonitoringPanel } from './widgets/MonitoringPanel';

export const OPEN_MONITORING = 'jupyter-mlp:open-monitoring';

/** The Monitoring panel in the main area: drift, performance, alerts, retraining and webhooks per deployment. */
export const monitoringPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlp:monitoring',
  description: 'The Monitoring panel: drift and performance of the current project\'s deployments, alerts and webhooks.',
  autoStart: true,
  requires: [ICurrentProject],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    project: ICurrentProject,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    addPanelCommand(app, { project, palette, restorer }, {
      command: OPEN_MONITORING,
      name: 'monitoring',
      title: 'Monitoring',
      caption: 'Drift, performance, alerts and retraining of the current ML Platform project\'s deployments',
      args: { deployment: { type: 'string', description: 'The deployment to show' } },
      create: () => new MonitoringPanel(project),
      show: (panel, args) => {
        const deployment = stringArg(args, 'deployment');
        if (deployment) {
          panel.showDeployment(deployment);
        }
      }
    });
  }
};
