import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether `dist` (what `npm pack` publishes) was built from the current sources: `missing`,
 * `stale` (a file under src/ is newer than dist/index.js) or `fresh`. `npm test` builds first
 * (the pretest script); running vitest directly may leave it stale.
 */
export function distState(root: string): 'missing' | 'stale' | 'fresh' {
  const built = join(root, 'dist', 'index.js');
  if (!existsSync(built)) return 'missing';
  const builtAt = statSync(built).mtimeMs;
  return newestMtime(join(root, 'src')) > builtAt ? 'stale' : 'fresh';
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}
