import { InvalidArgumentError } from '../errors.ts';
import { writeLog } from '../logs/index.ts';
import { parseFlags } from './conventions.ts';
import type { CliIO } from './io.ts';

export const summary = 'write a realistic generated access log (seeded; for demos, tests, benchmarks)';

const HELP = `usage: geartrain gen-logs FILE [flags]      (FILE ending in .gz is gzipped)

  --lines N          lines to write (default 100000)
  --seed S           random seed (default 1): the same seed writes the same bytes
  --node I           node index: each node gets different data from one seed (default 0)
  --format F         combined (default), common, vhost_combined
  --start ISO        first moment of the traffic (default 2026-10-01T00:00:00Z)
  --days D           days of traffic (default 7)
  --invalid-rate R   share of invalid lines (default 0.001)
  --odd-rate R       share of odd but valid lines (default 0.002)
  -H, --help         this help
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('geartrain gen-logs', {
    args: argv,
    allowPositionals: true,
    options: {
      lines: { type: 'string' },
      seed: { type: 'string' },
      node: { type: 'string' },
      format: { type: 'string' },
      start: { type: 'string' },
      days: { type: 'string' },
      'invalid-rate': { type: 'string' },
      'odd-rate': { type: 'string' },
      help: { type: 'boolean', short: 'H' },
    },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new InvalidArgumentError('give one output FILE (geartrain gen-logs -H)', { field: 'FILE' });
  const num = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`--${name} expects a number, got '${v}'`, { field: name });
    return n;
  };
  const opts = Object.fromEntries(
    Object.entries({
      lines: num('lines', values.lines) ?? 100_000,
      seed: num('seed', values.seed),
      node: num('node', values.node),
      format: values.format,
      start: values.start,
      days: num('days', values.days),
      invalidRate: num('invalid-rate', values['invalid-rate']),
      oddRate: num('odd-rate', values['odd-rate']),
    }).filter(([, v]) => v !== undefined),
  );
  const result = await writeLog(positionals[0]!, opts as never, { signal: io.signal });
  io.stderr.write(`wrote ${result.lines} lines to ${positionals[0]}\n`);
  return 0;
}
