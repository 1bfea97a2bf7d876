import { fileIcon, folderIcon } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import { ArtifactList, artifactUrl, listArtifacts } from '../../common/api';
import { formatApiError } from '../../common/errors';
import { formatBytes } from '../../common/runFormat';

export interface IArtifactsBrowserProps {
  slug: string;
  runId: string;
}

function baseName(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? path;
}

function parentOf(path: string): string {
  const parts = path.split('/').filter(Boolean);
  parts.pop();
  return parts.join('/');
}

/** A run's artifacts, one folder at a time; files are download links. */
export function ArtifactsBrowser({ slug, runId }: IArtifactsBrowserProps): JSX.Element {
  const [path, setPath] = useState('');
  const [listing, setListing] = useState<ArtifactList | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    setListing(null);
    setError(null);
    listArtifacts(slug, runId, path)
      .then(result => live && setListing(result))
      .catch(err => live && setError(formatApiError(err)));
    return () => {
      live = false;
    };
  }, [slug, runId, path]);

  return (
    <div className="jp-mlp-artifacts" data-testid="mlp-artifacts">
      <div className="jp-mlp-artifacts-path">
        <button className="jp-mlp-link" onClick={() => setPath('')}>
          artifacts
        </button>
        {path
          .split('/')
          .filter(Boolean)
          .map((part, i, parts) => (
            <React.Fragment key={i}>
              {' / '}
              <button
                className="jp-mlp-link"
                onClick={() => setPath(parts.slice(0, i + 1).join('/'))}
              >
                {part}
              </button>
            </React.Fragment>
          ))}
      </div>
      {error && <div className="jp-mlp-error">{error}</div>}
      {!listing && !error && <div className="jp-mlp-loading">Loading…</div>}
      {listing && listing.items.length === 0 && <p className="jp-mlp-hint">No artifacts here.</p>}
      {listing && (
        <ul className="jp-mlp-artifact-list">
          {path && (
            <li>
              <button className="jp-mlp-link" onClick={() => setPath(parentOf(path))}>
                ..
              </button>
            </li>
          )}
          {listing.items.map(item => (
            <li key={item.path} data-artifact={item.path}>
              {item.is_dir ? (
                <button className="jp-mlp-link" onClick={() => setPath(item.path)}>
                  <folderIcon.react tag="span" className="jp-mlp-artifact-icon" />
                  {baseName(item.path)}/
                </button>
              ) : (
                <>
                  <fileIcon.react tag="span" className="jp-mlp-artifact-icon" />
                  <a
                    href={artifactUrl(slug, runId, item.path)}
                    download={baseName(item.path)}
                    title="Download"
                  >
                    {baseName(item.path)}
                  </a>{' '}
                  <span className="jp-mlp-hint">{formatBytes(item.file_size)}</span>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
