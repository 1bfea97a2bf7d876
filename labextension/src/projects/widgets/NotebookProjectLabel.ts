import type { DocumentRegistry } from '@jupyterlab/docregistry';
import { ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { formatApiError } from '../../common/errors';
import { projectLabel } from '../projectMarker';

/**
 * "Project: <slug>" in a notebook's toolbar: the project runs logged from this notebook land in.
 *
 * Asks the server again when the notebook is renamed or moved, and when `recheck` emits (a folder was
 * linked to a project).
 */
export class NotebookProjectLabel extends Widget {
  private _request = 0;

  constructor(
    private readonly _context: DocumentRegistry.Context,
    recheck: ISignal<unknown, void>
  ) {
    super({ node: document.createElement('span') });
    this.addClass('jp-mlp-notebook-project');
    this.node.dataset.testid = 'mlp-notebook-project';
    this.node.textContent = 'Project: …';
    _context.pathChanged.connect(this._update, this);
    recheck.connect(this._update, this);
    this._update();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._context.pathChanged.disconnect(this._update, this);
    super.dispose();
  }

  private _update(): void {
    if (this.isDisposed) {
      return;
    }
    const mine = ++this._request;
    const show = (label: { text: string; tooltip: string }, state: string) => {
      if (mine !== this._request || this.isDisposed) {
        return;
      }
      this.node.textContent = label.text;
      this.node.title = label.tooltip;
      this.node.dataset.state = state;
    };
    // The API client is a chunk of its own (not fetched with JupyterLab): the first notebook opened fetches it.
    import('../../common/api')
      .then(({ projectOf }) => projectOf(this._context.path))
      .then(answer => show(projectLabel(answer), answer.project ? 'project' : 'none'))
      .catch(err => show(projectLabel(null, formatApiError(err)), 'error'));
  }
}
