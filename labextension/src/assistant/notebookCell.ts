/**
 * "Insert as new cell": put an answer's code block into a notebook as a new code cell below its active cell.
 *
 * The extension does not depend on @jupyterlab/notebook (it is not among its packages), so the notebook is seen
 * through the few members this needs, checked at run time: a NotebookPanel's `content` (the Notebook widget) with
 * its `model.sharedModel.insertCell` (JupyterLab 4's shared notebook model) and `activeCellIndex`, and its
 * `context.path`.
 */

/** The part of a NotebookPanel this uses. */
export interface INotebookLike {
  context: { path: string };
  content: {
    activeCellIndex: number;
    model: { sharedModel: { insertCell(index: number, cell: { cell_type: 'code'; source: string }): unknown } } | null;
  };
}

/** Whether `widget` is a notebook this can insert into. */
export function isNotebookLike(widget: unknown): widget is INotebookLike {
  const w = widget as Partial<INotebookLike> | null | undefined;
  const insert = w?.content?.model?.sharedModel?.insertCell;
  return typeof w?.context?.path === 'string' && w.context.path.endsWith('.ipynb') && typeof insert === 'function';
}

/** Insert `source` as a code cell below the notebook's active cell and make it active; returns its index. */
export function insertCodeCell(notebook: INotebookLike, source: string): number {
  const { content } = notebook;
  const index = Math.max(0, content.activeCellIndex + 1);
  content.model!.sharedModel.insertCell(index, { cell_type: 'code', source });
  content.activeCellIndex = index;
  return index;
}
