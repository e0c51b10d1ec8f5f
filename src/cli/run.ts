import fs from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import { InvalidArgumentError } from '../errors.ts';
import { builtinJobNames } from '../mapreduce/job-loader.ts';
import type { AnyJob, CliSpec } from '../mapreduce/job-definition.ts';
import { DEFAULT_WAIT_TIMEOUT_MS, runJob, type RunJobOptions, type RunProgress, type RunReport } from '../mapreduce/coordinator.ts';
import { FileMemberStore } from '../mapreduce/member-store.ts';
import { loadJob, prepareJob } from '../mapreduce/prepare-job.ts';
import { EXIT, parseFlags } from './conventions.ts';
import { fieldsHelp } from './fields.ts';
import { intFlag } from './flags.ts';
import { namedNodes, NODE_NAMES_HELP } from './node-names.ts';
import { explainInvalidInput, mostlyInvalid, type InvalidInputContext } from './input-check.ts';
import type { CliIO } from './io.ts';
import type { Logger } from '../logger.ts';
import { ProgressBar } from './progress.ts';
import { checkOut, isCsvDirectory, runSummary, writeCsvFiles, writeResult } from './run-output.ts';
import { resolveServers, resolveTls, SERVER_FLAGS_HELP, TLS_OPTIONS, SERVER_OPTIONS } from './servers.ts';

export const summary = 'run a map/reduce job over the logs of every node';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags of every run, whatever the job; they may come anywhere on the line. */
export const COMMON: Options = {
  ...SERVER_OPTIONS,
  since: { type: 'string' },
  until: { type: 'string' },
  where: { type: 'string' },
  vhost: { type: 'string' },
  json: { type: 'boolean' },
  csv: { type: 'boolean' },
  out: { type: 'string' },
  html: { type: 'string' },
  'fan-in': { type: 'string' },
  retries: { type: 'string' },
  'task-timeout': { type: 'string' },
  'wait-nodes': { type: 'string' },
  'wait-timeout': { type: 'string' },
  'allow-partial': { type: 'boolean' },
  nodes: { type: 'string' },
  'nodes-file': { type: 'string' },
  'no-speculation': { type: 'boolean' },
  'split-bytes': { type: 'string' },
  partitions: { type: 'string' },
  'reduce-tasks': { type: 'string' },
  mapper: { type: 'string' },
  'mapper-function': { type: 'string' },
  combiner: { type: 'string' },
  reducer: { type: 'string' },
  output: { type: 'string' },
  'memory-budget': { type: 'string' },
  incremental: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'H' },
  ...TLS_OPTIONS,
};

