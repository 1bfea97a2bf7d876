/**
 * "Which notebook did the user mean?" for the commands that act on one notebook (Promote to Pipeline…, Ship…):
 * the command's `path` argument; else, when the context menu was opened on a file browser item, that item (a
 * notebook, or none); else the current main-area notebook; else the notebook selected in the file browser.
 *
 * Pure (types only from JupyterLab), so jest runs it; `notebookTarget` wires it to the application.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import type { Widget } from '@lumino/widgets';

/** A main-area widget with a document context (a notebook when its contents model says so). */
export type DocumentWidget = Widget & { context: DocumentRegistry.Context };

/** An item of the file browser, as much of it as the choice reads. */
export interface IBrowserItem {
  type: string;
  path: string;
}

/** Where the notebook can come from besides the argument. */
export interface ITargetSources {
  /** Whether the context menu being handled was opened on a file browser item. */
  onBrowserItem: boolean;
  /** The first item selected in the file browser, if any. */
  selected: () => IBrowserItem | null | undefined;
  /** The main area's current widget. */
  current: unknown;
}

/** Whether `widget` is a notebook opened in the main area. */
export function isNotebookWidget(widget: unknown): widget is DocumentWidget {
  const context = (widget as Partial<DocumentWidget> | null | undefined)?.context;
  return !!context && context.contentsModel?.type === 'notebook';
}

/** The notebook the command is about, or null when there is none. */
export function targetPath(args: ReadonlyPartialJSONObject, sources: ITargetSources): string | null {
  if (typeof args.path === 'string') {
    return args.path;
  }
  const fromBrowser = (): string | null => {
    const item = sources.selected();
    return item?.type === 'notebook' ? item.path : null;
  };
  if (sources.onBrowserItem) {
    return fromBrowser();
  }
  return isNotebookWidget(sources.current) ? sources.current.context.path : fromBrowser();
}

/** `targetPath` over the application's context menu, current widget and default file browser. */
export function notebookTarget(
  app: JupyterFrontEnd,
  browser: IDefaultFileBrowser
): (args: ReadonlyPartialJSONObject) => string | null {
  return args =>
    targetPath(args, {
      onBrowserItem: !!app.contextMenuHitTest(node => node.classList.contains('jp-DirListing-item')),
      selected: () => {
        const item = browser.selectedItems().next();
        return item.done ? null : item.value;
      },
      current: app.shell.currentWidget
    });
}
