import { encryptionView, shortKey } from '../../labextension/src/projects/encryption';

const KEY = '0123456789abcdef0123456789abcdef';

function status(enabled: boolean, keyId: string | null) {
  return {
    project: 'acme',
    enabled,
    key_id: keyId,
    master_key_id: keyId ? 'm1' : null,
    created_at: keyId ? '2026-12-06T05:00:00' : null,
    rewrapped_at: null
  };
}

describe('encryptionView', () => {
  it('says whether the project is encrypted at rest, naming its data key', () => {
    expect(encryptionView(status(true, KEY), false).text).toBe(
      'Encrypted at rest (AES-256-GCM, data key 01234567…)'
    );
    expect(encryptionView(status(false, null), false).text).toBe('Not encrypted at rest');
    expect(encryptionView(status(false, KEY), false).text).toMatch(/^Not encrypted at rest: new files .* stay readable$/);
  });

  it('is read-only for everyone but a platform admin', () => {
    for (const s of [status(true, KEY), status(false, null)]) {
      const view = encryptionView(s, false);
      expect(view.toggle).toBeNull();
      expect(view.hint).toBe('Only a platform admin can change this.');
    }
  });

  it('lets a platform admin turn it on, and off again', () => {
    expect(encryptionView(status(false, null), true)).toEqual({
      text: 'Not encrypted at rest',
      toggle: { label: 'Turn encryption on', enabled: true },
      hint: null
    });
    expect(encryptionView(status(true, KEY), true).toggle).toEqual({ label: 'Turn encryption off', enabled: false });
    expect(encryptionView(status(false, KEY), true).toggle).toEqual({ label: 'Turn encryption on', enabled: true });
  });
});

describe('shortKey', () => {
  it('keeps short ids whole', () => {
    expect(shortKey('abc')).toBe('abc');
    expect(shortKey(KEY)).toBe('01234567…');
  });
});
