/**
 * The activation every main-area panel plugin shares: an "Open <Title>" command that makes the argument's project
 * current (when the panel takes one), creates the panel once, adds it to the main area and activates it, then
 * hands the command's arguments to the panel; a palette item; a tracker the layout restorer reopens it from.
 *
 * A plugin says only what is its own: its name, the arguments it takes, how its panel is built and what it does
 * with the arguments. `panelPlugin` is the whole plugin for a panel that needs nothing else; a plugin that adds
 * more (Experiments: run links) calls `addPanelCommand` from its own activation.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import type { Widget } from '@lumino/widgets';

import { platformIcon } from './icons';
import { ICurrentProject } from './tokens';

/** The palette category of every ML Platform command. */
export const PALETTE_CATEGORY = 'ML Platform';

/** One argument of the open command, as its `describedBy` schema says it (a type alias: a JSON value). */
export type PanelArg = {
  type: 'string' | 'number';
  description: string;
};

/** What a panel plugin says about its panel. */
export interface IPanelCommand<W extends Widget> {
  /** The command id, `jupyter-mlp:open-<name>`. */
  command: string;
  /** Short name: the widget id and tracker namespace are `jupyter-mlp-<name>`, the restorer's name is `<name>`. */
  name: string;
  /** The tab's title; the command's label is "Open <title>". */
  title: string;
  caption: string;
  /** Whether the command takes `project` (made current before the panel opens); true unless said. */
  projectArg?: boolean;
  /** The command's other arguments. */
  args: Record<string, PanelArg>;
  /** Build the panel (once; again after it was closed). Async: the panel's code is a chunk fetched on first open. */
  create: () => W | Promise<W>;
  /** Hand the command's arguments to the panel, once it is on screen. */
  show?: (panel: W, args: ReadonlyPartialJSONObject) => void;
}

/** The services the open command needs from the plugin's activation. */
export interface IPanelServices {
  project: ICurrentProject;
  palette: ICommandPalette | null;
  restorer: ILayoutRestorer | null;
}

/** Add the panel's open command, palette item and restorer; returns the panel's tracker. */
export function addPanelCommand<W extends Widget>(
  app: JupyterFrontEnd,
  { project, palette, restorer }: IPanelServices,
  spec: IPanelCommand<W>
): WidgetTracker<MainAreaWidget<W>> {
  const id = `jupyter-mlp-${spec.name}`;
  const tracker = new WidgetTracker<MainAreaWidget<W>>({ namespace: id });
  const takesProject = spec.projectArg ?? true;
  const properties: Record<string, PanelArg> = takesProject
    ? { project: { type: 'string', description: 'Make this project current first' }, ...spec.args }
    : { ...spec.args };

  /** The panel being built, so a second open while its code loads waits for the same one. */
  let building: Promise<MainAreaWidget<W>> | null = null;
  const build = async (): Promise<MainAreaWidget<W>> => {
    const widget = new MainAreaWidget({ content: await spec.create() });
    widget.id = id;
    widget.title.label = spec.title;
    widget.title.icon = platformIcon;
    widget.title.closable = true;
    await tracker.add(widget);
    return widget;
  };

  app.commands.addCommand(spec.command, {
    label: `Open ${spec.title}`,
    caption: spec.caption,
    icon: platformIcon,
    describedBy: { args: { type: 'object', properties } },
    execute: async args => {
      if (takesProject && typeof args.project === 'string' && args.project && args.project !== project.get()) {
        await project.set(args.project);
      }
      let widget = tracker.currentWidget;
      if (!widget || widget.isDisposed) {
        building ??= build().finally(() => {
          building = null;
        });
        widget = await building;
      }
      if (!widget.isAttached) {
        app.shell.add(widget, 'main');
      }
      app.shell.activateById(widget.id);
      spec.show?.(widget.content, args);
    }
  });

  palette?.addItem({ command: spec.command, category: PALETTE_CATEGORY });
  void restorer?.restore(tracker, { command: spec.command, name: () => spec.name });
  return tracker;
}

/** The argument `key` when it is a non-empty string, else undefined. */
export function stringArg(args: ReadonlyPartialJSONObject, key: string): string | undefined {
  const value = args[key];
  return typeof value === 'string' && value ? value : undefined;
}

/** The argument `key` when it is a number, else undefined. */
export function numberArg(args: ReadonlyPartialJSONObject, key: string): number | undefined {
  const value = args[key];
  return typeof value === 'number' ? value : undefined;
}

/** A panel plugin that needs only the current project: its id and description, and its panel's command. */
export interface IPanelPlugin<W extends Widget> extends Omit<IPanelCommand<W>, 'create'> {
  id: string;
  description: string;
  /** Build the panel (once; again after it was closed); async when its code is loaded on demand. */
  create: (app: JupyterFrontEnd, project: ICurrentProject) => W | Promise<W>;
}

/** The plugin of a main-area panel over the current project. */
export function panelPlugin<W extends Widget>({ id, description, create, ...command }: IPanelPlugin<W>): JupyterFrontEndPlugin<void> {
  return {
    id,
    description,
    autoStart: true,
    requires: [ICurrentProject],
    optional: [ICommandPalette, ILayoutRestorer],
    activate: (
      app: JupyterFrontEnd,
      project: ICurrentProject,
      palette: ICommandPalette | null,
      restorer: ILayoutRestorer | null
    ) => {
      addPanelCommand(app, { project, palette, restorer }, { ...command, create: () => create(app, project) });
    }
  };
}
