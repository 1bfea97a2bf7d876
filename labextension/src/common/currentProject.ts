/**
 * Where the panel remembers the selected project: the extension's settings, or localStorage
 * when the setting registry is unavailable.
 */
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ISignal, Signal } from '@lumino/signaling';

/** The settings property holding the selected project's slug. */
export const CURRENT_PROJECT_SETTING = 'currentProject';

/** localStorage key used when settings are unavailable. */
export const CURRENT_PROJECT_STORAGE_KEY = 'jupyter-mlp:currentProject';

/** The minimal Storage surface used, so tests can pass a fake. */
export type IStringStorage = Pick<Storage, 'getItem' | 'setItem'>;

/** The project the ML Platform panels work in, as other plugins see it. */
export interface ICurrentProject {
  /** The selected slug, or '' when none. */
  get(): string;
  /** Select a project ('' selects none). */
  set(slug: string): Promise<void>;
  /** Emits the new slug whenever the selection changes. */
  readonly changed: ISignal<ICurrentProject, string>;
}

/** Reads and writes the selected project's slug. */
export class CurrentProjectStore implements ICurrentProject {
  private readonly _changed = new Signal<this, string>(this);
  private _last: string;

  constructor(
    private readonly _settings: ISettingRegistry.ISettings | null,
    private readonly _storage: IStringStorage | null = defaultStorage()
  ) {
    this._last = this.get();
    // The settings editor can change the project behind the panel's back.
    this._settings?.changed.connect(() => this._emitIfChanged());
  }

  /** Emits the new slug whenever the current project changes. */
  get changed(): ISignal<this, string> {
    return this._changed;
  }

  /** The remembered slug, or '' when none. */
  get(): string {
    if (this._settings) {
      const value = this._settings.get(CURRENT_PROJECT_SETTING).composite;
      return typeof value === 'string' ? value : '';
    }
    return this._storage?.getItem(CURRENT_PROJECT_STORAGE_KEY) ?? '';
  }

  /** Remember a slug ('' forgets it). */
  async set(slug: string): Promise<void> {
    if (this._settings) {
      await this._settings.set(CURRENT_PROJECT_SETTING, slug);
    } else {
      this._storage?.setItem(CURRENT_PROJECT_STORAGE_KEY, slug);
    }
    this._emitIfChanged();
  }

  private _emitIfChanged(): void {
    const now = this.get();
    if (now !== this._last) {
      this._last = now;
      this._changed.emit(now);
    }
  }
}

function defaultStorage(): IStringStorage | null {
  try {
    return typeof window !== 'undefined' ? window.localStorage : null;
  } catch {
    // Storage access throws in some sandboxed iframes.
    return null;
  }
}
