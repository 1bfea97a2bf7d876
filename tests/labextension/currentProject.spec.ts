import type { ISettingRegistry } from '@jupyterlab/settingregistry';

import {
  CURRENT_PROJECT_STORAGE_KEY,
  CurrentProjectStore,
  IStringStorage
} from '../../labextension/src/common/currentProject';

function memoryStorage(): IStringStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: key => data.get(key) ?? null,
    setItem: (key, value) => void data.set(key, value)
  };
}

/** Just enough of ISettings for the store: `get(...).composite` and `set`. */
function fakeSettings(initial: string): ISettingRegistry.ISettings {
  const values: Record<string, unknown> = { currentProject: initial };
  return {
    changed: { connect: () => true },
    get: (key: string) => ({ composite: values[key], user: values[key] }),
    set: async (key: string, value: unknown) => {
      values[key] = value;
    }
  } as unknown as ISettingRegistry.ISettings;
}

describe('CurrentProjectStore', () => {
  it('reads and writes the currentProject setting when settings are available', async () => {
    const storage = memoryStorage();
    const store = new CurrentProjectStore(fakeSettings('churn'), storage);
    expect(store.get()).toBe('churn');
    await store.set('fraud');
    expect(store.get()).toBe('fraud');
    expect(storage.data.size).toBe(0);
  });

  it('falls back to localStorage without settings', async () => {
    const storage = memoryStorage();
    const store = new CurrentProjectStore(null, storage);
    expect(store.get()).toBe('');
    await store.set('fraud');
    expect(storage.data.get(CURRENT_PROJECT_STORAGE_KEY)).toBe('fraud');
    expect(new CurrentProjectStore(null, storage).get()).toBe('fraud');
  });

  it('remembers nothing without settings or storage', async () => {
    const store = new CurrentProjectStore(null, null);
    await store.set('fraud');
    expect(store.get()).toBe('');
  });
});

describe('CurrentProjectStore.changed', () => {
  it('emits the new slug once per change', async () => {
    const store = new CurrentProjectStore(null, memoryStorage());
    const seen: string[] = [];
    store.changed.connect((_, slug) => seen.push(slug));
    await store.set('churn');
    await store.set('churn');
    await store.set('fraud');
    expect(seen).toEqual(['churn', 'fraud']);
  });
});
