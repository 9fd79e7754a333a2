import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findCycles } from '../../scripts/check-cycles.js';

let root: string | undefined;

afterEach(() => {
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

/** A throw-away src/ folder with the given files. */
function tree(files: Record<string, string>): string {
  root = mkdtempSync(join(tmpdir(), 'cycles-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('scripts/check-cycles (run by npm run lint)', () => {
  it('finds no cycle in the library', () => {
    expect(findCycles('src')).toEqual([]);
  });

  it('reports a file cycle made of type-only imports', () => {
    const dir = tree({
      'auth/a.ts': "import type { B } from './b.js';\nexport type A = B[];\n",
      'auth/b.ts': "import type { A } from './a.js';\nexport type B = A | string;\n",
    });
    expect(findCycles(dir)).toEqual(['file cycle: auth/a.ts, auth/b.ts']);
  });

  it('reports a cycle between folders that no file cycle shows, naming the imports', () => {
    const dir = tree({
      'auth/one.ts': "export { two } from '../identity/two.js';\n",
      'identity/two.ts': 'export const two = 2;\n',
      'identity/three.ts': "import { one } from '../auth/other.js';\nexport const three = one;\n",
      'auth/other.ts': 'export const one = 1;\n',
    });
    const [message, ...rest] = findCycles(dir);
    expect(rest).toEqual([]);
    expect(message).toContain('area cycle: auth/, identity/');
    expect(message).toContain('auth/one.ts -> identity/two.ts');
    expect(message).toContain('identity/three.ts -> auth/other.ts');
  });

  it('treats each file directly under src/ as an area of its own', () => {
    const dir = tree({
      'context.ts': "import type { User } from './auth/user.js';\nexport type Context = { user: User };\n",
      'auth/user.ts': 'export type User = { login: string };\n',
      'auth/session.ts': "import type { Context } from '../context.js';\nexport type Session = Context;\n",
      'errors.ts': 'export class Oops extends Error {}\n',
      'guards/deny.ts': "import { Oops } from '../errors.js';\nexport const deny = () => new Oops();\n",
    });
    expect(findCycles(dir)).toEqual([
      'area cycle: auth/, context.ts, through\n    auth/session.ts -> context.ts\n    context.ts -> auth/user.ts',
    ]);
  });

  it('counts dynamic imports', () => {
    const dir = tree({
      'a.ts': "export const load = () => import('./b.js');\n",
      'b.ts': "import { load } from './a.js';\nexport const again = load;\n",
    });
    expect(findCycles(dir)).toHaveLength(2); // the file cycle, and the same two areas
  });
});
