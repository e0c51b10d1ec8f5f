import fs from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { IncompleteResultError, InvalidArgumentError } from '../errors.ts';
import { builtinJobNames, builtinJobPath, importJobFile } from '../mapreduce/job-loader.ts';
import type { AnyJob, CliSpec } from '../mapreduce/job-definition.ts';
import { DEFAULT_WAIT_TIMEOUT_MS, runJob, type RunJobOptions, type RunProgress, type RunReport } from '../mapreduce/coordinator.ts';
import { bundleJobFile } from '../mapreduce/ship-code.ts';
import { intFlag } from './flags.ts';
import { explainInvalidInput, mostlyInvalid, type InvalidInputContext } from './input-check.ts';
import { formatCliError, type CliIO } from './io.ts';
import { formatBytes, formatCsv, formatDuration, formatTable } from './render.ts';
import { renderReport } from '../report/index.ts';
import { resolveServers, resolveTls, SERVER_FLAGS_HELP, TLS_OPTIONS, SERVER_OPTIONS } from './servers.ts';

export const summary = 'run a map/reduce job over the logs of every node';

const COMMON: NonNullable<ParseArgsConfig['options']> = {
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
  --since T, --until T   ISO 8601 date or date-time (with an offset or Z; else the logs' zone)
  --where EXPR           e.g. 'status>=500 and path~^/api/' (= != < <= > >= ~ !~, and/or/not, parentheses)
  --vhost NAME           only this virtual host (globs allowed)
  --json | --csv         machine-readable output; --out FILE writes it to a file
  --html FILE            also write the result as a self-contained HTML report
  --fan-in F             partials merged per reduce task (default 8)
  --retries N            attempts per task after the first (default 3)
  --task-timeout S       a task with no progress for S seconds fails (default 60)
  --wait-nodes N         wait for N nodes to register before planning (on a terminal, says
                         which are there); gives up after --wait-timeout S (default 30), exit 1
  --allow-partial        finish with the shards that could be read, and say which were not
                         (without it, a run that could not read all its input exits 3)
  --no-speculation       do not copy a straggling map task to another node holding its shards
  --split-bytes B        largest byte range per map task (default 64 MiB)
  --partitions R         reduce partitions of keyed and streaming jobs (alias --reduce-tasks)
  --incremental          summary jobs: reuse the nodes' cached per-day partials; read only new bytes
  --memory-budget B      map output bytes a task holds before spilling a sorted run (default 64 MiB)
  --mapper CMD / --mapper-function NAME / --combiner CMD / --reducer CMD / --output DIR
  -q, --quiet            no progress bar
`;
}

async function loadJobForCli(name: string): Promise<AnyJob> {
  const isFile = name.includes('/') || /\.(m?[jt]s)$/.test(name);
  if (!isFile) return importJobFile(builtinJobPath(name));
  // Bundle as the nodes will get it, then load the bundle to read its parameters.
  const code = await bundleJobFile(name);
  const tmp = `${fs.mkdtempSync('/tmp/geartrain-cli-')}/job.mjs`;
  fs.writeFileSync(tmp, code);
  try {
    return await importJobFile(tmp);
  } finally {
    fs.rmSync(tmp.slice(0, tmp.lastIndexOf('/')), { recursive: true, force: true });
  }
}

function jobOptions(cli: CliSpec | undefined): { options: NonNullable<ParseArgsConfig['options']>; toParam: Map<string, { param: string; type: string; multiple: boolean }> } {
  const options: NonNullable<ParseArgsConfig['options']> = {};
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

function progressLine(p: RunProgress, startedAt: number): string {
  const frac = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : p.tasksTotal > 0 ? p.tasksDone / p.tasksTotal : 0;
  const width = 24;
  const filled = Math.round(frac * width);
  const elapsed = Date.now() - startedAt;
  const eta = frac > 0.02 && p.phase === 'map' ? ` ETA ${formatDuration((elapsed / frac) * (1 - frac))}` : '';
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${p.phase} ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)} tasks ${p.tasksDone}/${p.tasksTotal} (${p.tasksRunning} running${p.retries ? `, ${p.retries} retried` : ''})${eta}   `;
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  return runWith(argv, io, {});
}

/** Where `geartrain analyze` runs the same job: its embedded cluster instead of --servers. */
export interface RunContext {
  readonly servers?: readonly string[];
  /** Name used in messages (`geartrain run` or `geartrain analyze`). */
  readonly command?: string;
  /** What the input was read as, and how to say where a line came from, for invalid input. */
  readonly input?: Pick<InvalidInputContext, 'format' | 'source' | 'remedy' | 'customRemedy'>;
}

export async function runWith(argv: string[], io: CliIO, context: RunContext): Promise<number> {
  const command = context.command ?? 'geartrain run';
  const first = argv[0];
  const streaming = first === undefined || first.startsWith('-');
  if (first === undefined || (streaming && (argv.includes('-H') || argv.includes('--help')) && !argv.includes('--mapper'))) {
    io.stdout.write(help(builtinJobNames()));
    return first === undefined ? 2 : 0;
  }
  const job = streaming ? null : await loadJobForCli(first);
  const rest = streaming ? argv : argv.slice(1);
  const { options: jobFlags, toParam } = jobOptions(job && 'cli' in job ? job.cli : undefined);
  const { values, positionals } = parseArgs({ args: rest, options: { ...COMMON, ...jobFlags }, allowPositionals: true, strict: true });
  if (values.help) {
    io.stdout.write(job ? `usage: geartrain run ${job.cli?.usage ?? job.name}\n  ${job.description}\n` : help(builtinJobNames()));
    return 0;
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
      if (!Number.isFinite(n)) throw new InvalidArgumentError(`--${key} expects a number, got '${String(v)}'`, { field: key });
      params[target.param] = n;
    } else params[target.param] = v;
  }

  if (job) {
    // Refuse bad parameters before any connection, worded as the flags the user typed.
    const checked = job.params.safeParse(params);
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      const field = issue.path.join('.') || 'arguments';
      const flag = job.cli?.positionals?.includes(field) ? field.toUpperCase() : `--${field}`;
      throw new InvalidArgumentError(`${job.name}: ${flag}: ${params[field] === undefined ? 'missing' : issue.message} (usage: geartrain run ${job.cli?.usage ?? job.name})`, { field });
    }
  }
  const str = (k: string) => values[k] as string | undefined;
  const servers = context.servers ? [...context.servers] : resolveServers({ servers: str('servers'), host: str('host'), port: str('port') }, io.env);
  const options: RunJobOptions = {
    servers,
    ...(job ? { job: first, params } : {}),
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
    ...(str('wait-nodes') ? { waitNodes: intFlag(str('wait-nodes'), 'wait-nodes', 1, 1) } : {}),
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
  const startedAt = Date.now();
  let lastDraw = 0;
  if (tty) {
    (options as { onProgress?: (p: RunProgress) => void }).onProgress = (p) => {
      const now = Date.now();
      if (now - lastDraw < 100 && p.phase === 'map') return;
      lastDraw = now;
      io.stderr.write(progressLine(p, startedAt));
    };
  }
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
  const sink: NodeJS.WritableStream = str('out') ? fs.createWriteStream(str('out')!) : io.stdout;
  const machine = !!values.json || !!values.csv;
  if (!machine && !options.outputDir) {
    // Sorted and streaming output goes out in large chunks, honouring back-pressure.
    (options as { outputChunk?: (chunk: Buffer) => Promise<void> | void }).outputChunk = (chunk) => {
      if (!sink.write(chunk)) return new Promise<void>((r) => sink.once('drain', () => r()));
    };
  }
  let report: RunReport;
  try {
    report = await runJob(options);
  } catch (err) {
    if (!(err instanceof IncompleteResultError)) throw err;
    // An incomplete result (exit status 3), not a failure: it says what could not be read.
    if (tty || waitShown) io.stderr.write('\r\x1b[K');
    io.stderr.write(formatCliError(command, err) + '\n');
    return 3;
  } finally {
    if (tty || waitShown) io.stderr.write('\r\x1b[K');
  }

  const invalidInput = mostlyInvalid(report.stats);
  if (values.json) {
    const { lines, ...rest } = report;
    const body = { ...rest, result: report.rendered?.json ?? report.result, ...(lines ? { lines: lines.map((l) => l.toString('utf8')) } : {}) };
    sink.write(JSON.stringify(body, null, 2) + '\n');
  } else if (invalidInput) {
    // No tables of nothing: the explanation below is the output.
  } else if (values.csv) {
    const table = report.rendered?.tables?.[0];
    if (table) sink.write(formatCsv(table));
    else for (const l of report.lines ?? []) sink.write(l.toString('utf8') + '\n');
  } else if (report.rendered) {
    if (report.rendered.text) sink.write(report.rendered.text + '\n');
    for (const t of report.rendered.tables ?? []) sink.write(formatTable(t) + '\n');
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
    return 1;
  }
  if (str('html')) {
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
      }),
    );
  }

  if (report.partial) {
    const list = report.missing.map((m) => `${m.node}:${m.path}${m.reason ? ` (${m.reason})` : ''}`).join(', ');
    io.stderr.write(`${command}: PARTIAL result: ${report.missing.length} shard(s) not read, or not to their end: ${list}\n`);
  }
  const badLines = report.counters.bad_lines ?? 0;
  if (badLines > 0 && !values.json && !tty) {
    io.stderr.write(`${command}: ${badLines} of ${report.counters.lines_read ?? badLines} line(s) could not be parsed (see 'stats.samples' in --json output; check the nodes' --format)\n`);
  }
  if (tty || (!values.quiet && !values.json && io.stderr.isTTY)) {
    const bad = report.counters.bad_lines ?? 0;
    io.stderr.write(
      `${report.job}: ${formatBytes(report.bytes)} on ${report.nodes.length} node(s), ${report.tasks.map} map and ${report.tasks.reduce} reduce tasks${report.tasks.retried ? ` (${report.tasks.retried} retried)` : ''}${report.tasks.speculative ? ` (${report.tasks.speculative} straggler(s) copied, ${report.tasks.speculativeWon} copy won)` : ''}, ${bad} bad line(s), ${formatDuration(report.timings.total)}\n`,
    );
  }
  return 0;
}
