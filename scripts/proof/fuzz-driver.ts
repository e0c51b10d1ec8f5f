/**
 * Child process of scripts/proof/fuzz.ts: runs the fuzz loop (lib/fuzz-run.ts) against the
 * server and reports what it sent. It runs in its own process so the server's heap, measured by
 * the parent, holds nothing of it.
 */
import { runFuzz, type FuzzStats } from './lib/fuzz-run.ts';

export interface DriverRun {
  readonly type: 'run';
  readonly port: number;
  readonly seed: number;
  readonly seconds: number;
  readonly lanes: number;
}

export interface DriverStats extends FuzzStats {
  readonly type: 'done';
}

process.on('message', (m: DriverRun) => {
  if (m.type !== 'run') return;
  runFuzz(m).then(
    (stats) => {
      process.send!({ type: 'done', ...stats } satisfies DriverStats, () => process.exit(0));
    },
    (err: Error) => {
      process.stderr.write(`fuzz driver failed: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
});
