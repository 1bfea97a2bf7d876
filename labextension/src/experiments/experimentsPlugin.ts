import { ILayoutRestorer, IRouter, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';

import { platformIcon } from '../common/icons';
import { openLoggedNotebook, openRunNotebook } from './loggedNotebook';
import { parseRunLink, RUN_LINK_PATTERN, withoutRunLink } from './runLink';
import { ICurrentProject } from '../common/tokens';
import { ExperimentsPanel } from './widgets/ExperimentsPanel';

export const OPEN_EXPERIMENTS = 'jupyter-mlp:open-experiments';
export const OPEN_RUN_LINK = 'jupyter-mlp:open-run-link';

/** The Experiments panel in the main area: runs of the current project, run detail, compare. */
export const experimentsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlp:experiments',
  description: 'The Experiments panel: runs of the current project, run detail and compare.',
  autoStart: true,
  requires: [ICurrentProject],
  optional: [ICommandPalette, ILayoutRestorer, IRouter],
  activate: (
    app: JupyterFrontEnd,
    project: ICurrentProject,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    router: IRouter | null
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

    // "View run" links MLflow prints arrive as lab?mlp-project=..&mlp-run=.. (see runLink.ts).
    app.commands.addCommand(OPEN_RUN_LINK, {
      label: 'Open a run from an MLflow link',
      execute: async args => {
        const search = typeof args.search === 'string' ? args.search : window.location.search;
        const link = parseRunLink(search);
        if (!link) {
          return;
        }
        if (project.get() !== link.project) {
          await project.set(link.project);
        }
        const url = new URL(window.location.href);
        window.history.replaceState(null, '', url.pathname + withoutRunLink(url.search) + url.hash);
        // The router runs while the layout is restored: open the panel once it is, without holding the router.
        void app.restored.then(() =>
          commands.execute(OPEN_EXPERIMENTS, link.runId ? { runId: link.runId } : {})
        );
      }
    });
    router?.register({ command: OPEN_RUN_LINK, pattern: RUN_LINK_PATTERN, rank: 30 });

    palette?.addItem({ command: OPEN_EXPERIMENTS, category: 'ML Platform' });
    void restorer?.restore(tracker, { command: OPEN_EXPERIMENTS, name: () => 'experiments' });
  }
};
