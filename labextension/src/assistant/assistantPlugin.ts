import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Clipboard, ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';

import { formatApiError } from '../common/errors';
import { LazyPanel } from '../common/lazy';
import { PALETTE_CATEGORY, stringArg } from '../common/panelCommand';
import { ICurrentProject } from '../common/tokens';
import { OPEN_DEPLOYMENTS } from '../deployments/deploymentsPlugin';
import { OPEN_EXPERIMENTS } from '../experiments/experimentsPlugin';
import { OPEN_MODELS } from '../models/modelsPlugin';
import { OPEN_MONITORING } from '../monitoring/monitoringPlugin';
import { OPEN_PIPELINES } from '../pipelines/pipelinesPlugin';
import type { CitationPanel } from './citations';
import type { ICitation } from './ndjson';
import { insertCodeCell, isNotebookLike } from './notebookCell';

export const OPEN_ASSISTANT = 'jupyter-mlp:open-assistant';
export const ASK_ABOUT_NOTEBOOK = 'jupyter-mlp:ask-about-notebook';

/** The open command of each panel a citation can open ('jupyter-mlp:open-panel' is index.ts's Projects sidebar). */
const PANEL_COMMANDS: Record<CitationPanel, string> = {
  experiments: OPEN_EXPERIMENTS,
  models: OPEN_MODELS,
  deployments: OPEN_DEPLOYMENTS,
  monitoring: OPEN_MONITORING,
  pipelines: OPEN_PIPELINES,
  projects: 'jupyter-mlp:open-panel',
  file: 'docmanager:open'
};

/** A speech bubble. `jp-icon3` lets the theme colour it. */
export const assistantIcon = new LabIcon({
  name: 'jupyter-mlp:assistant',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9zm4 0v2h2V9zm4 0v2h2V9z"/>
</svg>`
});

/**
 * The assistant's Chat in the right sidebar, its open command (optionally with a project and a notebook as
 * context), and "Ask about this notebook" for the notebook toolbar (schema/assistant.json).
 */
export const assistantPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlp:assistant',
  description: 'The assistant: a Chat sidebar answering questions about the platform\'s records, every figure cited.',
  autoStart: true,
  requires: [ICurrentProject],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    project: ICurrentProject,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const { commands, shell } = app;

    const openCitation = async (citation: ICitation) => {
      const { citationTarget } = await import('./citations');
      const target = citationTarget(citation);
      if (!target) {
        return;
      }
      try {
        if (target.project && target.project !== project.get()) {
          await project.set(target.project);
        }
        await commands.execute(PANEL_COMMANDS[target.panel], target.args);
      } catch (error) {
        await showErrorMessage('Could not open the record', formatApiError(error));
      }
    };

    // The sidebar tab is there from the start; the Chat's code is a chunk fetched when the tab is first shown.
    const panel = new LazyPanel(async () => {
      const { ChatPanel } = await import('./widgets/ChatPanel');
      return new ChatPanel(project, {
        openCitation: citation => void openCitation(citation),
        insertCell: code => {
          const notebook = shell.currentWidget;
          if (!isNotebookLike(notebook)) {
            return 'Open a notebook (click into it) to insert the code as a new cell.';
          }
          insertCodeCell(notebook, code);
          shell.activateById(notebook.id);
          return null;
        },
        copy: text => Clipboard.copyToSystem(text)
      });
    });
    panel.id = 'jupyter-mlp-assistant';
    panel.title.icon = assistantIcon;
    panel.title.caption = 'ML Platform Assistant';
    shell.add(panel, 'right', { rank: 600 });
    restorer?.add(panel, panel.id);

    commands.addCommand(OPEN_ASSISTANT, {
      label: 'Open the ML Platform Assistant',
      caption: 'Ask about the platform\'s runs, models, deployments and monitors; every figure is cited',
      icon: assistantIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            project: { type: 'string', description: 'Make this project current first' },
            notebookPath: { type: 'string', description: 'Ask about this notebook (its path)' }
          }
        }
      },
      execute: async args => {
        const slug = stringArg(args, 'project');
        if (slug && slug !== project.get()) {
          await project.set(slug);
        }
        const chat = await panel.content();
        chat.setContext({ notebookPath: stringArg(args, 'notebookPath') ?? null });
        shell.activateById(panel.id);
      }
    });

    commands.addCommand(ASK_ABOUT_NOTEBOOK, {
      label: args => (args.toolbar ? 'Ask' : 'Ask the Assistant about this Notebook'),
      caption: 'Open the ML Platform Assistant with this notebook\'s project and file as context',
      icon: args => (args.toolbar ? undefined : assistantIcon),
      isEnabled: () => isNotebookLike(shell.currentWidget),
      execute: async () => {
        const notebook = shell.currentWidget;
        if (!isNotebookLike(notebook)) {
          return;
        }
        const path = notebook.context.path;
        let slug: string | undefined;
        try {
          const { projectOf } = await import('../common/api');
          slug = (await projectOf(path)).project ?? undefined;
        } catch {
          slug = undefined; // the Chat still opens, about the current project
        }
        await commands.execute(OPEN_ASSISTANT, { notebookPath: path, ...(slug ? { project: slug } : {}) });
      }
    });

    palette?.addItem({ command: OPEN_ASSISTANT, category: PALETTE_CATEGORY });
    palette?.addItem({ command: ASK_ABOUT_NOTEBOOK, category: PALETTE_CATEGORY });
  }
};
