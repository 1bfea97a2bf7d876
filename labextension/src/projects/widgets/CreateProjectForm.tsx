import React, { useState } from 'react';

import { validateSlug } from '../../common/permissions';

/** Props for the create-project form. */
export interface ICreateProjectFormProps {
  /** Create the project; rejects with the error to show. */
  onCreate: (slug: string, name: string) => Promise<void>;
}

/** A small form for platform admins to create a project. */
export function CreateProjectForm({ onCreate }: ICreateProjectFormProps): JSX.Element {
  const [slug, setSlug] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const slugProblem = slug ? validateSlug(slug) : null;
  const canSubmit = !busy && slug !== '' && !slugProblem && name.trim() !== '';

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    if (!canSubmit) {
      return;
    }
    setBusy(true);
    try {
      await onCreate(slug, name.trim());
      setSlug('');
      setName('');
    } catch {
      // The panel shows the error; keep what was typed so it can be corrected.
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="jp-mlp-form" onSubmit={submit} aria-label="Create project">
      <h3 className="jp-mlp-heading">Create project</h3>
      <label className="jp-mlp-field">
        <span>Slug</span>
        <input
          data-testid="mlp-new-project-slug"
          className="jp-mod-styled"
          value={slug}
          placeholder="e.g. churn-2025"
          maxLength={64}
          aria-invalid={slugProblem !== null}
          onChange={e => setSlug(e.target.value)}
        />
      </label>
      {slugProblem && <div className="jp-mlp-hint">{slugProblem}</div>}
      <label className="jp-mlp-field">
        <span>Name</span>
        <input
          data-testid="mlp-new-project-name"
          className="jp-mod-styled"
          value={name}
          placeholder="Customer churn model"
          maxLength={200}
          onChange={e => setName(e.target.value)}
        />
      </label>
      <button
        type="submit"
        data-testid="mlp-create-project"
        className="jp-mlp-button jp-mod-accept"
        disabled={!canSubmit}
      >
        {busy ? 'Creating…' : 'Create project'}
      </button>
    </form>
  );
}
