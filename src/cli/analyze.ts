/**
 * `geartrain analyze FILE…`: the one-shot local mode. Nothing to start: an embedded job server and
 * one in-process node over the files run the same `analyze` job as a cluster would (map tasks on
 * task threads, one per core), print its panels, and stop.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from '../errors.ts';
import { pipeline } from 'node:stream/promises';
import { compileLogFormat } from '../logs/index.ts';
import { parseLogSource, unmatchedReason } from '../logs/log-sources.ts';
import { startLogNode } from '../mapreduce/log-node.ts';
import { JobServer } from '../server/index.ts';
import type { CliIO } from './io.ts';
import { runWith } from './run.ts';

export const summary = 'analyze log files on this machine, no server or node to start (--html report)';

const HELP = `usage: geartrain analyze FILE… [--format F] [--html report.html] [--json | --csv] [analyze flags]

Runs the analyze job over FILE… (plain or .gz, globs allowed; - reads standard input) with an
embedded job server and node, one map task per core. Same panels and numbers as
\`geartrain run analyze\` on a cluster. When most lines are not valid for the format, it says
why, shows samples and the formats they parse as, and exits 1.

  --format F             LogFormat nickname or string of the files (default combined)
  --job JOB              another built-in summary job instead of analyze (e.g. top, count)
  --html FILE            write the self-contained HTML report
  --since/--until/--where/--vhost, --json, --csv, --out FILE, and analyze's own flags
  (geartrain run analyze -H) work as with \`geartrain run\`.
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  if (argv.includes('-H') || argv.includes('--help')) {
    io.stdout.write(HELP);
    return 0;
  }
  // Split the arguments: files (positionals before any flag value), --format, --job; the rest goes to run.
  const files: string[] = [];
  const rest: string[] = [];
  let format = 'combined';
  let job = 'analyze';
  const takesValue = new Set(['--since', '--until', '--where', '--vhost', '--out', '--html', '--limit', '--request-key', '--visitor', '--timezone', '--tz', '--site-host', '--static-ext', '--by', '--split-bytes', '--field']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--format') format = argv[++i] ?? '';
    else if (a === '--job') job = argv[++i] ?? '';
    else if (a.startsWith('-') && a !== '-') {
      rest.push(a);
      if (takesValue.has(a) && i + 1 < argv.length) rest.push(argv[++i]!);
    } else files.push(a);
  }
  if (files.length === 0) throw new InvalidArgumentError('give the log files to analyze (geartrain analyze access.log*, or - for standard input)', { field: 'FILE' });
  const compiled = compileLogFormat(format);
  for (const f of files) {
    const reason = f === '-' ? undefined : await unmatchedReason(path.resolve(f));
    if (reason) throw new InvalidArgumentError(`${f}: ${reason}`, { field: 'FILE' });
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'geartrain-analyze-'));
  // The node's own directory (files in it are never served as logs), and standard input read
  // into a file beside it: map tasks read files (plain or gzip) by range.
  const dataDir = path.join(tmp, 'node');
  const stdinFile = path.join(tmp, 'stdin');
  const server = new JobServer({ host: '127.0.0.1', port: 0, queue: 'memory' });
  let node: Awaited<ReturnType<typeof startLogNode>> | undefined;
  try {
    if (files.includes('-')) await pipeline(io.stdin, fs.createWriteStream(stdinFile));
    const sources = files.map((f) => parseLogSource(f === '-' ? stdinFile : path.resolve(f), compiled));
    const { port } = await server.listen();
    const servers = [`127.0.0.1:${port}`];
    node = await startLogNode({ servers, name: 'local', sources, dataDir, format: compiled, concurrency: os.availableParallelism(), logService: { pollMs: 0 } });
    return await runWith([job, ...rest, '--wait-nodes', '1'], io, {
      servers,
      command: 'geartrain analyze',
      input: {
        format,
        remedy: (f) => `try --format ${f}`,
        customRemedy: "give their LogFormat with --format '...' (from the web server's configuration)",
        // Sources are `local:PATH`; standard input is shown as `-`.
        source: (s) => (s === `local:${stdinFile}` ? '-' : s.replace(/^local:/, '')),
      },
    });
  } finally {
    await node?.close().catch(() => {});
    server.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
