/** The paired-round settings the throughput suites share, and how they are reported. */
import { lastRoundsSchedule, quick, type RoundSettings, type Schedule } from './paired.js';
import { schedulingNote } from './pin.js';

/** `BENCH_SCHEDULE=simultaneous` loads all sides at once on one core (see `paired.ts`). */
function scheduleFromEnv(): Schedule {
  const value = process.env.BENCH_SCHEDULE ?? 'rotating';
  if (value !== 'simultaneous' && value !== 'rotating') {
    throw new Error(`BENCH_SCHEDULE must be simultaneous or rotating, not ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * 10 connections per side, a warm-up, then rounds of 1 s samples (`BENCH_QUICK=1` cuts them),
 * one side at a time unless `BENCH_SCHEDULE=simultaneous`.
 */
export const PAIRED_ROUNDS: RoundSettings = {
  connections: 10,
  warmupSec: quick ? 1 : 2,
  sampleSec: 1,
  rounds: quick ? 2 : 20,
  schedule: scheduleFromEnv(),
};

/** A suite's settings lines for {@link PAIRED_ROUNDS} (after its `connections` line). */
export function pairedRoundsNote(): {
  'warm-up per side': string;
  'sample duration': string;
  rounds: string;
  scheduling: string;
  ratio: string;
} {
  const simultaneous = lastRoundsSchedule() === 'simultaneous';
  return {
    'warm-up per side': `${PAIRED_ROUNDS.warmupSec} s`,
    'sample duration': `${PAIRED_ROUNDS.sampleSec} s`,
    rounds: `${PAIRED_ROUNDS.rounds}, ${simultaneous ? 'all sides loaded at once' : 'rotating order'}`,
    scheduling: simultaneous
      ? 'simultaneous: every server pinned to the last core (an even share each), the load generator to the other(s); req/s are shares of that core, only ratios count'
      : schedulingNote(),
    ratio: 'median of per-round ratios (min–max in brackets)',
  };
}
