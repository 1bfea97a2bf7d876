import React, { useCallback, useEffect, useRef, useState } from 'react';

import { EncryptionOut, getEncryption, Project, setEncryption } from '../../common/api';
import { encryptionView } from '../encryption';

/** Props for the encryption-at-rest line of the Projects panel. */
export interface IEncryptionSectionProps {
  project: Project;
  isPlatformAdmin: boolean;
  /** Show an error (or clear it with null). */
  onError: (error: unknown) => void;
}

/**
 * Whether the project's files are encrypted at rest; a platform admin's button turns it on or off. Give it
 * `key={project.slug}` so that switching projects reads the new project's state.
 */
export function EncryptionSection(props: IEncryptionSectionProps): JSX.Element {
  const { project, isPlatformAdmin, onError } = props;
  const [status, setStatus] = useState<EncryptionOut | null>(null);
  const [busy, setBusy] = useState(false);
  const latest = useRef(0);

  const load = useCallback(async () => {
    const request = ++latest.current;
    try {
      const got = await getEncryption(project.slug);
      if (request === latest.current) {
        setStatus(got);
      }
    } catch (error) {
      if (request === latest.current) {
        onError(error);
      }
    }
  }, [project.slug, onError]);

  useEffect(() => {
    void load();
  }, [load]);

  const toggle = async (enabled: boolean) => {
    setBusy(true);
    try {
      setStatus(await setEncryption(project.slug, enabled));
    } catch (error) {
      onError(error);
    } finally {
      setBusy(false);
    }
  };

  if (status === null) {
    return <div className="jp-mlp-loading">Loading encryption at rest…</div>;
  }
  const view = encryptionView(status, isPlatformAdmin);
  return (
    <div className="jp-mlp-role" data-testid="mlp-encryption">
      <span data-testid="mlp-encryption-state">{view.text}</span>{' '}
      {view.toggle && (
        <button
          className="jp-mlp-button jp-mlp-button-small"
          data-testid="mlp-encryption-toggle"
          disabled={busy}
          onClick={() => void toggle(view.toggle!.enabled)}
        >
          {view.toggle.label}
        </button>
      )}
      {view.hint && <span className="jp-mlp-hint"> {view.hint}</span>}
    </div>
  );
}