function help(jobs: string[]): string {
  return `usage: geartrain run JOB [job arguments] [flags]
       geartrain run ./my-job.ts [job arguments] [flags]      (nodes need --allow-code and GEARTRAIN_SECRET)
       geartrain run --mapper CMD [--combiner CMD] [--reducer CMD] [--output DIR]   (Hadoop Streaming; nodes need --allow-exec)

built-in jobs: ${jobs.join(', ')}   (geartrain run JOB -H for a job's arguments)

${SERVER_FLAGS_HELP}
  --since T, --until T   ISO 8601 date or date-time (with an offset or Z; else the logs' zone);
                         --until is exclusive, but a date alone includes that day (--until 2026-10-03
                         ends at the start of 2026-10-04)
  --where EXPR           e.g. 'status>=500 and path~^/api/' (= != < <= > >= ~ !~, and/or/not, parentheses)
  --vhost NAME           only this virtual host (globs allowed)
  --json | --csv         machine-readable output; --csv writes every table ('# Title' sections when
                         there are several); --out FILE writes to a file, --csv --out DIR/ one
                         file per table (DIR/status-codes.csv, DIR/funnel.csv, …)
  --html FILE            also write the result as a self-contained HTML report
  --fan-in F             partials merged per reduce task (default 8)
  --retries N            attempts per task after the first (default 3)
  --task-timeout S       a task with no progress for S seconds fails (default 60)
  --wait-nodes N         wait for N nodes to register before planning (on a terminal, says
                         which are there); gives up after --wait-timeout S (default 30), exit 1
  --allow-partial        finish with the shards that could be read, and say which were not
                         (without it, a run that could not read all its input exits 3)
${NODE_NAMES_HELP}
  --no-speculation       do not copy a straggling map task to another node holding its shards
  --split-bytes B        largest byte range per map task (default 64 MiB)
  --partitions R         reduce partitions of keyed and streaming jobs (alias --reduce-tasks)
  --incremental          summary jobs: reuse the nodes' cached per-day partials; read only new bytes
  --memory-budget B      map output bytes a task holds before spilling a sorted run (default 64 MiB)
  --mapper CMD / --mapper-function NAME / --combiner CMD / --reducer CMD / --output DIR
  -q, --quiet            no progress bar
  -H, --help             this help (with JOB: the job's arguments and the fields)

A run is complete only if every expected node took part (or a live replica held its shards in the
time asked): this machine remembers each node it has seen on these job servers, with its shards,
in $XDG_STATE_HOME/geartrain (~/.local/state/geartrain) until it leaves (geartrain nodes forget
NAME, or geartrain node --leave on its host). A node that goes away mid-run is noticed within
seconds.

Flags may come before or after JOB and its arguments. Exit status: 0 ok, 1 failure, 2 usage error,
3 incomplete result (an expected node absent or gone, a .gz not readable to its end;
--allow-partial makes it 0 with a PARTIAL line), 130 interrupted.
`;
}

/** The coordinator's warnings (a node gone, a task retried elsewhere) as lines on stderr. */
function warningsTo(stderr: NodeJS.WritableStream, command: string): Logger {
  const say = (message: string) => void stderr.write(`${command}: ${message}\n`);
  return { error: say, warn: say, info() {}, debug() {} };
}

export function jobOptions(cli: CliSpec | undefined): { options: Options; toParam: Map<string, { param: string; type: string; multiple: boolean }> } {
  const options: Options = {};
  const toParam = new Map<string, { param: string; type: string; multiple: boolean }>();
  for (const [flag, spec] of Object.entries(cli?.flags ?? {})) {
    const names = [flag, ...(spec.alias ? [spec.alias] : [])];
    for (const n of names) {
      if (n in COMMON) continue;
      const type = spec.type === 'boolean' ? 'boolean' : 'string';
      if (n.length === 1) {
        options[`-${n}`] = { type, short: n, ...(spec.multiple ? { multiple: true } : {}) };
        toParam.set(`-${n}`, { param: spec.param, type: spec.type, multiple: !!spec.multiple });
      } else {
        options[n] = { type, ...(spec.multiple ? { multiple: true } : {}) };
        toParam.set(n, { param: spec.param, type: spec.type, multiple: !!spec.multiple });
      }
    }
  }
  return { options, toParam };
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  return runWith(argv, io, {});
}

/** Where `geartrain analyze` runs the same job: its embedded cluster instead of --servers. */
export interface RunContext {
  readonly servers?: readonly string[];
  /** Name used in messages (`geartrain run` or `geartrain analyze`). */
  readonly command?: string;
  /** Nodes to wait for before planning (analyze's embedded node). */
  readonly waitNodes?: number;
  /** What the input was read as, and how to say where a line came from, for invalid input. */
  readonly input?: Pick<InvalidInputContext, 'format' | 'source' | 'remedy' | 'customRemedy'>;
  /** A cluster of the command's own, gone after the run: its nodes are not remembered. */
  readonly ephemeral?: boolean;
  /** Nodes of the command's own process (analyze's embedded node): never found gone for silence. */
  readonly inProcessNodes?: readonly string[];
}

const STREAMING_FLAGS = ['--mapper', '--mapper-function', '--combiner', '--reducer'];

