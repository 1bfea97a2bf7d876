import type { IDeployPrefill } from '../deployments/deployments';

/** What the panel needs from the rest of JupyterLab, so the view stays free of the app. */
export interface IModelsActions {
  /** Show an MLflow run in the Experiments panel. */
  openMlflowRun: (runId: string) => void;
  /** Open the Deployments panel with its Deploy form filled for a version. */
  deploy?: (prefill: IDeployPrefill) => void;
}
