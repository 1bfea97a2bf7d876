import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, IToolbarWidgetRegistry, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { Signal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';

import { formatApiError } from '../common/errors';
import { platformIcon } from '../common/icons';
import { projectMarkerContent, projectMarkerPath } from './projectMarker';
import { ICurrentProject } from '../common/tokens';
import { NotebookProjectLabel } from './widgets/NotebookProjectLabel';

export const LINK_FOLDER = 'jupyter-mlp:link-folder';

/** Emits when a folder was linked, so every notebook's label asks again. */
const markersChanged = new Signal<object, void>({});

/** The toolbar item's name in `jupyter.lab.toolbars` (schema/notebook-project.json). */
const TOOLBAR_ITEM = 'mlp-project';

/** "Project: <slug>" in every notebook's toolbar. */
export const notebookProjectPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlp:notebook-project',
  description: "Shows in each notebook's toolbar the ML Platform project its runs are logged to.",
  autoStart: true,
  requires: [IToolbarWidgetRegistry],
  activate: (_app: JupyterFrontEnd, toolbarRegistry: IToolbarWidgetRegistry) => {
    toolbarRegistry.addFactory('Notebook', TOOLBAR_ITEM, (panel: Widget) => {
      const context = (panel as Widget & { context?: DocumentRegistry.Context }).context;
      if (!context) {
        throw new Error(`${TOOLBAR_ITEM} needs a document widget.`);
      }
      return new NotebookProjectLabel(context, markersChanged);
    });
  }
};

/** "Link folder to ML Platform project…" on folders in the file browser. */
export const linkFolderPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlp:link-folder',
  description:
    'Writes mlp-project.toml into a folder so notebooks below it log runs to the current project.',
  autoStart: true,
  requires: [ICurrentProject, IDefaultFileBrowser],
  activate: (app: JupyterFrontEnd, project: ICurrentProject, browser: IDefaultFileBrowser) => {
    app.commands.addCommand(LINK_FOLDER, {
      label: 'Link folder to ML Platform project…',
      caption:
        'Notebooks in this folder and below log their runs to the current ML Platform project',
      icon: platformIcon,
      isEnabled: args => typeof args.folder === 'string' || selectedFolder(browser) !== null,
      execute: async args => {
        // `folder` lets other commands (promote-notebook) link a folder the browser does not show.
        const folder = typeof args.folder === 'string' ? args.folder : selectedFolder(browser);
        if (folder === null) {
          return;
        }
        const slug = project.get();
        if (!slug) {
          await showErrorMessage(
            'No project selected',
            'Choose a project in the ML Platform sidebar first, then link the folder to it.'
          );
          return;
        }
        const path = projectMarkerPath(folder);
        const answer = await showDialog({
          title: 'Link folder to project',
          body:
            `Runs logged from notebooks in "${folder || '/'}" and its subfolders will belong to ` +
            `project "${slug}". This writes ${path}, replacing any existing one.`,
          buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Link' })]
        });
        if (!answer.button.accept) {
          return;
        }
        try {
          await app.serviceManager.contents.save(path, {
            type: 'file',
            format: 'text',
            content: projectMarkerContent(slug)
          });
          markersChanged.emit();
          return path;
        } catch (error) {
          await showErrorMessage('Could not link the folder', formatApiError(error));
        }
      }
    });
  }
};

/** The folder selected in the file browser, or null when the selection is not a folder. */
function selectedFolder(browser: IDefaultFileBrowser): string | null {
  const item = browser.selectedItems().next();
  return !item.done && item.value?.type === 'directory' ? item.value.path : null;
}
