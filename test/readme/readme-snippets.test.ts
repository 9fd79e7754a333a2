/**
 * Every ```ts block of README.md type-checks against the library's sources, with the strict options
 * of tsconfig.json, in one TypeScript program (`express-cern-sso` resolves to src through the
 * tsconfig `paths`). A fragment that uses names from around it says so in an HTML comment above
 * its fence, which a reader does not see:
 *
 * - `<!-- snippet-context: app, handler, requireGroup -->`: each name is declared for it, from
 *   CONTEXT below or, for a value the library exports, imported from `express-cern-sso`;
 * - `<!-- snippet-value: CernUser -->`: the block is an expression of that exported type.
 *
 * Blocks marked `<!-- file: PATH -->` are checked as that file (by tsc and readme-files.test.ts).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as library from 'express-cern-sso';
import { ROOT, readmeBlocks, type CodeBlock } from './blocks.js';

/** Gitignored (`.tmp/`) and inside the repository, so node_modules and the tsconfig `paths` apply. */
const DIR = join(ROOT, '.tmp', 'readme-snippets');

/** Names README fragments take from their surroundings. */
const CONTEXT = new Map<string, string>([
  ['app', "declare const app: import('express').Express;"],
  ['handler', "declare const handler: import('express').RequestHandler;"],
  ['session', "import session from 'express-session';"],
  ['sso', "declare const sso: import('express-cern-sso').CernSso;"],
  ['redis', "declare const redis: import('redis').RedisClientType;"],
  ['clientId', 'declare const clientId: string;'],
  ['clientSecret', 'declare const clientSecret: string;'],
  ['userAccessToken', 'declare const userAccessToken: string;'],
  ['sync', "declare function sync(person: import('express-cern-sso').CernIdentity): void;"],
]);

interface Snippet {
  block: CodeBlock;
  file: string;
  /** Lines added above the block's code. */
  preludeLines: number;
}

function prelude(block: CodeBlock): string[] {
  const lines: string[] = [];
  const names = (block.directives.get('snippet-context') ?? '').split(',').map((name) => name.trim());
  for (const name of names.filter(Boolean)) {
    const declaration = CONTEXT.get(name);
    if (declaration !== undefined) lines.push(declaration);
    else if (Object.hasOwn(library, name)) lines.push(`import { ${name} } from 'express-cern-sso';`);
    else throw new Error(`README.md:${block.line}: snippet-context names "${name}", unknown to this test`);
  }
  const type = block.directives.get('snippet-value');
  if (type !== undefined) lines.push(`export const value: import('express-cern-sso').${type} =`);
  return lines;
}

function writeSnippets(blocks: CodeBlock[]): Snippet[] {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  return blocks.map((block) => {
    const lines = prelude(block);
    const file = join(DIR, `readme-line-${block.line}.ts`);
    // `export {}`: each snippet is a module of its own, even without imports.
    writeFileSync(file, `${lines.map((line) => `${line}\n`).join('')}${block.code}export {};\n`);
    return { block, file, preludeLines: lines.length };
  });
}

function compilerOptions(): ts.CompilerOptions {
  const configFile = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  if (configFile.error) throw new Error(ts.flattenDiagnosticMessageText(configFile.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
  return { ...parsed.options, noEmit: true, declaration: false, sourceMap: false };
}

/** One line per problem: `README.md:LINE: message`, LINE the README line of the code. */
function problems(snippets: Snippet[]): string[] {
  const program = ts.createProgram(
    snippets.map((snippet) => snippet.file),
    compilerOptions(),
  );
  const found: string[] = [];
  for (const snippet of snippets) {
    const source = program.getSourceFile(snippet.file);
    if (!source) throw new Error(`${snippet.file} is not in the program`);
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    for (const diagnostic of diagnostics) {
      const { line } = source.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      const readmeLine = snippet.block.line + line - snippet.preludeLines;
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
      found.push(`README.md:${readmeLine}: TS${diagnostic.code}: ${message}`);
    }
  }
  return found;
}

describe('README snippets', () => {
  it('every ```ts block type-checks (strict options of tsconfig.json)', () => {
    const blocks = readmeBlocks().filter((block) => block.lang === 'ts' && !block.directives.has('file'));
    expect(blocks.length).toBeGreaterThan(5);
    expect(problems(writeSnippets(blocks))).toEqual([]);
  }, 60_000);
});