/** Whether `-x` (a single letter) of `options` takes a value. */
function shortTakesValue(options: Options, letter: string): boolean {
  return Object.values(options).some((o) => o.short === letter && o.type === 'string');
}

/**
 * Index of the job's name in `argv`: the first argument that is neither a flag nor the value of a
 * common flag, so common flags may come first (`geartrain run -p 4741 grep -c X`); -1 if none.
 */
export function jobArgumentIndex(argv: readonly string[], options: Options = COMMON): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (a.startsWith('--')) {
      if (!a.includes('=') && options[a.slice(2)]?.type === 'string') i++;
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // -abc: the first letter that takes a value takes the rest, or the next argument.
      for (let k = 1; k < a.length; k++) {
        if (!shortTakesValue(options, a[k]!)) continue;
        if (k === a.length - 1) i++;
        break;
      }
      continue;
    }
    return i;
  }
  return -1;
}

/** COMMON without the short letters the job uses for itself (grep's -H is --with-filename). */
export function commonFor(jobFlags: Options): Options {
  const taken = new Set(Object.values(jobFlags).map((o) => o.short).filter((x) => x !== undefined));
  const out: Options = {};
  for (const [name, o] of Object.entries(COMMON)) {
    if (o.short !== undefined && taken.has(o.short)) {
      const { short: _, ...rest } = o;
      out[name] = rest;
    } else out[name] = o;
  }
  return out;
}

/** `geartrain run JOB -H`: usage, description, the job's own help, the fields. */
function jobHelp(job: AnyJob, command: string, helpFlag: string): string {
  const own = job.cli?.help ? `\n${job.cli.help.replace(/\n?$/, '\n')}` : '';
  return (
    `usage: ${command} ${job.cli?.usage ?? job.name} [flags]\n  ${job.description}\n${own}\n` +
    `  ${helpFlag.padEnd(22)} this help; the flags every job takes: ${command} -H\n\n` +
    fieldsHelp()
  );
}

