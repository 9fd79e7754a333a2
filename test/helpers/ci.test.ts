import { describe, expect, it } from 'vitest';
import { isCi } from './ci.js';

describe('isCi', () => {
  it.each(['true', '1', 'yes', 'TRUE', 'github-actions'])('CI=%s is CI', (value) => {
    expect(isCi({ CI: value })).toBe(true);
  });
  it.each([undefined, '', ' ', 'false', 'FALSE', '0'])('CI=%s is not CI', (value) => {
    expect(isCi(value === undefined ? {} : { CI: value })).toBe(false);
  });
});
