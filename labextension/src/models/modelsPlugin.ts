import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';

import { OPEN_DEPLOYMENTS } from '../deployments/deploymentsPlugin';
import { OPEN_EXPERIMENTS } from '../experiments/experimentsPlugin';
import { platformIcon } from '../common/icons';
import { ICurrentProject } from '../common/tokens';
import { ModelsPanel } from './widgets/ModelsPanel';

export const OPEN_MODELS = 'jupyter-mlp:open-models';

/** The Models panel in the main area: registered models, versions, gates, approvals, lineage and diff. */
export const modelsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlp:models',
  description: 'The Models panel: registered models of the current project, their versions, gates and approvals.',
  autoStart: true,
  requires: [ICurrentProject],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    project: ICurrentProject,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const tracker = new WidgetTracker<MainAreaWidget<ModelsPanel>>({ namespace: 'jupyter-mlp-models' });
    const { commands } = app;

    commands.addCommand(OPEN_MODELS, {
      label: 'Open Models',
      caption: 'Registered models of the current ML Platform project',
      icon: platformIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            project: { type: 'string', description: 'Make this project current first' },
            model: { type: 'string', description: 'The registered model to select' }
          }
        }
      },
      execute: async args => {
        if (typeof args.project === 'string' && args.project && args.project !== project.get()) {
          await project.set(args.project);
        }
        let widget = tracker.currentWidget;
        if (!widget || widget.isDisposed) {
          const content = new ModelsPanel(project, {
            openMlflowRun: runId => void commands.execute(OPEN_EXPERIMENTS, { runId }),
            deploy: prefill => void commands.execute(OPEN_DEPLOYMENTS, { ...prefill })
          });
          widget = new MainAreaWidget({ content });
          widget.id = 'jupyter-mlp-models';
          widget.title.label = 'Models';
          widget.title.icon = platformIcon;
          widget.title.closable = true;
          await tracker.add(widget);
        }
        if (!widget.isAttached) {
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
        if (typeof args.model === 'string' && args.model) {
          widget.content.showModel(args.model);
        }
      }
    });

    palette?.addItem({ command: OPEN_MODELS, category: 'ML Platform' });
    void restorer?.restore(tracker, { command: OPEN_MODELS, name: () => 'models' });
  }
};
