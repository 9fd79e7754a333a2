/** One comparison of a suite: a ratio against its baseline, with an optional target. */
export interface Verdict {
  /** What is compared, e.g. `throughput B/A`. */
  metric: string;
  /** The measured ratio (1 = same as the baseline). */
  ratio: number;
  /** Spread of the ratio over the rounds, when the suite repeats runs. */
  spread?: { min: number; max: number };
  /** Human-readable target, e.g. `≥ 0.90`; absent when the suite only reports. */
  target?: string;
  /** Pass/fail against the target; absent when there is no target. */
  pass?: boolean;
}

/** A rendered table: every cell already formatted. */
export interface Table {
  headers: string[];
  rows: string[][];
}

/** What every suite returns; `bench/run.ts` prints it and writes it to `bench/RESULTS.md`. */
export interface SuiteResult {
  /** One or two sentences: what is measured, how. */
  summary: string;
  /** Settings that matter for reading the numbers (connections, durations, rounds...). */
  settings: Record<string, string | number>;
  table: Table;
  /** Further tables (breakdowns), printed after the verdicts. */
  extraTables?: { title: string; table: Table }[];
  verdicts: Verdict[];
  /** Free-form findings (where the time or the memory goes). */
  notes: string[];
}

/** A module in `bench/suites/` default-exports one of these. */
export interface Suite {
  /** Name used on the command line: `npm run bench -- <name>`. */
  name: string;
  run(): Promise<SuiteResult>;
}
