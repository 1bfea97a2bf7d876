import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';

import { platformIcon } from './icons';
import { openLoggedNotebook, openRunNotebook } from './loggedNotebook';
import { ICurrentProject } from './tokens';
import { ExperimentsPanel } from './widgets/ExperimentsPanel';

export const OPEN_EXPERIMENTS = 'jupyter-mlp:open-experiments';

/** The Experiments panel in the main area: runs of the current project, run detail, compare. */
export const experimentsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlp:experiments',
  description: 'The Experiments panel: runs of the current project, run detail and compare.',
  autoStart: true,
  requires: [ICurrentProject],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    project: ICurrentProject,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const tracker = new WidgetTracker<MainAreaWidget<ExperimentsPanel>>({
      namespace: 'jupyter-mlp-experiments'
    });
    const { commands } = app;
    const contents = app.serviceManager.contents;

    app.commands.addCommand(OPEN_EXPERIMENTS, {
      label: 'Open Experiments',
      caption: 'Runs of the current ML Platform project',
      icon: platformIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: { runId: { type: 'string', description: 'A run of the current project to show' } }
        }
      },
      execute: async args => {
        let widget = tracker.currentWidget;
        if (!widget || widget.isDisposed) {
          const content = new ExperimentsPanel(project, {
            openNotebook: run => openRunNotebook(commands, contents, run),
            openLoggedCopy: async (slug, run) => {
              await openLoggedNotebook(commands, contents, slug, run);
            }
          });
          widget = new MainAreaWidget({ content });
          widget.id = 'jupyter-mlp-experiments';
          widget.title.label = 'Experiments';
          widget.title.icon = platformIcon;
          widget.title.closable = true;
          await tracker.add(widget);
        }
        if (!widget.isAttached) {
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
        if (typeof args.runId === 'string' && args.runId) {
          widget.content.showRun(args.runId);
        }
      }
    });

    palette?.addItem({ command: OPEN_EXPERIMENTS, category: 'ML Platform' });
    void restorer?.restore(tracker, { command: OPEN_EXPERIMENTS, name: () => 'experiments' });
  }
};
