/**
 * The Suggest pane's logic, free of React and JupyterLab so jest tests it directly: what the form still lacks, the
 * evidence chips of a family (a cited run opens, a corpus dataset is named, another project's run stays anonymous),
 * the search space written as Python to copy, and one line per hyperparameter.
 */
import type { FamilySuggestion, SuggestionEvidence } from '../common/endpoints/recommender';

type Spec = { [key: string]: unknown };

export interface IEvidenceChip {
  label: string;
  title: string;
  /** The run to open, when the user may open it. */
  run?: { project: string; id: string };
}

/** Why the form cannot be sent yet, or null. */
export function suggestFormProblem(dataset: string, target: string): string | null {
  if (!dataset) {
    return 'Pick a dataset';
  }
  if (!target.trim()) {
    return 'Name the target column';
  }
  return null;
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v);
}

/** One chip per evidence item, most similar first (as the server orders them). */
export function evidenceChips(evidence: SuggestionEvidence[]): IEvidenceChip[] {
  return evidence.map(e => {
    const tail = `${e.metric} ${fmt(e.score)}, similarity ${fmt(e.similarity)}`;
    if (e.citation) {
      return {
        label: `run ${e.citation.label}`,
        title: `${e.citation.project} / ${e.citation.id}: ${tail}`,
        run: { project: e.citation.project, id: e.citation.id }
      };
    }
    if (e.source === 'corpus') {
      return { label: `dataset ${e.dataset ?? ''}`, title: `prior corpus: ${tail}` };
    }
    return { label: 'another project (anonymous)', title: tail };
  });
}

/** `n_estimators: int 50..200 (log)` / `max_features: one of "sqrt", 0.5`. */
export function spaceLines(space: { [name: string]: Spec }): string[] {
  return Object.entries(space).map(([name, spec]) => {
    if (spec.type === 'categorical') {
      return `${name}: one of ${(spec.choices as unknown[]).map(c => JSON.stringify(c)).join(', ')}`;
    }
    return `${name}: ${String(spec.type)} ${fmt(spec.low)}..${fmt(spec.high)}${spec.log ? ' (log)' : ''}`;
  });
}

function py(v: unknown): string {
  if (v === null || v === undefined) {
    return 'None';
  }
  if (typeof v === 'boolean') {
    return v ? 'True' : 'False';
  }
  return JSON.stringify(v);
}

/** The family's search space as Python that builds Optuna distributions (what Copy puts on the clipboard). */
export function optunaSnippet(family: FamilySuggestion, suggestionId: string): string {
  const lines = Object.entries(family.search_space as { [name: string]: Spec }).map(([name, spec]) => {
    if (spec.type === 'categorical') {
      return `    ${JSON.stringify(name)}: CategoricalDistribution([${(spec.choices as unknown[]).map(py).join(', ')}]),`;
    }
    const cls = spec.type === 'int' ? 'IntDistribution' : 'FloatDistribution';
    return `    ${JSON.stringify(name)}: ${cls}(${py(spec.low)}, ${py(spec.high)}, log=${spec.log ? 'True' : 'False'}),`;
  });
  return [
    `# ${family.family}: search space from suggestion ${suggestionId}`,
    'from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution',
    '',
    'search_space = {',
    ...lines,
    '}',
    `tags = {"mlp.suggestion_id": ${JSON.stringify(suggestionId)}, "mlp.family": ${JSON.stringify(family.family)}}`,
    ''
  ].join('\n');
}
