import React from 'react';

import { pageRange } from '../paging';

/**
 * A table's pager: where the page stands and buttons to the pages either side; nothing while one page holds all.
 * `newest`: the rows run newest first, so the buttons read Newer/Older instead of Previous/Next.
 * `onRefresh`: a list's pager, always shown, with a Refresh button first (and 'Loading…' while `loading`).
 * `pageButtons`: the Previous and Next buttons stay (disabled) on a single page too.
 */
export function Pager({
  offset,
  shown,
  total,
  pageSize,
  onOffset,
  newest = false,
  testid,
  onRefresh,
  loading = false,
  countTestId,
  pageButtons = false
}: {
  offset: number;
  shown: number;
  total: number;
  pageSize: number;
  onOffset: (offset: number) => void;
  newest?: boolean;
  testid?: string;
  onRefresh?: () => void;
  loading?: boolean;
  countTestId?: string;
  pageButtons?: boolean;
}): JSX.Element | null {
  const paged = pageButtons || total > pageSize;
  if (!paged && !onRefresh) {
    return null;
  }
  return (
    <div className="jp-mlp-pager" data-testid={testid}>
      <span data-testid={countTestId}>{loading ? 'Loading…' : pageRange(offset, shown, total)}</span>
      <span className="jp-mlp-actions">
        {onRefresh && (
          <button className="jp-mlp-button jp-mlp-button-small" onClick={() => onRefresh()}>
            Refresh
          </button>
        )}
        {paged && (
          <>
            <button
              className="jp-mlp-button jp-mlp-button-small"
              disabled={offset === 0}
              onClick={() => onOffset(Math.max(0, offset - pageSize))}
            >
              {newest ? '‹ Newer' : '‹ Previous'}
            </button>
            <button
              className="jp-mlp-button jp-mlp-button-small"
              disabled={offset + shown >= total}
              onClick={() => onOffset(offset + pageSize)}
            >
              {newest ? 'Older ›' : 'Next ›'}
            </button>
          </>
        )}
      </span>
    </div>
  );
}
