/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function fixed(value: number, digits = 0): string {
  // No "-0.0" for a tiny negative delta.
  if (Math.abs(value) < 0.5 * 10 ** -digits) value = 0;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)} %`;
}

export const MB = 1024 * 1024;
