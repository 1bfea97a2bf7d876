import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';

import { platformIcon } from '../common/icons';
import { OPEN_MONITORING } from '../monitoring/monitoringPlugin';
import { ICurrentProject } from '../common/tokens';
import { DeploymentsPanel } from './widgets/DeploymentsPanel';

export const OPEN_DEPLOYMENTS = 'jupyter-mlp:open-deployments';

/** The Deployments panel in the main area: endpoints, status, versions and traffic, charts, keys and logs. */
export const deploymentsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlp:deployments',
  description: 'The Deployments panel: serving endpoints of the current project, their traffic, keys and logs.',
  autoStart: true,
  requires: [ICurrentProject],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    project: ICurrentProject,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const tracker = new WidgetTracker<MainAreaWidget<DeploymentsPanel>>({ namespace: 'jupyter-mlp-deployments' });
    const { commands } = app;

    commands.addCommand(OPEN_DEPLOYMENTS, {
      label: 'Open Deployments',
      caption: 'Serving endpoints of the current ML Platform project',
      icon: platformIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            project: { type: 'string', description: 'Make this project current first' },
            deployment: { type: 'string', description: 'The deployment to select' },
            model: { type: 'string', description: 'Fill the Deploy form with this registered model' },
            alias: { type: 'string', description: 'With model: deploy this alias (staging or champion)' },
            version: { type: 'number', description: 'With model: deploy this version number' }
          }
        }
      },
      execute: async args => {
        if (typeof args.project === 'string' && args.project && args.project !== project.get()) {
          await project.set(args.project);
        }
        let widget = tracker.currentWidget;
        if (!widget || widget.isDisposed) {
          const content = new DeploymentsPanel(project, deployment => {
            void commands.execute(OPEN_MONITORING, { deployment });
          });
          widget = new MainAreaWidget({ content });
          widget.id = 'jupyter-mlp-deployments';
          widget.title.label = 'Deployments';
          widget.title.icon = platformIcon;
          widget.title.closable = true;
          await tracker.add(widget);
        }
        if (!widget.isAttached) {
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
        if (typeof args.deployment === 'string' && args.deployment) {
          widget.content.showDeployment(args.deployment);
        }
        if (typeof args.model === 'string' && args.model) {
          widget.content.showDeployForm({
            model: args.model,
            alias: typeof args.alias === 'string' ? args.alias : undefined,
            version: typeof args.version === 'number' ? args.version : undefined
          });
        }
      }
    });

    palette?.addItem({ command: OPEN_DEPLOYMENTS, category: 'ML Platform' });
    void restorer?.restore(tracker, { command: OPEN_DEPLOYMENTS, name: () => 'deployments' });
  }
};
