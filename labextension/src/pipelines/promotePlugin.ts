import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';

import { loadPanelStyles } from '../common/lazy';
import { platformIcon } from '../common/icons';
import { DocumentWidget, isNotebookWidget, notebookTarget } from '../common/targetPath';
import { OPEN_PIPELINES } from './pipelinesPlugin';
import { LINK_FOLDER } from '../projects/projectMarkerPlugins';

export const PROMOTE_NOTEBOOK = 'jupyter-mlp:promote-notebook';

/** The folder part of an API path ('' for the Jupyter root). */
function folderOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at === -1 ? '' : path.slice(0, at);
}

/**
 * "Promote to Pipeline…": preflight a notebook, show its stages, parameters and problems, and store it
 * as a new version of a pipeline in its project.
 */
export const promoteNotebookPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlp:promote-notebook',
  description: 'Promotes a notebook to a versioned pipeline of its ML Platform project.',
  autoStart: true,
  requires: [IDefaultFileBrowser],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, browser: IDefaultFileBrowser, palette: ICommandPalette | null) => {
    const { commands } = app;
    const contents = app.serviceManager.contents;

    /** The open notebook at `path`, if any (to save it before promoting). */
    const openNotebook = (path: string): DocumentWidget | null => {
      for (const widget of app.shell.widgets('main')) {
        if (isNotebookWidget(widget) && widget.context.path === path) {
          return widget;
        }
      }
      return null;
    };

    /** The notebook to promote: the argument, the file browser item right-clicked, or the current notebook. */
    const targetPath = notebookTarget(app, browser);

    /** The notebook's project, offering to link its folder when it has none; null when cancelled. */
    const findProject = async (path: string): Promise<string | null> => {
      const { projectOf } = await import('../common/api');
      const answer = await projectOf(path);
      if (answer.project) {
        return answer.project;
      }
      const folder = folderOf(path);
      const result = await showDialog({
        title: 'This notebook belongs to no project',
        body:
          `A pipeline is stored in the project its notebook belongs to, and "${path}" belongs to ` +
          `none. ${answer.rule} Link "${folder || '/'}" to the project selected in the ML Platform ` +
          'sidebar, then promote again.',
        buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Link Folder…' })]
      });
      if (!result.button.accept) {
        return null;
      }
      const linked = await commands.execute(LINK_FOLDER, { folder });
      if (!linked) {
        return null;
      }
      return (await projectOf(path)).project;
    };

    commands.addCommand(PROMOTE_NOTEBOOK, {
      label: 'Promote to Pipeline…',
      caption: 'Store this notebook as a new version of a pipeline in its ML Platform project',
      icon: platformIcon,
      execute: async args => {
        const path = targetPath(args);
        if (!path) {
          await showErrorMessage(
            'No notebook to promote',
            'Open a notebook, or right-click one in the file browser, to promote it to a pipeline.'
          );
          return;
        }
        // The dialog's code and the API client load with the first promote (not with JupyterLab).
        const [{ preflightPipeline, promotePipeline }, { promoteFailure }, { PromoteDialogBody }] = await Promise.all([
          import('../common/api'),
          import('./promote'),
          import('./widgets/PromoteDialog'),
          loadPanelStyles()
        ]);
        try {
          const open = openNotebook(path);
          if (open?.context.model.dirty) {
            await open.context.save();
          }
          const project = await findProject(path);
          if (!project) {
            return;
          }
          const file = await contents.get(path, { content: true });
          const notebook = file.content;
          const report = await preflightPipeline(project, { notebook, path });
          const body = new PromoteDialogBody({
            path,
            project,
            report,
            promote: name => promotePipeline(project, { notebook, path, name }),
            openInPipelines: result => {
              // Button 0 (Close): the dialog has no default button for resolve() to fall back on.
              dialog.resolve(0);
              void commands.execute(OPEN_PIPELINES, {
                project,
                pipeline: result.pipeline,
                version: result.version
              });
            }
          });
          const dialog = new Dialog({
            title: 'Promote to Pipeline',
            body,
            buttons: [Dialog.cancelButton({ label: 'Close' })],
            // No default button: Enter in the name field submits the body's own form instead.
            defaultButton: -1
          });
          dialog.addClass('jp-mlp-promote-dialog');
          await dialog.launch();
        } catch (error) {
          await showErrorMessage('Could not promote the notebook', promoteFailure(error).message);
        }
      }
    });

    palette?.addItem({ command: PROMOTE_NOTEBOOK, category: 'ML Platform' });
  }
};
