/**
 * `geartrain analyze FILE…`: the one-shot local mode. Nothing to start: an embedded job server and
 * one in-process node over the files run the same `analyze` job as a cluster would (map tasks on
 * task threads, one per core), print its panels, and stop.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError } from '../errors.ts';
import { compileLogFormat } from '../logs/index.ts';
import { parseLogSource, unmatchedReason } from '../logs/log-sources.ts';
import { startLogNode } from '../mapreduce/log-node.ts';
import { loadJob } from '../mapreduce/prepare-job.ts';
import { JobServer } from '../server/index.ts';
import type { CliIO } from './io.ts';
import { parseFlags } from './conventions.ts';
import { commonFor, jobOptions, runWith } from './run.ts';

/**
 * V8 grows a heap's limit after each full collection by a factor chosen for speed (up to 2-4×
 * the live size): with the map states, the merge and their garbage in three isolates (this thread
 * and two task threads on two cores), that slack was most of the peak RSS. 25 % more than the live
 * size after each full collection: about half the peak RSS at 3 M lines for about 10 % more CPU
 * (docs/benchmarks.md, "Analyze at scale"). The flag is process-wide, so task threads started
 * after it have it too; one given on the command line (node --heap-growing-percent=N) wins.
 */
const HEAP_GROWING_PERCENT = 25;

function limitHeapGrowth(): void {
  if ([...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => /heap[-_]growing[-_]percent/.test(a))) return;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/** The embedded node's name. */
const LOCAL_NODE = 'local';

export const summary = 'analyze log files on this machine, no server or node to start (--html report)';

const HELP = `usage: geartrain analyze FILE… [--format F] [--html report.html] [--json | --csv] [analyze flags]

Runs the analyze job over FILE… (plain or .gz, globs allowed; - reads standard input) with an
embedded job server and node, one map task per core. Same panels and numbers as
\`geartrain run analyze\` on a cluster. When most lines are not valid for the format, it says
why, shows samples and the formats they parse as, and exits 1.

  --format F             LogFormat nickname or string of the files (default combined)
  --job JOB [ARGS]       another built-in summary job instead of analyze, with its own arguments
                         after it (e.g. --job top duration, --job count --by status)
  --html FILE            write the self-contained HTML report
  --since/--until/--where/--vhost, --json, --csv, --out FILE, and analyze's own flags
  (geartrain run analyze -H) work as with \`geartrain run\`; flags may come anywhere.
  -H, --help             this help
`;

/**
 * FILE… are the arguments before `--job J`; those after it are J's own (`--job top duration`).
 * Which flags take a value comes from run's table and J's, so `--funnel /,/x` needs no '='.
 */
async function splitArguments(argv: readonly string[]): Promise<{ files: string[]; format: string; job: string; rest: string[]; help: boolean }> {
  let format = 'combined';
  let job = 'analyze';
  let jobAt = Infinity;
  const others: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag !== '--format' && flag !== '--job') {
      others.push(a);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new InvalidArgumentError(`${flag} needs a value (try: geartrain analyze -H)`, { field: flag.slice(2) });
    if (flag === '--format') format = value;
    else {
      job = value;
      jobAt = others.length;
    }
  }
  const loaded = (await loadJob(job)).job;
  const jobFlags = jobOptions('cli' in loaded ? loaded.cli : undefined).options;
  const { values, tokens } = parseFlags('geartrain analyze', {
    args: others,
    options: { ...commonFor(jobFlags), ...jobFlags },
    allowPositionals: true,
    tokens: true,
  });
  const files: string[] = [];
  const fileIndexes = new Set<number>();
  for (const t of tokens) {
    if (t.kind === 'positional' && t.index < jobAt) {
      files.push(t.value);
      fileIndexes.add(t.index);
    }
  }
  return { files, format, job, rest: others.filter((_, i) => !fileIndexes.has(i)), help: values.help === true };
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { files, format, job, rest, help } = await splitArguments(argv);
  if (help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (files.length === 0) throw new InvalidArgumentError('give the log files to analyze (geartrain analyze access.log*, or - for standard input)', { field: 'FILE' });
  const compiled = compileLogFormat(format);
  for (const f of files) {
    const reason = f === '-' ? undefined : await unmatchedReason(path.resolve(f));
    if (reason) throw new InvalidArgumentError(`${f}: ${reason}`, { field: 'FILE' });
  }

  limitHeapGrowth();
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
    node = await startLogNode({ servers, name: LOCAL_NODE, sources, dataDir, format: compiled, concurrency: os.availableParallelism(), logService: { pollMs: 0 } });
    return await runWith([job, ...rest], io, {
      servers,
      command: 'geartrain analyze',
      waitNodes: 1,
      ephemeral: true,
      // The node is in this process: a busy event loop delays its heartbeats, it is not gone.
      inProcessNodes: [LOCAL_NODE],
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
