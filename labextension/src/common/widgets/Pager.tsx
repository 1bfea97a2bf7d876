import React from 'react';

import { pageRange } from '../paging';

/**
 * A table's pager: where the page stands and buttons to the pages either side; nothing while one page holds all.
 * `newest`: the rows run newest first, so the buttons read Newer/Older instead of Previous/Next.
 */
export function Pager({
  offset,
  shown,
  total,
  pageSize,
  onOffset,
  newest = false,
  testid
}: {
  offset: number;
  shown: number;
  total: number;
  pageSize: number;
  onOffset: (offset: number) => void;
  newest?: boolean;
  testid?: string;
}): JSX.Element | null {
  if (total <= pageSize) {
    return null;
  }
  return (
    <div className="jp-mlp-pager" data-testid={testid}>
      <span>{pageRange(offset, shown, total)}</span>
      <span className="jp-mlp-actions">
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
      </span>
    </div>
  );
}
