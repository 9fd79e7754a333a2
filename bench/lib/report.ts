import os from 'node:os';
import type { SuiteResult, Table } from './types.js';

export interface Environment {
  date: string;
  node: string;
  cpu: string;
  cores: number;
  platform: string;
  memoryGb: string;
}

export function environment(): Environment {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryGb: (os.totalmem() / 1024 ** 3).toFixed(1),
  };
}

const escapeCell = (cell: string): string => cell.replace(/\|/g, '\\|');

function markdownTable(table: Table): string {
  const lines = [
    `| ${table.headers.map(escapeCell).join(' | ')} |`,
    `|${table.headers.map(() => '---').join('|')}|`,
    ...table.rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** Plain-text table for the console, columns padded. */
export function textTable(table: Table): string {
  const widths = table.headers.map((header, i) =>
    Math.max(header.length, ...table.rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(table.headers), line(widths.map((w) => '-'.repeat(w))), ...table.rows.map(line)].join('\n');
}

function verdictLine(result: SuiteResult['verdicts'][number]): string {
  const spread = result.spread
    ? ` (rounds ${result.spread.min.toFixed(3)}–${result.spread.max.toFixed(3)})`
    : '';
  const target = result.target === undefined ? 'no target' : `target ${result.target}`;
  const status = result.pass === undefined ? 'REPORT' : result.pass ? 'PASS' : 'FAIL';
  return `**${status}**: ${result.metric} = **${result.ratio.toFixed(3)}**${spread}; ${target}`;
}

export function consoleReport(name: string, result: SuiteResult): string {
  return [
    `\n== ${name} ==`,
    textTable(result.table),
    ...result.verdicts.map((v) => verdictLine(v).replace(/\*\*/g, '')),
    ...(result.extraTables ?? []).flatMap(({ title, table }) => [`\n${title}`, textTable(table)]),
    ...result.notes.map((note) => `  - ${note.replace(/`/g, '')}`),
  ].join('\n');
}

const START = (name: string): string => `<!-- suite:${name} -->`;
const END = (name: string): string => `<!-- /suite:${name} -->`;

export function suiteSection(name: string, result: SuiteResult, env: Environment): string {
  const settings = Object.entries(result.settings)
    .map(([key, value]) => `${key}: ${value}`)
    .join('; ');
  return [
    START(name),
    `## ${name}`,
    '',
    result.summary,
    '',
    `Measured ${env.date} (Node ${env.node}). Settings: ${settings}.`,
    '',
    markdownTable(result.table),
    '',
    ...result.verdicts.map((v) => `- ${verdictLine(v)}`),
    ...(result.extraTables ?? []).flatMap(({ title, table }) => [
      '',
      `### ${title}`,
      '',
      markdownTable(table),
    ]),
    ...(result.notes.length > 0 ? ['', ...result.notes.map((note) => `- ${note}`)] : []),
    END(name),
  ].join('\n');
}

/** Sections of a previous RESULTS.md, by suite name (kept when only some suites run). */
export function previousSections(markdown: string): Map<string, string> {
  const sections = new Map<string, string>();
  for (const match of markdown.matchAll(/<!-- suite:([\w-]+) -->[\s\S]*?<!-- \/suite:\1 -->/g)) {
    sections.set(match[1]!, match[0]);
  }
  return sections;
}

export function resultsFile(env: Environment, sections: Map<string, string>, order: string[]): string {
  const names = [...order, ...[...sections.keys()].filter((name) => !order.includes(name)).sort()];
  return [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (see `bench/README.md`); do not edit by hand. Ratios compare the',
    'variants of one suite measured side by side in the same run; absolute numbers depend on the',
    'machine and are only context.',
    '',
    `- Last run: ${env.date}`,
    `- Node: ${env.node}`,
    `- CPU: ${env.cpu}, ${env.cores} cores (${env.platform}, ${env.memoryGb} GB RAM)`,
    '',
    ...names.flatMap((name) => {
      const section = sections.get(name);
      return section === undefined ? [] : [section, ''];
    }),
  ].join('\n');
}
