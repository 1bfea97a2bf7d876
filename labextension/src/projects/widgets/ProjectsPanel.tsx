import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useCallback, useEffect, useState } from 'react';

import { createProject, listAllProjects, Project, whoami, WhoAmI } from '../../common/api';
import { CurrentProjectStore } from '../../common/currentProject';
import { ErrorBanner, Loading, useCurrentSlug } from '../../common/panel';
import { formatApiError, roleLabel } from '../../common/permissions';
import { CreateProjectForm } from './CreateProjectForm';
import { EncryptionSection } from './EncryptionSection';
import { MembersSection } from './MembersSection';

/**
 * The ML Platform sidebar: who is signed in, the current project, its members, and (for platform
 * admins) a form to create projects.
 */
export class ProjectsPanel extends ReactWidget {
  private readonly _refreshRequested = new Signal<this, void>(this);

  constructor(
    private readonly _store: CurrentProjectStore,
    private readonly _open: PanelOpeners = {}
  ) {
    super();
    this.addClass('jp-mlp-panel');
    this.node.dataset.testid = 'mlp-panel';
  }

  /** Reload the user, their projects and the current project (e.g. after a command changed them). */
  refresh(): void {
    this._refreshRequested.emit();
  }

  /** Make `slug` the current project and reload. */
  async selectProject(slug: string): Promise<void> {
    await this._store.set(slug);
    this.refresh();
  }

  protected render(): JSX.Element {
    return <ProjectsView store={this._store} refreshRequested={this._refreshRequested} open={this._open} />;
  }
}

/** The main-area panels the sidebar opens for the current project, in the order of their buttons. */
const PANELS = [
  { key: 'experiments', label: 'Experiments', title: 'Open the runs of this project' },
  { key: 'pipelines', label: 'Pipelines', title: 'Open the pipelines of this project' },
  { key: 'models', label: 'Models', title: 'Open the registered models of this project' },
  { key: 'deployments', label: 'Deployments', title: 'Open the serving endpoints of this project' },
  {
    key: 'monitoring',
    label: 'Monitoring',
    title: "Drift, performance, alerts and retraining of this project's deployments"
  }
] as const;

/** How the sidebar opens each panel (a panel without one has no button). */
export type PanelOpeners = Partial<Record<(typeof PANELS)[number]['key'], () => void>>;

interface IProjectsViewProps {
  store: CurrentProjectStore;
  refreshRequested: ISignal<ProjectsPanel, void>;
  open: PanelOpeners;
}

function ProjectsView({ store, refreshRequested, open }: IProjectsViewProps): JSX.Element {
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [projects, setProjects] = useState<Project[]>([]);
  const [current, setCurrent] = useState('');
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);

  const showError = useCallback((err: unknown) => {
    setError(err === null ? null : formatApiError(err));
  }, []);

  const reload = useCallback(async () => {
    setLoading(true);
    try {
      const [caller, visible] = await Promise.all([whoami(), listAllProjects()]);
      setMe(caller);
      setProjects(visible);
      const remembered = store.get();
      // A remembered project may have been deleted or the caller removed from it.
      const known = visible.some(p => p.slug === remembered);
      const chosen = known ? remembered : visible[0]?.slug ?? '';
      setCurrent(chosen);
      if (chosen !== remembered) {
        // Other panels (Experiments) follow the store, so it must name the project shown here.
        await store.set(chosen);
      }
    } catch (err) {
      showError(err);
    } finally {
      setLoading(false);
    }
  }, [store, showError]);

  // The selection can change elsewhere (the settings editor, a command).
  useCurrentSlug(store, setCurrent);

  useEffect(() => {
    void reload();
    const onRefresh = () => void reload();
    refreshRequested.connect(onRefresh);
    return () => {
      refreshRequested.disconnect(onRefresh);
    };
  }, [reload, refreshRequested]);

  const choose = (slug: string) => {
    setCurrent(slug);
    store.set(slug).catch(showError);
  };

  const create = async (slug: string, name: string) => {
    showError(null);
    try {
      const created = await createProject({ slug, name });
      await store.set(created.slug);
      await reload();
    } catch (err) {
      showError(err);
      throw err;
    }
  };

  const project = projects.find(p => p.slug === current) ?? null;

  return (
    <div className="jp-mlp-body">
      <header className="jp-mlp-header">
        <h2 className="jp-mlp-title">ML Platform</h2>
        <button
          className="jp-mlp-button jp-mlp-button-small"
          onClick={() => void reload()}
          disabled={loading}
          title="Reload projects and members"
        >
          Refresh
        </button>
      </header>

      <ErrorBanner error={error} onDismiss={() => setError(null)} testid="mlp-error" />

      {loading && !me && <Loading busy />}

      {me && (
        <>
          <div data-testid="mlp-whoami" className="jp-mlp-whoami">
            Signed in as <strong>{me.user}</strong>
            {me.is_admin ? ' (platform admin)' : ''}
          </div>

          <div className="jp-mlp-field">
            <label htmlFor="mlp-project-select">Project</label>
            <span className="jp-mlp-project-row">
              <select
                id="mlp-project-select"
                data-testid="mlp-project-select"
                className="jp-mlp-select"
                value={current}
                disabled={projects.length === 0}
                onChange={e => choose(e.target.value)}
              >
                {projects.length === 0 && <option value="">No projects</option>}
                {projects.map(p => (
                  <option key={p.slug} value={p.slug}>
                    {p.name} ({p.slug})
                  </option>
                ))}
              </select>
              {PANELS.map(
                ({ key, label, title }) =>
                  open[key] && (
                    <button
                      key={key}
                      className="jp-mlp-button"
                      data-testid={`mlp-open-${key}`}
                      disabled={!current}
                      title={title}
                      onClick={open[key]}
                    >
                      {label}
                    </button>
                  )
              )}
            </span>
          </div>

          {projects.length === 0 && !loading && (
            <p className="jp-mlp-hint">
              {me.is_admin
                ? 'There are no projects yet. Create one below.'
                : 'You are not a member of any project yet. Ask a project lead to add you.'}
            </p>
          )}

          {project && (
            <>
              <div className="jp-mlp-role">
                Your role in this project:{' '}
                <strong data-testid="mlp-role">{roleLabel(project.role, project.member_role)}</strong>
              </div>
              {project.description && <p className="jp-mlp-description">{project.description}</p>}
              <EncryptionSection
                key={`enc-${project.slug}`}
                project={project}
                isPlatformAdmin={me.is_admin}
                onError={showError}
              />
              <MembersSection
                key={project.slug}
                project={project}
                caller={me.user}
                isPlatformAdmin={me.is_admin}
                onError={showError}
                onOwnMembershipChanged={() => void reload()}
              />
            </>
          )}

          {me.is_admin && <CreateProjectForm onCreate={create} />}
        </>
      )}
    </div>
  );
}
