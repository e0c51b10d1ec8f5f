/**
 * Child process of faults.ts and soak.ts: one geartrain Worker that echoes each job's payload
 * after a short random pause (so jobs are in flight when it is killed). Killed with SIGKILL by
 * its parent, never asked to stop.
 *
 * Args: SERVERS FUNCTION CONCURRENCY MAX_PAUSE_MS
 */
import { Worker } from '../../src/client/worker.ts';

const [servers = '127.0.0.1:4730', fn = 'faults.echo', concurrency = '8', maxPause = '3'] = process.argv.slice(2);
const worker = new Worker({ servers: servers.split(','), concurrency: Number(concurrency), reconnectDelayMs: 50, maxReconnectDelayMs: 500 });
worker.register(fn, async (job) => {
  const pause = Math.floor(Math.random() * (Number(maxPause) + 1));
  if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  return job.payload;
});
worker.start().then(
  () => process.send?.({ type: 'ready' }),
  (err: Error) => {
    process.stderr.write(`fault worker: ${err.message}\n`);
    process.exit(1);
  },
);
