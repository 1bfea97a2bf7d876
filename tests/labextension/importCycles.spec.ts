/// <reference types="node" />
/**
 * No import cycles in labextension/src (issue 12): the extension is sorted into feature folders over common/, and a
 * cycle is the first sign that a folder reaches back into one that depends on it. Every relative import counts,
 * `import type` too: a type-only cycle still ties two modules together for a reader and for the next change.
 *
 * The graph is read with the TypeScript compiler's own import scanner (`ts.preProcessFile`), so no parser of ours.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const SRC = path.resolve(__dirname, '..', '..', 'labextension', 'src');

type Graph = Map<string, string[]>;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      return sourceFiles(full);
    }
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The file a relative specifier names, as the compiler resolves it (`x` -> x.ts, x.tsx, x/index.ts). */
function resolveRelative(from: string, specifier: string): string | null {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, path.join(base, 'index.ts'), path.join(base, 'index.tsx')]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      return candidate;
    }
  }
  return null;
}

/** Each module under `root` and the modules under `root` it imports (relative imports only). */
export function importGraph(root: string): Graph {
  const graph: Graph = new Map();
  for (const file of sourceFiles(root)) {
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    const targets = info.importedFiles
      .map(ref => ref.fileName)
      .filter(spec => spec.startsWith('.'))
      .map(spec => resolveRelative(file, spec))
      .filter((target): target is string => target !== null && target.startsWith(root + path.sep));
    graph.set(path.relative(root, file), [...new Set(targets.map(target => path.relative(root, target)))]);
  }
  return graph;
}

/** Every elementary cycle's first occurrence found by a depth-first walk, each as its modules in import order. */
export function findCycles(graph: Graph): string[][] {
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    seen.add(node);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!seen.has(next)) {
        visit(next);
      } else if (!done.has(next)) {
        cycles.push([...stack.slice(stack.indexOf(next)), next]);
      }
    }
    stack.pop();
    done.add(node);
  };
  for (const node of [...graph.keys()].sort()) {
    if (!seen.has(node)) {
      visit(node);
    }
  }
  return cycles;
}

describe('import cycles', () => {
  it('finds a cycle, a self-import and a long loop, and not a diamond', () => {
    expect(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', ['a']]
        ])
      )
    ).toEqual([['a', 'b', 'a']]);
    expect(findCycles(new Map([['a', ['a']]]))).toEqual([['a', 'a']]);
    expect(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']]
        ])
      )
    ).toEqual([['a', 'b', 'c', 'a']]);
    expect(
      findCycles(
        new Map([
          ['a', ['b', 'c']],
          ['b', ['d']],
          ['c', ['d']],
          ['d', []]
        ])
      )
    ).toEqual([]);
  });

  it('reads the extension\'s imports, the compiler resolving each path', () => {
    const graph = importGraph(SRC);
    expect(graph.get('index.ts')).toEqual(expect.arrayContaining([path.join('common', 'api.ts')]));
    expect(graph.size).toBeGreaterThan(50);
  });

  it('labextension/src has no import cycle', () => {
    const cycles = findCycles(importGraph(SRC)).map(cycle => cycle.join(' -> '));
    expect(cycles).toEqual([]);
  });

  it('common/ reaches into no feature folder but for the runs query string the client sends', () => {
    const outside = [...importGraph(SRC)]
      .filter(([file]) => file.startsWith(`common${path.sep}`))
      .flatMap(([file, targets]) => targets.filter(t => !t.startsWith(`common${path.sep}`)).map(t => `${file} -> ${t}`));
    expect(outside).toEqual([`common${path.sep}api.ts -> experiments${path.sep}runsQuery.ts`]);
  });
});
