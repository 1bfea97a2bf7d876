/// <reference types="node" />
/**
 * What JupyterLab fetches at start is the plugin entry, labextension/src/index.ts, and every module it imports
 * statically (issue 17: at most 100 KB before a panel opens, tests/bench/bench_page_load.py measures it). Each
 * panel's React code, the API client and the chart library are reached only through dynamic `import()`, so
 * webpack puts them in chunks fetched when a panel opens. This test walks the static imports (not `import type`,
 * not `import()`) from index.ts and fails when one reaches code that belongs in those chunks.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const SRC = path.resolve(__dirname, '..', '..', 'labextension', 'src');

/** The modules a file imports for their values, as written (type-only imports and exports left out). */
function staticImports(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const specifiers: string[] = [];
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && !statement.importClause?.isTypeOnly) {
      specifiers.push((statement.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier && !statement.isTypeOnly) {
      specifiers.push((statement.moduleSpecifier as ts.StringLiteral).text);
    }
  }
  return specifiers;
}

function resolveRelative(from: string, specifier: string): string {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [`${base}.ts`, `${base}.tsx`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate)) {
      return candidate;
    }
  }
  throw new Error(`${path.relative(SRC, from)} imports ${specifier}, which does not resolve`);
}

/** Every module (relative to labextension/src) and package reached by static imports from `entry`. */
function staticClosure(entry: string): { modules: Set<string>; packages: Set<string> } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    const name = path.relative(SRC, file);
    if (modules.has(name)) {
      return;
    }
    modules.add(name);
    for (const specifier of staticImports(file)) {
      if (specifier.startsWith('.')) {
        visit(resolveRelative(file, specifier));
      } else {
        packages.add(specifier);
      }
    }
  };
  visit(entry);
  return { modules, packages };
}

describe('the plugin entry', () => {
  const { modules, packages } = staticClosure(path.join(SRC, 'index.ts'));

  it('reaches no panel or dialog code statically (React views load when a panel opens)', () => {
    // NotebookProjectLabel is the notebook toolbar's "Project: <slug>", a plain DOM widget built with the toolbar.
    const views = [...modules].filter(m => m.includes(`widgets${path.sep}`) && !m.endsWith('NotebookProjectLabel.ts'));
    expect(views).toEqual([]);
    expect([...modules].filter(m => m.endsWith('.tsx'))).toEqual([]);
  });

  it('reaches neither the API client nor the chart library statically', () => {
    const client = [...modules].filter(
      m => /^common[\\/](api|client|apiSchemas)\.ts$/.test(m) || m.startsWith(`common${path.sep}endpoints`)
    );
    expect(client).toEqual([]);
    expect([...packages].filter(p => ['uplot', 'openapi-fetch', 'react', 'react-dom'].includes(p.split('/')[0]))).toEqual([]);
    expect([...packages].filter(p => p.endsWith('.css'))).toEqual([]);
  });

  it('registers the plugins (the closure is the real one: every feature folder is in it)', () => {
    for (const plugin of [
      'experiments/experimentsPlugin.ts',
      'pipelines/pipelinesPlugin.ts',
      'pipelines/promotePlugin.ts',
      'models/modelsPlugin.ts',
      'deployments/deploymentsPlugin.ts',
      'monitoring/monitoringPlugin.ts',
      'assistant/assistantPlugin.ts',
      'projects/projectMarkerPlugins.ts',
      'ship/shipPlugin.ts'
    ]) {
      expect(modules).toContain(plugin.split('/').join(path.sep));
    }
  });
});
