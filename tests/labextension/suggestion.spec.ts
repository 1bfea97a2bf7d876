import type { FamilySuggestion } from '../../labextension/src/common/endpoints/recommender';
import {
  evidenceChips,
  optunaSnippet,
  spaceLines,
  suggestFormProblem
} from '../../labextension/src/experiments/suggestion';

const family: FamilySuggestion = {
  family: 'random_forest',
  score: 0.9,
  search_space: {
    n_estimators: { type: 'int', low: 50, high: 200, log: false, values: [50, 200], prior: { center: 50 } },
    max_features: { type: 'categorical', choices: ['sqrt', 0.5, null, true], weights: [0.4, 0.3, 0.2, 0.1] },
    min_impurity: { type: 'float', low: 0.0001, high: 0.1, log: true }
  },
  preprocessing: [],
  warm_start: [],
  evidence: [
    {
      source: 'platform',
      similarity: 0.91234,
      score: 0.88,
      metric: 'accuracy',
      citation: { type: 'run', id: 'abc123', project: 'acme', label: 'acme-forest' }
    },
    { source: 'corpus', similarity: 0.8, score: 0.86, metric: 'accuracy', dataset: 'openml:31' },
    { source: 'platform', similarity: 0.7, score: 0.85, metric: 'accuracy', anonymous: true }
  ]
};

describe('suggestion pane', () => {
  it('says what the form lacks', () => {
    expect(suggestFormProblem('', 'y')).toBe('Pick a dataset');
    expect(suggestFormProblem('churn', '  ')).toBe('Name the target column');
    expect(suggestFormProblem('churn', 'churned')).toBeNull();
  });

  it('makes a chip per evidence item: cited runs open, others are named or anonymous', () => {
    const chips = evidenceChips(family.evidence);
    expect(chips.map(c => c.label)).toEqual([
      'run acme-forest',
      'dataset openml:31',
      'another project (anonymous)'
    ]);
    expect(chips[0].run).toEqual({ project: 'acme', id: 'abc123' });
    expect(chips[0].title).toBe('acme / abc123: accuracy 0.88, similarity 0.9123');
    expect(chips[1].run).toBeUndefined();
    expect(chips[2].run).toBeUndefined();
    expect(chips[2].title).not.toMatch(/acme|abc123/);
  });

  it('writes one line per hyperparameter', () => {
    expect(spaceLines(family.search_space)).toEqual([
      'n_estimators: int 50..200',
      'max_features: one of "sqrt", 0.5, null, true',
      'min_impurity: float 0.0001..0.1 (log)'
    ]);
  });

  it('copies the space as Python building Optuna distributions, with the tags to put on the run', () => {
    const code = optunaSnippet(family, 's1');
    expect(code).toContain('"n_estimators": IntDistribution(50, 200, log=False),');
    expect(code).toContain('"max_features": CategoricalDistribution(["sqrt", 0.5, None, True]),');
    expect(code).toContain('"min_impurity": FloatDistribution(0.0001, 0.1, log=True),');
    expect(code).toContain('tags = {"mlp.suggestion_id": "s1", "mlp.family": "random_forest"}');
  });
});