export async function runWith(argv: string[], io: CliIO, context: RunContext): Promise<number> {
  const command = context.command ?? 'geartrain run';
  const at = jobArgumentIndex(argv);
  const streaming = at < 0 && argv.some((a) => STREAMING_FLAGS.includes(a.split('=')[0]!));
  if (at < 0 && !streaming) {
    // No job: a flag error (`run -h` with no HOST) says so; else the help, an error without -H.
    const { values } = parseFlags(command, { args: argv, options: COMMON, allowPositionals: true });
    io.stdout.write(help(builtinJobNames()));
    return values.help ? EXIT.OK : EXIT.USAGE;
  }
  const first = at >= 0 ? argv[at]! : '';
  const loaded = at >= 0 ? await loadJob(first) : null;
  const job = loaded?.job ?? null;
  const rest = at >= 0 ? [...argv.slice(0, at), ...argv.slice(at + 1)] : argv;
  const { options: jobFlags, toParam } = jobOptions(job && 'cli' in job ? job.cli : undefined);
  const common = commonFor(jobFlags);
  const { values, positionals } = parseFlags(job ? `${command} ${first}` : command, { args: rest, options: { ...common, ...jobFlags }, allowPositionals: true });
  if (values.help) {
    io.stdout.write(job ? jobHelp(job, command, common.help!.short ? '-H, --help' : '--help') : help(builtinJobNames()));
    return EXIT.OK;
  }

  // Job parameters: positionals in order, then flags.
  const params: Record<string, unknown> = {};
  const positionalNames = job?.cli?.positionals ?? [];
  positionals.forEach((value, i) => {
    const name = positionalNames[i];
    if (name === undefined) throw new InvalidArgumentError(`unexpected argument '${value}' (usage: ${command} ${job?.cli?.usage ?? first})`, { field: 'arguments' });
    params[name] = value;
  });
  for (const [flag, target] of toParam) {
    const key = flag.startsWith('-') ? flag.slice(1) : flag;
    const v = (values as Record<string, unknown>)[flag.length === 2 && flag.startsWith('-') ? `-${key}` : flag];
    if (v === undefined) continue;
    if (target.type === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new InvalidArgumentError(`${key.length === 1 ? '-' : '--'}${key} expects a number, got '${String(v)}'`, { field: key });
      params[target.param] = n;
    } else params[target.param] = v;
  }

  // Bad parameters are refused here, before any connection, worded as the flags the user typed.
  const prepared = loaded ? prepareJob(loaded, params) : null;
  const str = (k: string) => values[k] as string | undefined;
  const servers = context.servers ? [...context.servers] : resolveServers({ servers: str('servers'), host: str('host'), port: str('port') }, io.env);
  const named = namedNodes({ nodes: str('nodes'), 'nodes-file': str('nodes-file') }, io.env);
  const options: RunJobOptions = {
    servers,
    ...(named ? { expectNodes: named } : {}),
    ...(context.ephemeral ? {} : { members: FileMemberStore.for(servers, io.env) }),
    ...(context.inProcessNodes ? { inProcessNodes: context.inProcessNodes } : {}),
    logger: warningsTo(io.stderr, command),
    ...(prepared ? { job: prepared } : {}),
    ...(streaming
      ? {
          streaming: {
            ...(str('mapper') ? { mapper: str('mapper')! } : {}),
            ...(str('mapper-function') ? { mapperFunction: str('mapper-function')! } : {}),
            ...(str('combiner') ? { combiner: str('combiner')! } : {}),
            ...(str('reducer') ? { reducer: str('reducer')! } : {}),
          },
        }
      : {}),
    ...(str('since') ? { since: str('since')! } : {}),
    ...(str('until') ? { until: str('until')! } : {}),
    ...(str('where') ? { where: str('where')! } : {}),
    ...(str('vhost') ? { vhost: str('vhost')! } : {}),
    fanIn: intFlag(str('fan-in'), 'fan-in', 8, 2),
    retries: intFlag(str('retries'), 'retries', 3),
    taskTimeoutMs: intFlag(str('task-timeout'), 'task-timeout', 60, 1) * 1000,
    ...(str('wait-nodes') ? { waitNodes: intFlag(str('wait-nodes'), 'wait-nodes', 1, 1) } : context.waitNodes ? { waitNodes: context.waitNodes } : {}),
    waitTimeoutMs: intFlag(str('wait-timeout'), 'wait-timeout', DEFAULT_WAIT_TIMEOUT_MS / 1000, 1) * 1000,
    allowPartial: !!values['allow-partial'],
    speculative: !values['no-speculation'],
    ...(str('split-bytes') ? { splitBytes: intFlag(str('split-bytes'), 'split-bytes', 0, 1024 * 1024) } : {}),
    ...(str('partitions') || str('reduce-tasks') ? { partitions: intFlag(str('partitions') ?? str('reduce-tasks'), 'partitions', 1, 1) } : {}),
    ...(str('output') ? { outputDir: str('output')! } : {}),
    ...(values.incremental ? { incremental: true } : {}),
    ...(str('memory-budget') ? { memoryBudget: intFlag(str('memory-budget'), 'memory-budget', 0, 64 * 1024) } : {}),
    signal: io.signal,
    ...((): { tls?: RunJobOptions['tls'] } => {
      const tls = resolveTls(values as Record<string, string | boolean | undefined>, io.env);
      return tls ? { tls } : {};
    })(),
  };

  const tty = !!io.stderr.isTTY && !values.quiet && !values.json;
  const bar = tty ? new ProgressBar(io.stderr) : null;
  if (bar) (options as { onProgress?: (p: RunProgress) => void }).onProgress = (p) => bar.update(p);
  // Waiting for nodes: one line on a terminal, redrawn, saying who is there.
  let waitShown = false;
  if (io.stderr.isTTY && !values.quiet && options.waitNodes) {
    let lastWait = 0;
    (options as { onWaitNodes?: RunJobOptions['onWaitNodes'] }).onWaitNodes = (seen, msLeft) => {
      const now = Date.now();
      if (now - lastWait < 250) return;
      lastWait = now;
      waitShown = true;
      const who = seen.length > 0 ? ` (${seen.join(', ')})` : '';
      io.stderr.write(`\r\x1b[Kwaiting for ${options.waitNodes} nodes: ${seen.length} registered${who}; giving up in ${Math.ceil(msLeft / 1000)} s`);
    };
  }
  checkOut(str('out'), !!values.csv);
  const csvDir = values.csv && isCsvDirectory(str('out')) ? str('out')! : null;
  const sink: NodeJS.WritableStream = str('out') && !csvDir ? fs.createWriteStream(str('out')!) : io.stdout;
  const machine = !!values.json || !!values.csv;
  if (!machine && !options.outputDir) {
    // Sorted and streaming output goes out in large chunks, honouring back-pressure.
    (options as { outputChunk?: (chunk: Buffer) => Promise<void> | void }).outputChunk = (chunk) =>
      sink.write(chunk) ? undefined : new Promise<void>((r) => sink.once('drain', () => r()));
  }
  let report: RunReport;
  try {
    report = await runJob(options);
  } finally {
    bar?.stop();
    if (tty || waitShown) io.stderr.write('\r\x1b[K');
  }

  // Mostly invalid input prints no tables of nothing: the explanation below is the output (--json
  // still writes the report).
  const invalidInput = mostlyInvalid(report.stats);
  if (values.json || !invalidInput) {
    if (csvDir && report.rendered?.tables?.length) writeCsvFiles(csvDir, report.rendered.tables);
    else writeResult(report, values.json ? 'json' : values.csv ? 'csv' : 'text', sink);
  }
  if (sink !== io.stdout) await new Promise<void>((r) => (sink as fs.WriteStream).end(() => r()));
  if (invalidInput) {
    io.stderr.write(
      explainInvalidInput(report.stats!, {
        command,
        remedy: (f) => `start the nodes with --logs GLOB:${f} (or --format ${f})`,
        customRemedy: "start the nodes with --format '...' giving their LogFormat (from the web server's configuration)",
        ...context.input,
      }),
    );
    return EXIT.FAILURE;
  }
  if (str('html')) {
    // The HTML report (its charts, panels and the analyze schemas) loads only when asked for.
    const { renderReport } = await import('../report/index.ts');
    fs.writeFileSync(
      str('html')!,
      renderReport(report.rendered?.json ?? report.result, {
        counters: report.counters,
        stats: report.stats,
        nodes: report.nodes,
        timings: report.timings,
        job: report.job,
        partial: report.partial,
        missing: report.missing,
        ...(report.rendered?.tables ? { tables: report.rendered.tables } : {}),
      }),
    );
  }

  if (report.partial) {
    const nodes = report.missingNodes.map((m) => `${m.node} (${m.reason})`).join(', ');
    const list = report.missing.map((m) => `${m.node}:${m.path}${m.reason && !nodes ? ` (${m.reason})` : ''}`).join(', ');
    const head = nodes ? `${report.missingNodes.length} node(s) missing: ${nodes}; ` : '';
    io.stderr.write(`${command}: PARTIAL result: ${head}${report.missing.length} shard(s) not read, or not to their end: ${list}\n`);
  }
  const badLines = report.counters.bad_lines ?? 0;
  if (badLines > 0 && !values.json && !tty) {
    io.stderr.write(`${command}: ${badLines} of ${report.counters.lines_read ?? badLines} line(s) could not be parsed (see 'stats.samples' in --json output; check the nodes' --format)\n`);
  }
  if (tty) io.stderr.write(runSummary(report));
  return EXIT.OK;
}
