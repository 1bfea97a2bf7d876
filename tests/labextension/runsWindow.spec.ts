import { PageCache, pagesFor, visibleWindow } from '../../labextension/src/experiments/runsWindow';

describe('visibleWindow', () => {
  it('covers the visible rows plus the overscan, clamped to the table', () => {
    expect(visibleWindow(0, 280, 28, 1000, 5)).toEqual({ start: 0, end: 16 });
    expect(visibleWindow(2800, 280, 28, 1000, 5)).toEqual({ start: 95, end: 116 });
    expect(visibleWindow(27972, 280, 28, 1000, 5)).toEqual({ start: 994, end: 1000 });
  });

  it('is empty for an empty table', () => {
    expect(visibleWindow(0, 280, 28, 0)).toEqual({ start: 0, end: 0 });
  });

  it('never starts past the last row after the table shrank', () => {
    const window = visibleWindow(100000, 280, 28, 10, 5);
    expect(window.start).toBeLessThan(10);
    expect(window.end).toBe(10);
  });
});

describe('pagesFor', () => {
  it('names every page holding a row of the window', () => {
    expect(pagesFor({ start: 95, end: 116 }, 100)).toEqual([0, 1]);
    expect(pagesFor({ start: 0, end: 100 }, 100)).toEqual([0]);
    expect(pagesFor({ start: 100, end: 101 }, 100)).toEqual([1]);
    expect(pagesFor({ start: 5, end: 5 }, 100)).toEqual([]);
  });
});

describe('PageCache', () => {
  it('serves rows from fetched pages and asks only for missing ones', () => {
    const cache = new PageCache<string>(3);
    cache.set(0, ['a', 'b', 'c']);
    expect(cache.row(2)).toBe('c');
    expect(cache.row(3)).toBeUndefined();
    expect(cache.missing({ start: 1, end: 8 })).toEqual([1, 2]);
    cache.markLoading(1);
    expect(cache.missing({ start: 1, end: 8 })).toEqual([2]);
    cache.unmarkLoading(1);
    expect(cache.missing({ start: 1, end: 8 })).toEqual([1, 2]);
  });

  it('forgets pages outside the view when the data changed, and everything on clear', () => {
    const cache = new PageCache<number>(2);
    cache.set(0, [1, 2]);
    cache.set(1, [3, 4]);
    cache.set(2, [5, 6]);
    cache.invalidateExcept([1]);
    expect(cache.has(0)).toBe(false);
    expect(cache.has(1)).toBe(true);
    expect(cache.size).toBe(1);
    cache.clear();
    expect(cache.size).toBe(0);
  });
});
