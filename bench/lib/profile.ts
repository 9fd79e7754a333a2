/**
 * Reading V8 CPU profiles (`.cpuprofile`, from the inspector or `node --cpu-prof`): where the
 * busy time of a server goes, per request.
 */
import { readFileSync } from 'node:fs';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  /** µs between samples. */
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

/** `src/cache/keys.ts`, `node_modules/express-session/index.js`, `node:internal/timers`... */
export function shortUrl(url: string): string {
  return url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules\/|src\/|dist\/|bench\/)/, '$1');
}

export function frameLabel(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = shortUrl(url);
  // Modules compiled by tsx report every function on line 0: the file alone says more.
  const where = file && lineNumber > 0 ? `${file}:${lineNumber + 1}` : file;
  return `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

/** The package of a `node_modules` URL (`express-session`, `@scope/name`). */
function packageOf(url: string): string | undefined {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  return match?.[1];
}

/**
 * Who a frame belongs to: the library (`dist/`, or `src/`), a package, the app (`bench/`), or nobody
 * (Node core, V8 builtins: their time goes to the nearest owned frame above them).
 */
export type Owner = { kind: 'library'; label: string } | { kind: 'package'; name: string } | { kind: 'app' };

function ownerOf(node: ProfileNode): Owner | undefined {
  const url = node.callFrame.url;
  if (url.includes('/node_modules/')) return { kind: 'package', name: packageOf(url) ?? 'node_modules' };
  if (url.includes('/src/') || url.includes('/dist/')) return { kind: 'library', label: frameLabel(node) };
  if (url.includes('/bench/')) return { kind: 'app' };
  return undefined;
}

export interface Attribution {
  /** Sampled busy time (µs), everything but `(idle)`. */
  busyUs: number;
  /** Busy µs by owner category: `library`, a package name, `app`, `node core`, `(garbage collector)`. */
  byCategory: Map<string, number>;
  /** Busy µs by library function (nearest `src/` frame), Node core time under it included. */
  byLibraryFunction: Map<string, number>;
  /** Inclusive µs by library function: samples with that function anywhere on the stack. */
  inclusiveByLibraryFunction: Map<string, number>;
}

const add = (map: Map<string, number>, key: string, value: number): void => {
  map.set(key, (map.get(key) ?? 0) + value);
};

/**
 * Attributes every busy sample to the nearest frame on its stack that belongs to somebody:
 * time in Node core or V8 builtins (timers, crypto, JSON) counts for the code that called it.
 */
export function attribute(profile: CpuProfile): Attribution {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const result: Attribution = {
    busyUs: 0,
    byCategory: new Map(),
    byLibraryFunction: new Map(),
    inclusiveByLibraryFunction: new Map(),
  };
  profile.samples.forEach((id, i) => {
    const leaf = byId.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    if (!leaf || leaf.callFrame.functionName === '(idle)') return;
    result.busyUs += us;
    if (
      leaf.callFrame.functionName === '(garbage collector)' ||
      leaf.callFrame.functionName === '(program)'
    ) {
      add(result.byCategory, leaf.callFrame.functionName, us);
      return;
    }
    let owner: Owner | undefined;
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const node = byId.get(current);
      if (!node) break;
      const own = ownerOf(node);
      if (own && !owner) owner = own;
      if (own?.kind === 'library' && !seen.has(own.label)) {
        seen.add(own.label);
        add(result.inclusiveByLibraryFunction, own.label, us);
      }
    }
    if (!owner) add(result.byCategory, 'node core', us);
    else if (owner.kind === 'library') {
      add(result.byCategory, 'library (dist/)', us);
      add(result.byLibraryFunction, owner.label, us);
    } else if (owner.kind === 'app') add(result.byCategory, 'app (bench/)', us);
    else add(result.byCategory, owner.name, us);
  });
  return result;
}

/** Self and inclusive share of all samples per function (for `bench/tools/cpuprofile-summary.ts`). */
export function functionShares(profile: CpuProfile): { name: string; self: number; total: number }[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const id of profile.samples) {
    const node = byId.get(id);
    if (!node) continue;
    add(self, frameLabel(node), 1);
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const frame = byId.get(current);
      if (!frame) break;
      const name = frameLabel(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      add(total, name, 1);
    }
  }
  const count = profile.samples.length || 1;
  return [...total.keys()].map((name) => ({
    name,
    self: (self.get(name) ?? 0) / count,
    total: (total.get(name) ?? 0) / count,
  }));
}
