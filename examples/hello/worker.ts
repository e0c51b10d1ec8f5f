/**
 * A worker that reverses text. Start a job server (`geartrain server`), then:
 *
 *   node --import tsx examples/hello/worker.ts            # serves "reverse"
 *   node --import tsx examples/hello/client.ts hello      # prints "olleh"
 *   echo hello | gearman -f reverse                       # any Gearman client works too
 *
 * Servers come from GEARMAN_SERVERS (e.g. 127.0.0.1:4730,127.0.0.1:4731), default 127.0.0.1:4730.
 */
import { Worker } from '../../src/client/index.ts';

const worker = new Worker({ servers: process.env.GEARMAN_SERVERS, concurrency: 4 });

worker.register('reverse', async (job, ctx) => {
  const text = job.payload.toString('utf8');
  await ctx.sendStatus(1, 2); // progress, as any Gearman client shows it
  return [...text].reverse().join('');
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void worker.close()); // finish running jobs, then exit
}

await worker.start();
console.log(`serving "reverse" on ${worker.options.servers.map((s) => s.id).join(', ')}`);
console.log(`worker closed${(await worker.closed()) ? ' with an error' : ''}`);
