/**
 * Where the panel remembers the selected project: the extension's settings, or localStorage
 * when the setting registry is unavailable.
 */
import type { ISettingRegistry } from '@jupyterlab/settingregistry';

/** The settings property holding the selected project's slug. */
export const CURRENT_PROJECT_SETTING = 'currentProject';

/** localStorage key used when settings are unavailable. */
export const CURRENT_PROJECT_STORAGE_KEY = 'jupyter-mlp:currentProject';

/** The minimal Storage surface used, so tests can pass a fake. */
export type IStringStorage = Pick<Storage, 'getItem' | 'setItem'>;

/** Reads and writes the selected project's slug. */
export class CurrentProjectStore {
  constructor(
    private readonly _settings: ISettingRegistry.ISettings | null,
    private readonly _storage: IStringStorage | null = defaultStorage()
  ) {}

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
      return;
    }
    this._storage?.setItem(CURRENT_PROJECT_STORAGE_KEY, slug);
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
