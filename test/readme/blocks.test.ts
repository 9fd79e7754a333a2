import { describe, expect, it } from 'vitest';
import { codeBlocks } from './blocks.js';

describe('codeBlocks (README code blocks for the README tests)', () => {
  it('finds each fenced block with its language, first code line and code', () => {
    const blocks = codeBlocks(
      '# Title\n\n```ts\nconst a = 1;\n```\n\ntext\n```sh\nls\n\nls -a\n```\n```\n```\n',
    );
    expect(blocks.map(({ lang, line, code }) => ({ lang, line, code }))).toEqual([
      { lang: 'ts', line: 4, code: 'const a = 1;\n' },
      { lang: 'sh', line: 9, code: 'ls\n\nls -a\n' },
      { lang: '', line: 14, code: '' },
    ]);
  });

  it('reads the directives of the HTML comments right above a fence, across blank lines', () => {
    const [first, second] = codeBlocks(
      'Text.\n<!-- file: examples/a.ts -->\n\n<!-- prettier-ignore -->\n```ts\nx\n```\n\n' +
        '<!-- snippet-context: app, sso -->\nText in between.\n\n```ts\ny\n```\n',
    );
    expect(Object.fromEntries(first?.directives ?? [])).toEqual({
      file: 'examples/a.ts',
      'prettier-ignore': '',
    });
    expect(second?.directives.size).toBe(0); // a paragraph separates the comment from the fence
  });

  it('refuses a block that is never closed, naming the line of its fence', () => {
    expect(() => codeBlocks('a\n```ts\nconst a = 1;\n')).toThrow('README.md:2: code block is never closed');
  });
});
