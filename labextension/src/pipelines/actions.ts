import type { PipelineRun } from '../common/api';

/** What the panel needs from the rest of JupyterLab, so the view stays free of the app. */
export interface IPipelinesActions {
  /** Save a finished stage's output notebook into the workspace and open it. */
  openOutputNotebook: (slug: string, run: PipelineRun, stage: string) => Promise<void>;
  /** Show an MLflow run in the Experiments panel. */
  openMlflowRun: (runId: string) => void;
}
