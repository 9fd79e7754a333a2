/**
 * `npm run bench [-- <suite> ...]`: runs the suites of `bench/suites/` (all by default), prints
 * their tables and rewrites `bench/RESULTS.md` (sections of suites not run this time are kept).
 * Exits with code 1 when a suite fails its target or cannot run.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { consoleReport, environment, previousSections, resultsFile, suiteSection } from './lib/report.js';
import type { Suite, SuiteResult } from './lib/types.js';

const here = new URL('./', import.meta.url);
const resultsPath = fileURLToPath(new URL('RESULTS.md', here));

function isSuite(value: unknown): value is Suite {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Suite).name === 'string' &&
    typeof (value as Suite).run === 'function'
  );
}

async function loadSuites(): Promise<Suite[]> {
  const files = (await readdir(new URL('suites/', here))).filter((file) => file.endsWith('.ts')).sort();
  const suites: Suite[] = [];
  for (const file of files) {
    const module = (await import(new URL(`suites/${file}`, here).href)) as Record<string, unknown>;
    // `export default { name, run }` or `export const name = ...; export function run()`.
    const candidate = isSuite(module.default) ? module.default : module;
    if (!isSuite(candidate)) throw new Error(`bench/suites/${file} exports no { name, run }`);
    suites.push(candidate);
  }
  return suites;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
  const all = await loadSuites();
  const unknown = wanted.filter((name) => !all.some((suite) => suite.name === name));
  if (unknown.length > 0) {
    throw new Error(`unknown suite(s) ${unknown.join(', ')}; known: ${all.map((s) => s.name).join(', ')}`);
  }
  const selected = wanted.length === 0 ? all : all.filter((suite) => wanted.includes(suite.name));
  const env = environment();
  console.log(
    `Node ${env.node}, ${env.cpu}, ${env.cores} cores; suites: ${selected.map((s) => s.name).join(', ')}`,
  );

  let previous = '';
  try {
    previous = await readFile(resultsPath, 'utf8');
  } catch {
    // First run: no file yet.
  }
  const sections = previousSections(previous);
  let failed = false;
  for (const suite of selected) {
    const started = Date.now();
    let result: SuiteResult;
    try {
      result = await suite.run();
    } catch (error) {
      failed = true;
      console.error(`\n== ${suite.name} == could not run:`, error);
      continue;
    }
    console.log(consoleReport(suite.name, result));
    console.log(`  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    if (result.verdicts.some((verdict) => verdict.pass === false)) failed = true;
    sections.set(suite.name, suiteSection(suite.name, result, environment()));
    // Written after every suite, so an interrupted run keeps what it measured.
    await writeFile(
      resultsPath,
      resultsFile(
        env,
        sections,
        all.map((s) => s.name),
      ),
    );
  }
  console.log(`\nResults written to ${resultsPath}`);
  if (failed) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
