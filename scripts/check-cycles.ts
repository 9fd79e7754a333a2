/**
 * Fails (exit 1) when src/ has an import cycle, between files or between areas. An area is a
 * folder directly under src/ (auth, identity, ...) or a file directly under it (config.ts,
 * errors.ts, ...). Every import counts, `import type` and `export ... from` included: a type
 * cycle still ties two modules together. Run by `npm run lint`.
 *
 * Written with the TypeScript compiler API rather than an ESLint plugin: no extra dependency,
 * and import-x/no-cycle sees only file cycles, not cycles between folders.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

type Graph = Map<string, Set<string>>;

/** The `.ts` files under `dir`, as absolute paths. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(dir, file))
    .sort();
}

/** The files of `files` that `file` imports (relative imports only: packages cannot close a cycle). */
function importsOf(file: string, files: ReadonlySet<string>, options: ts.CompilerOptions): Set<string> {
  const text = readFileSync(file, 'utf8');
  // Lexical scan: static imports (type-only too), re-exports and dynamic `import()`.
  const { importedFiles } = ts.preProcessFile(text, true, true);
  const found = new Set<string>();
  for (const { fileName } of importedFiles) {
    if (!fileName.startsWith('.')) continue;
    const resolved = ts.resolveModuleName(fileName, file, options, ts.sys).resolvedModule;
    const target = resolved === undefined ? undefined : resolve(resolved.resolvedFileName);
    if (target === undefined || !files.has(target)) {
      throw new Error(`${file}: cannot resolve ${fileName}`);
    }
    found.add(target);
  }
  return found;
}

/** Tarjan's strongly connected components with more than one node (or a node importing itself). */
function cycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const result: string[][] = [];

  function visit(node: string): void {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || graph.get(node)?.has(node) === true) result.push(component.sort());
  }

  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return result;
}

/** The area of a path relative to src/: its first folder, or the file itself. */
function areaOf(path: string): string {
  const [first = path, ...rest] = path.split('/');
  return rest.length === 0 ? first : `${first}/`;
}

/** Checks `srcDir`; returns one message per cycle (empty when there is none). */
export function findCycles(srcDir: string): string[] {
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const absolute = sourceFiles(resolve(srcDir));
  const files = new Set(absolute);
  const name = (file: string): string => relative(resolve(srcDir), file).split(sep).join('/');

  const fileGraph: Graph = new Map();
  for (const file of absolute) {
    fileGraph.set(name(file), new Set([...importsOf(file, files, options)].map(name)));
  }

  const areaGraph: Graph = new Map();
  /** One import per area edge, to show where a cycle between areas comes from. */
  const example = new Map<string, string>();
  for (const [from, targets] of fileGraph) {
    for (const to of targets) {
      const [a, b] = [areaOf(from), areaOf(to)];
      if (a === b) continue;
      let edges = areaGraph.get(a);
      if (edges === undefined) areaGraph.set(a, (edges = new Set()));
      edges.add(b);
      if (!example.has(`${a} ${b}`)) example.set(`${a} ${b}`, `${from} -> ${to}`);
    }
  }

  const messages = cycles(fileGraph).map((files) => `file cycle: ${files.join(', ')}`);
  for (const areas of cycles(areaGraph)) {
    const members = new Set(areas);
    const edges = [...example]
      .filter(([key]) => key.split(' ').every((area) => members.has(area)))
      .map(([, edge]) => `\n    ${edge}`);
    messages.push(`area cycle: ${areas.join(', ')}, through${edges.join('')}`);
  }
  return messages;
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const srcDir = process.argv[2] ?? 'src';
  const messages = findCycles(srcDir);
  for (const message of messages) console.error(message);
  if (messages.length > 0) {
    console.error(
      `${messages.length} import cycle(s) in ${srcDir}: move what both sides need to a module of its own`,
    );
    process.exit(1);
  }
  console.log(`no import cycles in ${srcDir}`);
}
