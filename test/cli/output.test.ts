import { describe, expect, it } from 'vitest';
import { clean, describeExpiry, formatDuration, table } from '../../src/cli/output.js';

describe('output helpers', () => {
  it.each([
    [0, '0 s'],
    [42, '42 s'],
    [252, '4 min 12 s'],
    [180, '3 min'],
    [3600 + 5 * 60 + 7, '1 h 5 min'],
    [2 * 86_400 + 3 * 3600, '2 d 3 h'],
    [-180, '3 min'],
  ])('formatDuration(%d) is %j', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('describeExpiry', () => {
    expect(describeExpiry(252)).toBe('expires in 4 min 12 s');
    expect(describeExpiry(-180)).toBe('expired 3 min ago');
    expect(describeExpiry(0)).toBe('expired 0 s ago');
  });

  it('aligns tables, shows empty cells as "-" and neutralises terminal escapes', () => {
    expect(
      table(
        ['LOGIN', 'NAME'],
        [
          ['jdoe', 'John Doe'],
          ['kmuller', undefined],
          ['evil', '\u001b[31mred'],
        ],
      ),
    ).toBe('LOGIN    NAME\njdoe     John Doe\nkmuller  -\nevil     ?[31mred\n');
    expect(clean('a\rb\nc')).toBe('a?b?c');
  });
});
