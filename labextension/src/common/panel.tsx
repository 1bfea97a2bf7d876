/**
 * The scaffold of a project's main-area panel, so that each feature panel writes only what is its own.
 *
 * - `ProjectPanel`: the Lumino widget half — says when it is shown or hidden, and takes a target (a model, a
 *   deployment...) that a command asks for, kept until the view is first drawn.
 * - `useProjectPanel`: the React half — the current project, the selected target, whether the panel is on screen.
 * - `useProjectRole`: the caller's role in the project (what the panel offers; the backend decides anyway).
 * - `useTicker`: a counter that polls while the panel is on screen.
 * - `useCurrentSlug`: the current project's slug, following the store (the sidebar's picker uses it too).
 * - `NoProject`, `PanelHeader`, `ErrorBanner`, `Loading`: the empty state, the title bar, a dismissable error and
 *   the loading line every panel shows.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useEffect, useRef, useState } from 'react';

import { getProject, Role } from './api';
import type { ICurrentProject } from './currentProject';

/** A main-area panel over the current project that can be asked to show a target of type `T`. */
export abstract class ProjectPanel<T> extends ReactWidget {
  private readonly _visibility = new Signal<ProjectPanel<T>, boolean>(this);
  private readonly _target = new Signal<ProjectPanel<T>, T>(this);
  private _pending: T | null = null;

  constructor(
    readonly store: ICurrentProject,
    options: { classes: string[]; testid: string }
  ) {
    super();
    for (const name of options.classes) {
      this.addClass(name);
    }
    this.node.dataset.testid = options.testid;
  }

  /** Emits true when the panel comes on screen, false when it goes off. */
  get visibility(): ISignal<ProjectPanel<T>, boolean> {
    return this._visibility;
  }

  /** Emits each target asked for while the view is drawn. */
  get target(): ISignal<ProjectPanel<T>, T> {
    return this._target;
  }

  /** Ask the view to show `target` (kept for the first draw when the view is not drawn yet). */
  protected showTarget(target: T): void {
    this._pending = target;
    this._target.emit(target);
  }

  /** The target asked for before the view was first drawn; read once. */
  takePending(): T | null {
    const pending = this._pending;
    this._pending = null;
    return pending;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._visibility.emit(true);
  }

  protected onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this._visibility.emit(false);
  }
}

/** What a panel's view knows about where it stands. */
export interface IProjectPanelState<T> {
  /** The current project's slug ('' when none is selected). */
  slug: string;
  /** The target on show: the one last asked for or chosen; null when none (and after the project changes). */
  selected: T | null;
  setSelected: (target: T | null) => void;
  /** Whether the panel is on screen. */
  visible: boolean;
}

/** The caller's role in a project (null while it loads, read again when the project changes); 'viewer' when it cannot be read. */
export function useProjectRole(slug: string): Role | null {
  const [role, setRole] = useState<Role | null>(null);
  useEffect(() => {
    setRole(null);
    if (!slug) {
      return;
    }
    let live = true;
    getProject(slug)
      .then(project => live && setRole(project.role))
      .catch(() => live && setRole('viewer'));
    return () => {
      live = false;
    };
  }, [slug]);
  return role;
}

/**
 * The state every panel view starts from. `on.shown` runs each time the panel comes back on screen, `on.target`
 * after a target asked for is selected (both optional; the latest ones are called).
 */
export function useProjectPanel<T>(
  panel: ProjectPanel<T>,
  on: { shown?: () => void; target?: (target: T) => void } = {}
): IProjectPanelState<T> {
  const { store } = panel;
  const [selected, setSelected] = useState<T | null>(() => panel.takePending());
  const slug = useCurrentSlug(store, () => setSelected(null));
  const [visible, setVisible] = useState(panel.isVisible);
  const handlers = useRef(on);
  handlers.current = on;

  useEffect(() => {
    const onVisibility = (_: ProjectPanel<T>, shown: boolean) => {
      setVisible(shown);
      if (shown) {
        handlers.current.shown?.();
      }
    };
    const onTarget = (_: ProjectPanel<T>, next: T) => {
      panel.takePending();
      setSelected(next);
      handlers.current.target?.(next);
    };
    panel.visibility.connect(onVisibility);
    panel.target.connect(onTarget);
    return () => {
      panel.visibility.disconnect(onVisibility);
      panel.target.disconnect(onTarget);
    };
  }, [panel]);

  return { slug, selected, setSelected, visible };
}

/** The current project's slug ('' when none), following the store; `changed` runs on each change (the latest one). */
export function useCurrentSlug(store: ICurrentProject, changed?: (slug: string) => void): string {
  const [slug, setSlug] = useState(store.get());
  const handler = useRef(changed);
  handler.current = changed;
  useEffect(() => {
    const follow = (_: ICurrentProject, next: string) => {
      setSlug(next);
      handler.current?.(next);
    };
    store.changed.connect(follow);
    return () => {
      store.changed.disconnect(follow);
    };
  }, [store]);
  return slug;
}

/** A counter that goes up every `ms` while `active` (and once at once when shown again): what polls the panel. */
export function useTicker(active: boolean, ms: number): number {
  const [tick, setTick] = useState(0);
  const shown = useRef(false);
  useEffect(() => {
    if (!active) {
      return;
    }
    if (shown.current) {
      setTick(t => t + 1);
    }
    shown.current = true;
    const timer = window.setInterval(() => setTick(t => t + 1), ms);
    return () => window.clearInterval(timer);
  }, [active, ms]);
  return tick;
}

/** The panel's face when no project is selected: `purpose` says what choosing one shows. */
export function NoProject({ title, purpose }: { title: string; purpose: string }): JSX.Element {
  return (
    <div className="jp-mlp-body jp-mlp-empty-state">
      <h2 className="jp-mlp-title">{title}</h2>
      <p>No project is selected. Choose a project in the ML Platform sidebar to {purpose}.</p>
    </div>
  );
}

/** The panel's title bar: its name, the project, the caller's role once known, then the panel's own tools. */
export function PanelHeader({
  title,
  slug,
  role = null,
  roleTestId,
  children
}: {
  title: string;
  slug: string;
  role?: Role | null;
  roleTestId?: string;
  children?: React.ReactNode;
}): JSX.Element {
  return (
    <header className="jp-mlp-experiments-toolbar">
      <h2 className="jp-mlp-title">
        {title} · {slug}
      </h2>
      {role && (
        <span className="jp-mlp-hint jp-mlp-models-role" data-testid={roleTestId}>
          your role: {role}
        </span>
      )}
      {children}
    </header>
  );
}

/** A dismissable error (nothing when `error` is null). */
export function ErrorBanner({
  error,
  onDismiss,
  testid
}: {
  error: string | null;
  onDismiss: () => void;
  testid?: string;
}): JSX.Element | null {
  if (!error) {
    return null;
  }
  return (
    <div className="jp-mlp-error" role="alert" data-testid={testid}>
      <span>{error}</span>
      <button className="jp-mlp-button jp-mlp-button-small" aria-label="Dismiss error" onClick={onDismiss}>
        ×
      </button>
    </div>
  );
}

/** The line a panel shows while its first answer is on its way. */
export function Loading({ text = 'Loading…', busy = false }: { text?: string; busy?: boolean }): JSX.Element {
  return (
    <div className="jp-mlp-loading" aria-busy={busy ? 'true' : undefined}>
      {text}
    </div>
  );
}
