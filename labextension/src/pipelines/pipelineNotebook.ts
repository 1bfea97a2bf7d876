/** Opening the executed notebook of a pipeline stage, logged with the stage's MLflow child run. */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { Contents } from '@jupyterlab/services';

import { fetchArtifactText, listRuns, PipelineRun } from '../common/api';
import { outputNotebookArtifact, outputNotebookPath, stageChildFilter } from './pipelineRuns';

/**
 * Find the stage's child run, save its `output/<stage>.ipynb` under `mlp-pipeline-runs/<run_id>/` and
 * open it.
 *
 * @throws Error saying why, when the run has no MLflow run or the stage logged no notebook
 */
export async function openStageOutput(
  commands: JupyterFrontEnd['commands'],
  contents: Contents.IManager,
  slug: string,
  run: PipelineRun,
  stage: string
): Promise<string> {
  if (!run.mlflow_run_id) {
    throw new Error('This pipeline run has no MLflow run, so its stages logged no notebooks.');
  }
  const children = await listRuns(slug, {
    filter: stageChildFilter(run.mlflow_run_id, stage),
    limit: 1,
    offset: 0
  });
  const child = children.items[0];
  if (!child) {
    throw new Error(`Stage "${stage}" has no MLflow run: it may not have started.`);
  }
  const text = await fetchArtifactText(slug, child.run_id, outputNotebookArtifact(stage));
  let content: unknown;
  try {
    content = JSON.parse(text);
  } catch {
    throw new Error(`The output notebook of stage "${stage}" is not a valid notebook file.`);
  }
  const path = outputNotebookPath(run.run_id, stage);
  const folders = path.split('/').slice(0, -1);
  for (let depth = 1; depth <= folders.length; depth++) {
    await contents.save(folders.slice(0, depth).join('/'), { type: 'directory' });
  }
  await contents.save(path, { type: 'notebook', format: 'json', content });
  await commands.execute('docmanager:open', { path });
  return path;
}
