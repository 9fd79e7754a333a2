import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One fenced code block of README.md. */
export interface CodeBlock {
  /** The fence's language (`ts`, `sh`, ...), empty when none. */
  lang: string;
  /** README line (1-based) of the block's first line of code. */
  line: number;
  /** The code, each line ending with `\n`. */
  code: string;
  /**
   * Directives from the HTML comments right above the fence (blank lines between allowed), e.g.
   * `<!-- file: examples/testing/app.ts -->` gives `file` → `examples/testing/app.ts`.
   */
  directives: Map<string, string>;
}

const FENCE = /^```(\w*)\s*$/;
const COMMENT = /^<!--\s*([\w-]+)(?::\s*(.*?))?\s*-->$/;

/** The fenced code blocks of a Markdown text (fences at the start of a line, not nested). */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? '');
    if (!open) continue;
    const directives = new Map<string, string>();
    for (let j = i - 1; j >= 0; j--) {
      const text = (lines[j] ?? '').trim();
      if (text === '') continue;
      const comment = COMMENT.exec(text);
      if (!comment) break;
      directives.set(comment[1] ?? '', comment[2] ?? '');
    }
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? '')) end++;
    if (end >= lines.length) throw new Error(`README.md:${i + 1}: code block is never closed`);
    const code = lines.slice(i + 1, end).map((line) => `${line}\n`);
    blocks.push({ lang: open[1] ?? '', line: i + 2, code: code.join(''), directives });
    i = end;
  }
  return blocks;
}

/** The code blocks of the repository's README.md. */
export function readmeBlocks(): CodeBlock[] {
  return codeBlocks(readFileSync(`${ROOT}/README.md`, 'utf8'));
}
