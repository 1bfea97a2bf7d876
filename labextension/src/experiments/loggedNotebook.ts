/** Opening the notebook that produced a run, or the copy logged with it. */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { Contents } from '@jupyterlab/services';

import { fetchArtifactText, RunDetail } from '../common/api';
import { LOGGED_NOTEBOOK_ARTIFACT, loggedNotebookPath } from '../projects/projectMarker';

/**
 * Open the run's notebook at its recorded path (relative to the Jupyter root).
 *
 * @throws Error saying why, when the run has no notebook or it is no longer there
 */
export async function openRunNotebook(
  commands: JupyterFrontEnd['commands'],
  contents: Contents.IManager,
  run: RunDetail
): Promise<void> {
  const path = run.lineage?.notebook_path;
  if (!path) {
    throw new Error('This run recorded no notebook.');
  }
  try {
    await contents.get(path, { content: false });
  } catch {
    throw new Error(
      `The notebook "${path}" is not in this workspace: it may have been moved, renamed or deleted.`
    );
  }
  await commands.execute('docmanager:open', { path });
}

/** Save the notebook copy logged with the run under `mlp-logged-notebooks/<run_id>/` (Jupyter will not save into hidden folders) and open it. */
export async function openLoggedNotebook(
  commands: JupyterFrontEnd['commands'],
  contents: Contents.IManager,
  slug: string,
  run: RunDetail
): Promise<string> {
  const text = await fetchArtifactText(slug, run.run_id, LOGGED_NOTEBOOK_ARTIFACT);
  let content: unknown;
  try {
    content = JSON.parse(text);
  } catch {
    throw new Error('The logged notebook copy is not a valid notebook file.');
  }
  const path = loggedNotebookPath(run.run_id);
  const folders = path.split('/').slice(0, -1);
  for (let depth = 1; depth <= folders.length; depth++) {
    await contents.save(folders.slice(0, depth).join('/'), { type: 'directory' });
  }
  await contents.save(path, { type: 'notebook', format: 'json', content });
  await commands.execute('docmanager:open', { path });
  return path;
}
