/**
 * README blocks marked `<!-- file: PATH -->` are that file of the repository, byte for byte: the
 * README's "Testing your app" example is examples/testing/app.test.ts, which runs with the tests.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT, readmeBlocks } from './blocks.js';

const fileBlocks = readmeBlocks().filter((block) => block.directives.has('file'));

describe('README blocks copied from files', () => {
  it('the testing section shows the app and its complete vitest file', () => {
    expect(fileBlocks.map((block) => block.directives.get('file'))).toEqual(
      expect.arrayContaining(['examples/testing/app.ts', 'examples/testing/app.test.ts']),
    );
  });

  it.each(fileBlocks.map((block) => [block.directives.get('file') ?? '', block] as const))(
    'the block of %s is byte-identical to the file',
    (path, block) => {
      expect(block.code, `README.md:${block.line} differs from ${path}: copy the file into the README`).toBe(
        readFileSync(`${ROOT}/${path}`, 'utf8'),
      );
    },
  );
});
