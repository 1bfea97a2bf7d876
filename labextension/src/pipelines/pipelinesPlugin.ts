import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';

import { OPEN_EXPERIMENTS } from '../experiments/experimentsPlugin';
import { platformIcon } from '../common/icons';
import { openStageOutput } from './pipelineNotebook';
import { ICurrentProject } from '../common/tokens';
import { PipelinesPanel } from './widgets/PipelinesPanel';

export const OPEN_PIPELINES = 'jupyter-mlp:open-pipelines';

/** The Pipelines panel in the main area: pipelines of the current project, their versions and runs. */
export const pipelinesPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlp:pipelines',
  description: 'The Pipelines panel: pipelines of the current project, their versions, runs and the Run form.',
  autoStart: true,
  requires: [ICurrentProject],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    project: ICurrentProject,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const tracker = new WidgetTracker<MainAreaWidget<PipelinesPanel>>({
      namespace: 'jupyter-mlp-pipelines'
    });
    const { commands } = app;
    const contents = app.serviceManager.contents;

    commands.addCommand(OPEN_PIPELINES, {
      label: 'Open Pipelines',
      caption: 'Pipelines of the current ML Platform project',
      icon: platformIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            project: { type: 'string', description: 'Make this project current first' },
            pipeline: { type: 'string', description: 'The pipeline to select' },
            version: { type: 'string', description: 'The version to select (full hash)' }
          }
        }
      },
      execute: async args => {
        if (typeof args.project === 'string' && args.project && args.project !== project.get()) {
          await project.set(args.project);
        }
        let widget = tracker.currentWidget;
        if (!widget || widget.isDisposed) {
          const content = new PipelinesPanel(project, {
            openOutputNotebook: async (slug, run, stage) => {
              await openStageOutput(commands, contents, slug, run, stage);
            },
            openMlflowRun: runId => void commands.execute(OPEN_EXPERIMENTS, { runId })
          });
          widget = new MainAreaWidget({ content });
          widget.id = 'jupyter-mlp-pipelines';
          widget.title.label = 'Pipelines';
          widget.title.icon = platformIcon;
          widget.title.closable = true;
          await tracker.add(widget);
        }
        if (!widget.isAttached) {
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
        if (typeof args.pipeline === 'string' && args.pipeline) {
          widget.content.showPipeline({
            pipeline: args.pipeline,
            version: typeof args.version === 'string' ? args.version : undefined
          });
        }
      }
    });

    palette?.addItem({ command: OPEN_PIPELINES, category: 'ML Platform' });
    void restorer?.restore(tracker, { command: OPEN_PIPELINES, name: () => 'pipelines' });
  }
};
