/**
 * What the Projects panel says about a project's encryption at rest (docs/security.md#encryption-at-rest), and what
 * it offers: platform admins turn it on or off; everyone else reads it (the backend decides either way).
 */
import type { EncryptionOut } from '../common/apiSchemas';

export interface IEncryptionView {
  /** One line: whether the project's files are encrypted, and under which data key. */
  text: string;
  /** The button a platform admin gets (what pressing it asks for); null for everyone else. */
  toggle: { label: string; enabled: boolean } | null;
  /** Why there is no button, for those who get none. */
  hint: string | null;
}

/** The first characters of a key id, enough to tell keys apart in the panel. */
export function shortKey(keyId: string): string {
  return keyId.length > 8 ? `${keyId.slice(0, 8)}…` : keyId;
}

export function encryptionView(status: EncryptionOut, isPlatformAdmin: boolean): IEncryptionView {
  let text: string;
  if (status.enabled && status.key_id) {
    text = `Encrypted at rest (AES-256-GCM, data key ${shortKey(status.key_id)})`;
  } else if (status.key_id) {
    text = 'Not encrypted at rest: new files are written in the clear; files encrypted before stay readable';
  } else {
    text = 'Not encrypted at rest';
  }
  if (!isPlatformAdmin) {
    return { text, toggle: null, hint: 'Only a platform admin can change this.' };
  }
  const toggle = status.enabled
    ? { label: 'Turn encryption off', enabled: false }
    : { label: 'Turn encryption on', enabled: true };
  return { text, toggle, hint: null };
}
