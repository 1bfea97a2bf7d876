import {
  loggedNotebookPath,
  projectLabel,
  projectMarkerContent,
  projectMarkerPath
} from '../../labextension/src/projects/projectMarker';

describe('project marker', () => {
  it('writes the slug as a TOML string', () => {
    expect(projectMarkerContent('churn-2025')).toBe('project = "churn-2025"\n');
    expect(projectMarkerContent('a"b\\c')).toBe('project = "a\\"b\\\\c"\n');
  });

  it('puts the marker inside the folder', () => {
    expect(projectMarkerPath('work/churn')).toBe('work/churn/mlp-project.toml');
    expect(projectMarkerPath('work/churn/')).toBe('work/churn/mlp-project.toml');
    expect(projectMarkerPath('')).toBe('mlp-project.toml');
  });

  it('labels a notebook with its project and explains the rule otherwise', () => {
    const rule = 'The nearest mlp-project.toml above the notebook names its project.';
    expect(projectLabel({ project: 'churn', marker: 'work/mlp-project.toml', rule })).toEqual({
      text: 'Project: churn',
      tooltip: `Decided by work/mlp-project.toml. ${rule}`
    });
    const none = projectLabel({ project: null, marker: null, rule });
    expect(none.text).toBe('No project');
    expect(none.tooltip).toContain(rule);
    expect(projectLabel(null, 'Server down.').tooltip).toContain('Server down.');
  });

  it('keeps logged copies under mlp-logged-notebooks (Jupyter refuses hidden folders) with a safe run id', () => {
    expect(loggedNotebookPath('abc123')).toBe('mlp-logged-notebooks/abc123/notebook.ipynb');
    expect(loggedNotebookPath('../etc')).toBe('mlp-logged-notebooks/___etc/notebook.ipynb');
  });
});
