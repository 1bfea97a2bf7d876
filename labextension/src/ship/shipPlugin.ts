import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';

import { formatApiError } from '../common/errors';
import { platformIcon } from '../common/icons';
import { loadPanelStyles } from '../common/lazy';
import { isNotebookWidget, notebookTarget } from '../common/targetPath';
import { OPEN_DEPLOYMENTS } from '../deployments/deploymentsPlugin';
import { OPEN_MODELS } from '../models/modelsPlugin';
import { OPEN_MONITORING } from '../monitoring/monitoringPlugin';
import { OPEN_PIPELINES } from '../pipelines/pipelinesPlugin';
import type { ShipPanel } from './widgets/ShipDialog';

export const SHIP_NOTEBOOK = 'jupyter-mlp:ship-notebook';

const PANELS: Record<ShipPanel, string> = {
  pipelines: OPEN_PIPELINES,
  models: OPEN_MODELS,
  deployments: OPEN_DEPLOYMENTS,
  monitoring: OPEN_MONITORING
};

/**
 * "Ship…": from a validated notebook to a gated, deployed and monitored endpoint (docs/ship.md) — the toolbar's
 * Ship button, the file browser's context menu and the command palette.
 */
export const shipNotebookPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlp:ship-notebook',
  description: 'Ships a notebook: pipeline, gates, approval, deployment, monitor and endpoint in one flow.',
  autoStart: true,
  requires: [IDefaultFileBrowser],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, browser: IDefaultFileBrowser, palette: ICommandPalette | null) => {
    const { commands } = app;

    const targetPath = notebookTarget(app, browser);

    commands.addCommand(SHIP_NOTEBOOK, {
      label: 'Ship…',
      caption: 'Ship this notebook: pipeline, gates, approval, deployment, monitor and endpoint in one flow',
      icon: platformIcon,
      execute: async args => {
        const path = targetPath(args);
        if (!path) {
          await showErrorMessage('No notebook to ship', 'Open a notebook, or right-click one in the file browser.');
          return;
        }
        try {
          // The dialog's code and the API client load with the first ship (not with JupyterLab).
          const [{ projectOf }, { getShip, planShip, startShip }, { ShipDialogBody }] = await Promise.all([
            import('../common/api'),
            import('../common/endpoints/ship'),
            import('./widgets/ShipDialog'),
            loadPanelStyles()
          ]);
          for (const widget of app.shell.widgets('main')) {
            if (isNotebookWidget(widget) && widget.context.path === path && widget.context.model.dirty) {
              await widget.context.save();
            }
          }
          const { project, rule } = await projectOf(path);
          if (!project) {
            await showErrorMessage(
              'This notebook belongs to no project',
              `${rule} Link its folder to a project (Promote to Pipeline… offers it), then ship again.`
            );
            return;
          }
          const file = await app.serviceManager.contents.get(path, { content: true });
          const notebook = file.content as Record<string, unknown>;
          const planned = await planShip(project, path, notebook);
          const body = new ShipDialogBody({
            path,
            project,
            planned,
            start: plan => startShip(project, path, notebook, plan),
            poll: (id, claim) => getShip(project, id, claim),
            open: (panel, panelArgs) => void commands.execute(PANELS[panel], { project, ...panelArgs })
          });
          const dialog = new Dialog({
            title: `Ship ${path}`,
            body,
            buttons: [Dialog.cancelButton({ label: 'Close' })],
            defaultButton: -1
          });
          dialog.addClass('jp-mlp-ship-dialog');
          await dialog.launch();
        } catch (error) {
          await showErrorMessage('Could not ship the notebook', formatApiError(error));
        }
      }
    });

    palette?.addItem({ command: SHIP_NOTEBOOK, category: 'ML Platform' });
  }
};
