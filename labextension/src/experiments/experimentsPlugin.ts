import { ILayoutRestorer, IRouter, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { loadPanelStyles } from '../common/lazy';
import { addPanelCommand, stringArg } from '../common/panelCommand';
import { parseRunLink, RUN_LINK_PATTERN, withoutRunLink } from './runLink';
import { ICurrentProject } from '../common/tokens';

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
    const { commands } = app;
    const contents = app.serviceManager.contents;

    addPanelCommand(app, { project, palette, restorer }, {
      command: OPEN_EXPERIMENTS,
      name: 'experiments',
      title: 'Experiments',
      caption: 'Runs of the current ML Platform project',
      projectArg: false,
      args: { runId: { type: 'string', description: 'A run of the current project to show' } },
      create: async () => {
        // The panel's code (React views, API client, uPlot) is a chunk fetched when it first opens.
        const [{ ExperimentsPanel }, { openLoggedNotebook, openRunNotebook }] = await Promise.all([
          import('./widgets/ExperimentsPanel'),
          import('./loggedNotebook'),
          loadPanelStyles()
        ]);
        return new ExperimentsPanel(project, {
          openNotebook: run => openRunNotebook(commands, contents, run),
          openLoggedCopy: async (slug, run) => {
            await openLoggedNotebook(commands, contents, slug, run);
          }
        });
      },
      show: (panel, args) => {
        const runId = stringArg(args, 'runId');
        if (runId) {
          panel.showRun(runId);
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
  }
};
