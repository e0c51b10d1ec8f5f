/**
 * Submit "reverse" jobs: one per argument (default "hello"), and print each result.
 *
 *   node --import tsx examples/hello/client.ts hello world
 */
import { Client } from '../../src/client/index.ts';

await using client = new Client({ servers: process.env.GEARMAN_SERVERS, timeoutMs: 10_000 });

const words = process.argv.slice(2);
for (const word of words.length > 0 ? words : ['hello']) {
  const job = client.submit('reverse', word);
  for await (const update of job) {
    if (update.type === 'status') console.error(`${word}: ${update.numerator}/${update.denominator}`);
  }
  console.log((await job.result).toString('utf8'));
}
