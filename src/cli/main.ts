#!/usr/bin/env node
import { runCli } from './run.js';

/** `npx express-cern-sso <command>`: see `express-cern-sso --help`. */
async function main(): Promise<void> {
  // `express-cern-sso search x | head`: a closed pipe is not an error worth a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  try {
    process.exitCode = await runCli(process.argv.slice(2), {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      // Only touched by `token inspect -`, so other commands never open standard input.
      stdin: { [Symbol.asyncIterator]: () => process.stdin[Symbol.asyncIterator]() },
    });
  } catch {
    // runCli reports its own failures; this is a last resort that still never prints a stack.
    process.stderr.write('express-cern-sso: unexpected error\n');
    process.exitCode = 4;
  }
}

void main();
