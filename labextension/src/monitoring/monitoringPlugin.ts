import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';

import { platformIcon } from '../common/icons';
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
    const tracker = new WidgetTracker<MainAreaWidget<MonitoringPanel>>({ namespace: 'jupyter-mlp-monitoring' });
    const { commands } = app;

    commands.addCommand(OPEN_MONITORING, {
      label: 'Open Monitoring',
      caption: 'Drift, performance, alerts and retraining of the current ML Platform project\'s deployments',
      icon: platformIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            project: { type: 'string', description: 'Make this project current first' },
            deployment: { type: 'string', description: 'The deployment to show' }
          }
        }
      },
      execute: async args => {
        if (typeof args.project === 'string' && args.project && args.project !== project.get()) {
          await project.set(args.project);
        }
        let widget = tracker.currentWidget;
        if (!widget || widget.isDisposed) {
          const content = new MonitoringPanel(project);
          widget = new MainAreaWidget({ content });
          widget.id = 'jupyter-mlp-monitoring';
          widget.title.label = 'Monitoring';
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
      }
    });

    palette?.addItem({ command: OPEN_MONITORING, category: 'ML Platform' });
    void restorer?.restore(tracker, { command: OPEN_MONITORING, name: () => 'monitoring' });
  }
};
