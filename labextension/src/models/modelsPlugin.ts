import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { OPEN_DEPLOYMENTS } from '../deployments/deploymentsPlugin';
import { OPEN_EXPERIMENTS } from '../experiments/experimentsPlugin';
import { addPanelCommand, stringArg } from '../common/panelCommand';
import { ICurrentProject } from '../common/tokens';
import { ModelsPanel } from './widgets/ModelsPanel';

export const OPEN_MODELS = 'jupyter-mlp:open-models';

/** The Models panel in the main area: registered models, versions, gates, approvals, lineage and diff. */
export const modelsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlp:models',
  description: 'The Models panel: registered models of the current project, their versions, gates and approvals.',
  autoStart: true,
  requires: [ICurrentProject],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    project: ICurrentProject,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const { commands } = app;
    addPanelCommand(app, { project, palette, restorer }, {
      command: OPEN_MODELS,
      name: 'models',
      title: 'Models',
      caption: 'Registered models of the current ML Platform project',
      args: { model: { type: 'string', description: 'The registered model to select' } },
      create: () =>
        new ModelsPanel(project, {
          openMlflowRun: runId => void commands.execute(OPEN_EXPERIMENTS, { runId }),
          deploy: prefill => void commands.execute(OPEN_DEPLOYMENTS, { ...prefill })
        }),
      show: (panel, args) => {
        const model = stringArg(args, 'model');
        if (model) {
          panel.showModel(model);
        }
      }
    });
  }
};
