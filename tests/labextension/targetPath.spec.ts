/**
 * "Which notebook did the user mean" (labextension/src/common/targetPath.ts), shared by Promote to Pipeline… and
 * Ship… (it was duplicated in both plugins).
 */
import { isNotebookWidget, ITargetSources, targetPath } from '../../labextension/src/common/targetPath';

const notebook = (path: string) => ({ context: { path, contentsModel: { type: 'notebook' } } });
const textFile = (path: string) => ({ context: { path, contentsModel: { type: 'file' } } });

const sources = (over: Partial<ITargetSources>): ITargetSources => ({
  onBrowserItem: false,
  selected: () => null,
  current: null,
  ...over
});

describe('targetPath', () => {
  it('takes the path argument over everything else', () => {
    const s = sources({ onBrowserItem: true, selected: () => ({ type: 'notebook', path: 'b.ipynb' }), current: notebook('c.ipynb') });
    expect(targetPath({ path: 'a.ipynb' }, s)).toBe('a.ipynb');
  });

  it('from a file browser context menu, is the item clicked: a notebook, or none at all', () => {
    const current = notebook('open.ipynb');
    expect(targetPath({}, sources({ onBrowserItem: true, selected: () => ({ type: 'notebook', path: 'x/n.ipynb' }), current }))).toBe('x/n.ipynb');
    // A folder right-clicked is no notebook, even with a notebook open: the menu was about the folder.
    expect(targetPath({}, sources({ onBrowserItem: true, selected: () => ({ type: 'directory', path: 'x' }), current }))).toBeNull();
    expect(targetPath({}, sources({ onBrowserItem: true, current }))).toBeNull();
  });

  it('elsewhere, is the current notebook, else the notebook selected in the file browser', () => {
    const selected = () => ({ type: 'notebook', path: 'picked.ipynb' });
    expect(targetPath({}, sources({ current: notebook('open.ipynb'), selected }))).toBe('open.ipynb');
    expect(targetPath({}, sources({ current: textFile('notes.md'), selected }))).toBe('picked.ipynb');
    expect(targetPath({}, sources({ current: null, selected }))).toBe('picked.ipynb');
    expect(targetPath({}, sources({ current: textFile('notes.md') }))).toBeNull();
  });

  it('ignores a path argument that is not a string', () => {
    expect(targetPath({ path: 3 }, sources({ current: notebook('open.ipynb') }))).toBe('open.ipynb');
  });
});

describe('isNotebookWidget', () => {
  it('is true only for a widget whose document is a notebook', () => {
    expect(isNotebookWidget(notebook('a.ipynb'))).toBe(true);
    expect(isNotebookWidget(textFile('a.py'))).toBe(false);
    expect(isNotebookWidget({})).toBe(false);
    expect(isNotebookWidget(null)).toBe(false);
    expect(isNotebookWidget(undefined)).toBe(false);
  });
});
