import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, InputDialog, showErrorMessage } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { assistantPlugin } from './assistant/assistantPlugin';
import { CurrentProjectStore } from './common/currentProject';
import { deploymentsPlugin, OPEN_DEPLOYMENTS } from './deployments/deploymentsPlugin';
import { experimentsPlugin, OPEN_EXPERIMENTS } from './experiments/experimentsPlugin';
import { platformIcon } from './common/icons';
import { LazyPanel } from './common/lazy';
import { modelsPlugin, OPEN_MODELS } from './models/modelsPlugin';
import { monitoringPlugin, OPEN_MONITORING } from './monitoring/monitoringPlugin';
import { formatApiError, validateSlug } from './common/permissions';
import { OPEN_PIPELINES, pipelinesPlugin } from './pipelines/pipelinesPlugin';
import { linkFolderPlugin, notebookProjectPlugin } from './projects/projectMarkerPlugins';
import { promoteNotebookPlugin } from './pipelines/promotePlugin';
import { shipNotebookPlugin } from './ship/shipPlugin';
import { ICurrentProject } from './common/tokens';

export { ICurrentProject } from './common/tokens';

const PLUGIN_ID = 'jupyter-mlp:projects-panel';

/** Command IDs, `jupyter-mlp:<verb-noun>`. */
export namespace CommandIDs {
  export const openPanel = 'jupyter-mlp:open-panel';
  export const createProject = 'jupyter-mlp:create-project';
}

const PALETTE_CATEGORY = 'ML Platform';

/** The ML Platform sidebar: current project, members, project creation. */
const projectsPanel: JupyterFrontEndPlugin<ICurrentProject> = {
  id: PLUGIN_ID,
  description: 'The ML Platform sidebar: current project, members and project creation.',
  autoStart: true,
  provides: ICurrentProject,
  optional: [ISettingRegistry, ICommandPalette, ILayoutRestorer],
  activate: async (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    let settings: ISettingRegistry.ISettings | null = null;
    if (settingRegistry) {
      try {
        settings = await settingRegistry.load(PLUGIN_ID);
      } catch (error) {
        console.warn(`${PLUGIN_ID}: settings unavailable, remembering the project locally.`, error);
      }
    }

    const store = new CurrentProjectStore(settings);
    const open = (command: string) => () => void app.commands.execute(command);
    // The sidebar tab is there from the start; its content's code is a chunk fetched when the tab is first shown.
    const panel = new LazyPanel(async () => {
      const { ProjectsPanel } = await import('./projects/widgets/ProjectsPanel');
      return new ProjectsPanel(store, {
        experiments: open(OPEN_EXPERIMENTS),
        pipelines: open(OPEN_PIPELINES),
        models: open(OPEN_MODELS),
        deployments: open(OPEN_DEPLOYMENTS),
        monitoring: open(OPEN_MONITORING)
      });
    });
    panel.id = 'jupyter-mlp-projects';
    panel.title.icon = platformIcon;
    panel.title.caption = 'ML Platform';
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, panel.id);

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Open ML Platform Panel',
      caption: 'Show the ML Platform sidebar',
      icon: platformIcon,
      execute: () => app.shell.activateById(panel.id)
    });

    app.commands.addCommand(CommandIDs.createProject, {
      label: 'Create ML Platform Project…',
      caption: 'Create a project (platform admins only)',
      icon: platformIcon,
      execute: async () => {
        const body = await promptForProject();
        if (!body) {
          return;
        }
        try {
          const { createProject } = await import('./common/api');
          const created = await createProject(body);
          await (await panel.content()).selectProject(created.slug);
          app.shell.activateById(panel.id);
        } catch (error) {
          await showErrorMessage('Could not create the project', formatApiError(error));
        }
      }
    });

    palette?.addItem({ command: CommandIDs.openPanel, category: PALETTE_CATEGORY });
    palette?.addItem({ command: CommandIDs.createProject, category: PALETTE_CATEGORY });
    return store;
  }
};

/** Ask for a slug (re-asking until it is valid) and a name; null when cancelled. */
async function promptForProject(): Promise<{ slug: string; name: string } | null> {
  let slug = '';
  let problem: string | null = null;
  do {
    const answer = await InputDialog.getText({
      title: 'Create project',
      label: problem
        ? `${problem} Project slug (lowercase letters, digits, hyphens):`
        : 'Project slug (lowercase letters, digits, hyphens):',
      text: slug,
      placeholder: 'e.g. churn-2025',
      okLabel: 'Next'
    });
    if (!answer.button.accept || answer.value === null) {
      return null;
    }
    slug = answer.value.trim();
    problem = validateSlug(slug);
  } while (problem);

  const name = await InputDialog.getText({
    title: 'Create project',
    label: 'Project name:',
    text: slug,
    okLabel: 'Create'
  });
  if (!name.button.accept || !name.value?.trim()) {
    return null;
  }
  return { slug, name: name.value.trim() };
}

export default [
  projectsPanel,
  experimentsPlugin,
  pipelinesPlugin,
  modelsPlugin,
  deploymentsPlugin,
  monitoringPlugin,
  notebookProjectPlugin,
  linkFolderPlugin,
  promoteNotebookPlugin,
  shipNotebookPlugin,
  assistantPlugin
];
