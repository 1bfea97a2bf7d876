import { OPEN_EXPERIMENTS } from '../experiments/experimentsPlugin';
import { loadPanelStyles } from '../common/lazy';
import { panelPlugin, stringArg } from '../common/panelCommand';

export const OPEN_PIPELINES = 'jupyter-mlp:open-pipelines';

/** The Pipelines panel in the main area: pipelines of the current project, their versions and runs. */
export const pipelinesPlugin = panelPlugin({
  id: 'jupyter-mlp:pipelines',
  description: 'The Pipelines panel: pipelines of the current project, their versions, runs and the Run form.',
  command: OPEN_PIPELINES,
  name: 'pipelines',
  title: 'Pipelines',
  caption: 'Pipelines of the current ML Platform project',
  args: {
    pipeline: { type: 'string', description: 'The pipeline to select' },
    version: { type: 'string', description: 'The version to select (full hash)' },
    run: { type: 'string', description: 'A run of the pipeline to open (its run id)' }
  },
  create: async ({ commands, serviceManager }, project) => {
    const [{ PipelinesPanel }, { openStageOutput }] = await Promise.all([
      import('./widgets/PipelinesPanel'),
      import('./pipelineNotebook'),
      loadPanelStyles()
    ]);
    return new PipelinesPanel(project, {
      openOutputNotebook: async (slug, run, stage) => {
        await openStageOutput(commands, serviceManager.contents, slug, run, stage);
      },
      openMlflowRun: runId => void commands.execute(OPEN_EXPERIMENTS, { runId })
    });
  },
  show: (panel, args) => {
    const pipeline = stringArg(args, 'pipeline');
    if (pipeline) {
      panel.showPipeline({
        pipeline,
        version: typeof args.version === 'string' ? args.version : undefined,
        run: stringArg(args, 'run')
      });
    }
  }
});
