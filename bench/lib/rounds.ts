/** The paired-round settings the throughput suites share, and how they are reported. */
import { quick, type RoundSettings } from './paired.js';
import { schedulingNote } from './pin.js';

/** 10 connections, a warm-up per side, then rounds of 1 s samples (`BENCH_QUICK=1` cuts them). */
export const PAIRED_ROUNDS: RoundSettings = {
  connections: 10,
  warmupSec: quick ? 1 : 2,
  sampleSec: 1,
  rounds: quick ? 2 : 20,
};

/** A suite's settings lines for {@link PAIRED_ROUNDS} (after its `connections` line). */
export function pairedRoundsNote(): Record<string, string> {
  return {
    'warm-up per side': `${PAIRED_ROUNDS.warmupSec} s`,
    'sample duration': `${PAIRED_ROUNDS.sampleSec} s`,
    rounds: `${PAIRED_ROUNDS.rounds}, rotating order`,
    scheduling: schedulingNote(),
    ratio: 'median of per-round ratios (min–max in brackets)',
  };
}
