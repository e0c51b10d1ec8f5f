/**
 * `geartrain job`: gearmand's `gearman` tool, same flags (bin/gearman.cc, bin/arguments.cc).
 *
 * Client mode: each trailing argument is one job; with none, all of stdin is one job (`-n`/`-N`:
 * one job per line, `-s`: one empty job). Every job goes to every `-f` function. WORK_DATA and
 * the result go to stdout, warnings and exceptions to stderr; a failed job makes the exit status 1.
 * Departures from `gearman`, so that stdout stays the job's bytes: WORK_STATUS is shown as a
 * progress line only when stderr is a terminal (`-v` prints it as lines), and `-v` writes to stderr.
 *
 * Worker mode (`-w`): with `-- CMD ARGS`, CMD runs once per job with the workload on stdin and its
 * stdout is the result (`-n`: each output line goes out as WORK_DATA); a non-zero exit sends the
 * buffered output as WORK_DATA, then WORK_FAIL. Without CMD the workload is echoed to stdout.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { Client } from '../client/client.ts';
import type { Job } from '../client/job.ts';
import { Worker } from '../client/worker.ts';
import { refusalCodeOf } from '../client/tls-errors.ts';
import type { JobContext, WorkerJob } from '../client/worker-job.ts';
import { InvalidArgumentError, JobExceptionError, JobFailedError, NoServersError } from '../errors.ts';
import { ingestSealer } from '../mapreduce/task-auth.ts';
import { EXIT, interruptedStatus, parseFlags } from './conventions.ts';
import { formatCliError, type CliIO } from './io.ts';
import { resolveServers, resolveTls, SERVER_FLAGS_HELP, TLS_OPTIONS, SERVER_OPTIONS } from './servers.ts';

export const summary = 'submit jobs or run a worker, like the gearman tool';

const HELP = `usage: geartrain job [options] [DATA …]          client mode
       geartrain job -w [options] [-- CMD ARGS …]   worker mode

${SERVER_FLAGS_HELP}
  -f FUNC              function (repeatable; every job goes to every function)
  -t MS                timeout: per job (client), per job with CAN_DO_TIMEOUT (worker)
  -i PIDFILE           write the process id to PIDFILE
  -v                   diagnostics on stderr (job handles, status lines)
  -H, --help           this help

client:
  -b                   background jobs          -I / -L   high / low priority
  -u UNIQUE            unique key               -P        prefix output with the function name
  -n                   one job per input line   -N        same, newline stripped
  -s                   one empty job, stdin not read

worker:
  -w                   run as a worker          -c COUNT  exit after COUNT jobs
  -n / -N              send each output line of CMD as WORK_DATA (-N: without its newline)
  --concurrency N      jobs run at once (default 1)
`;

const OPTIONS = {
  ...SERVER_OPTIONS,
  function: { type: 'string', short: 'f', multiple: true },
  worker: { type: 'boolean', short: 'w' },
  count: { type: 'string', short: 'c' },
  background: { type: 'boolean', short: 'b' },
  high: { type: 'boolean', short: 'I' },
  low: { type: 'boolean', short: 'L' },
  unique: { type: 'string', short: 'u' },
  'per-line': { type: 'boolean', short: 'n' },
  'per-line-strip': { type: 'boolean', short: 'N' },
  'no-input': { type: 'boolean', short: 's' },
  prefix: { type: 'boolean', short: 'P' },
  timeout: { type: 'string', short: 't' },
  verbose: { type: 'boolean', short: 'v' },
  pidfile: { type: 'string', short: 'i' },
  daemon: { type: 'boolean', short: 'd' },
  ...TLS_OPTIONS,
  concurrency: { type: 'string' },
  help: { type: 'boolean', short: 'H' },
} as const;

type Flags = ReturnType<typeof parse>['values'];
type TlsSetting = ReturnType<typeof resolveTls> | false;

function parse(argv: string[]) {
  return parseFlags('geartrain job', { args: argv, options: OPTIONS, allowPositionals: true });
}

function intFlag(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new InvalidArgumentError(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(value)}`, { field: flag });
  return Number(value);
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parse(argv);
  const flags = parsed.values;
  if (flags.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (flags.daemon) {
    io.stderr.write('geartrain job: -d is not supported; run it under your service manager\n');
    return 2;
  }
  const functions = flags.function ?? [];
  if (functions.length === 0) {
    io.stderr.write('geartrain job: no function given (-f FUNC)\n');
    return 2;
  }
  const servers = resolveServers(flags, io.env);
  const tls = resolveTls(flags, io.env) ?? false;
  const timeoutMs = intFlag(flags.timeout, '-t', 1);
  if (flags.pidfile) fs.writeFileSync(flags.pidfile, `${process.pid}\n`);
  try {
    return flags.worker
      ? await runWorker(flags, functions, parsed.positionals, servers, tls, timeoutMs, io)
      : await runClient(flags, functions, parsed.positionals, servers, tls, timeoutMs, io);
  } finally {
    if (flags.pidfile) fs.rmSync(flags.pidfile, { force: true });
  }
}

// ---------------------------------------------------------------- client mode

async function* workloads(flags: Flags, positionals: string[], stdin: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  if (positionals.length > 0) {
    for (const p of positionals) yield Buffer.from(p);
    return;
  }
  if (flags['no-input']) {
    yield Buffer.alloc(0);
    return;
  }
  const perLine = flags['per-line'] || flags['per-line-strip'];
  if (!perLine) {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
    yield Buffer.concat(chunks);
    return;
  }
  const strip = flags['per-line-strip'] === true;
  let rest = Buffer.alloc(0);
  for await (const c of stdin) {
    let buf = rest.length > 0 ? Buffer.concat([rest, typeof c === 'string' ? Buffer.from(c) : (c as Buffer)]) : typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    let nl: number;
    while ((nl = buf.indexOf(10)) !== -1) {
      yield buf.subarray(0, strip ? nl : nl + 1);
      buf = buf.subarray(nl + 1);
    }
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) yield rest;
}

async function runClient(flags: Flags, functions: string[], positionals: string[], servers: string[], tls: TlsSetting, timeoutMs: number | undefined, io: CliIO): Promise<number> {
  const client = new Client({ servers, tls, connectAttempts: 2 });
  // Lines sent to logger are signed when the nodes take only signed ones (docs/security.md).
  const seal = ingestSealer(io.env.GEARTRAIN_INGEST_SECRET || undefined);
  const priority = flags.high ? 'high' : flags.low ? 'low' : 'normal';
  const prefix = (fn: string) => (flags.prefix ? `${fn}: ` : '');
  let failed = false;
  let progressOpen = false;
  const endProgress = () => {
    if (progressOpen) io.stderr.write('\n');
    progressOpen = false;
  };
  const follow = async (job: Job) => {
    if (flags.verbose) job.created.then((h) => io.stderr.write(`Task created: ${h}\n`), () => {});
    try {
      for await (const u of job) {
        if (u.type === 'data') io.stdout.write(flags.prefix ? Buffer.concat([Buffer.from(prefix(job.function)), u.data]) : u.data);
        else if (u.type === 'warning') io.stderr.write(Buffer.concat([Buffer.from(prefix(job.function)), u.data]));
        else {
          const pct = u.denominator > 0 ? Math.floor((u.numerator * 100) / u.denominator) : 0;
          if (io.stderr.isTTY) {
            io.stderr.write(`\r${prefix(job.function)}${pct}% Complete`);
            progressOpen = true;
          } else if (flags.verbose) io.stderr.write(`${prefix(job.function)}${pct}% Complete\n`);
        }
      }
      const result = await job.result;
      endProgress();
      if (result.length > 0 || flags.prefix) io.stdout.write(flags.prefix ? Buffer.concat([Buffer.from(prefix(job.function)), result]) : result);
    } catch (err) {
      endProgress();
      failed = true;
      if (err instanceof JobFailedError) io.stderr.write(`${prefix(job.function)}Job failed\n`);
      else if (err instanceof JobExceptionError) {
        const text = err.payload.toString('utf8');
        io.stderr.write(`${prefix(job.function)}${text}${text.endsWith('\n') ? '' : '\n'}`);
      } else throw err;
    }
  };
  try {
    for await (const data of workloads(flags, positionals, io.stdin)) {
      const jobs = functions.map((fn) =>
        client.submit(fn, seal(fn, data), { priority, background: flags.background === true, unique: flags.unique, timeoutMs, signal: io.signal, updates: !flags.background }),
      );
      if (flags.background) {
        for (const job of jobs) {
          const handle = await job.created;
          if (flags.verbose) io.stderr.write(`Task created: ${handle}\n`);
        }
      } else {
        await Promise.all(jobs.map(follow));
      }
    }
  } catch (err) {
    client.destroy();
    io.stderr.write(formatCliError('geartrain job', err) + '\n');
    return io.signal.aborted ? interruptedStatus(io.signal) : EXIT.FAILURE;
  }
  await client.close();
  return failed ? EXIT.FAILURE : EXIT.OK;
}

// ---------------------------------------------------------------- worker mode

async function runWorker(flags: Flags, functions: string[], command: string[], servers: string[], tls: TlsSetting, timeoutMs: number | undefined, io: CliIO): Promise<number> {
  const count = intFlag(flags.count, '-c', 0) ?? 0;
  const concurrency = intFlag(flags.concurrency, '--concurrency', 1) ?? 1;
  const worker = new Worker({ servers, concurrency, tls, connectAttempts: 2 });
  let started = 0;
  const handler = async (job: WorkerJob, ctx: JobContext) => {
    started++;
    if (count > 0 && started >= count) void worker.close();
    if (command.length === 0) {
      io.stdout.write(job.payload);
      return undefined;
    }
    return runCommand(command, job, ctx, flags, io);
  };
  for (const fn of functions) worker.register(fn, handler, timeoutMs !== undefined ? { timeoutMs } : {});
  void watchRefusals(worker, servers.length, io);
  const stop = () => void worker.close();
  io.signal.addEventListener('abort', stop, { once: true });
  try {
    await worker.start({ signal: io.signal });
  } catch (err) {
    if (io.signal.aborted) return 0;
    io.stderr.write(formatCliError('geartrain job', err) + '\n');
    return 1;
  }
  if (flags.verbose) io.stderr.write(`worker serving ${functions.join(', ')} on ${servers.join(', ')}\n`);
  const error = await worker.closed();
  io.signal.removeEventListener('abort', stop);
  if (error && !(error instanceof NoServersError)) io.stderr.write(formatCliError('geartrain job', error) + '\n');
  return error ? 1 : 0;
}

/**
 * A server that turns the worker away (TLS expected, certificate refused, unknown tenant) would
 * do so again: say why once per server, and stop when every server does. A server at its
 * connection limit is only waited for.
 */
async function watchRefusals(worker: Worker, serverCount: number, io: CliIO): Promise<void> {
  const refused = new Set<string>();
  for await (const ev of worker.status()) {
    if (ev.type !== 'disconnected') continue;
    const code = refusalCodeOf(ev.error);
    if (code === undefined || code === 'TOO_MANY_CONNECTIONS' || refused.has(ev.server)) continue;
    refused.add(ev.server);
    // The last one ends the worker, whose exit prints it.
    if (refused.size === serverCount) worker.destroy(ev.error);
    else io.stderr.write(formatCliError('geartrain job', ev.error) + '\n');
  }
}

/** Run CMD for one job: workload on its stdin, its stdout back (whole, or line by line with -n/-N). */
function runCommand(command: string[], job: WorkerJob, ctx: JobContext, flags: Flags, io: CliIO): Promise<Buffer | undefined> {
  const perLine = flags['per-line'] || flags['per-line-strip'];
  const strip = flags['per-line-strip'] === true;
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'], signal: ctx.signal });
    const chunks: Buffer[] = [];
    let rest = Buffer.alloc(0);
    let sending: Promise<void> = Promise.resolve();
    child.stdin.on('error', () => {}); // a command that does not read its input
    child.stdin.end(job.payload);
    child.stdout.on('data', (c: Buffer) => {
      if (!perLine) return void chunks.push(c);
      let buf = rest.length > 0 ? Buffer.concat([rest, c]) : c;
      let nl: number;
      while ((nl = buf.indexOf(10)) !== -1) {
        const line = Buffer.from(buf.subarray(0, strip ? nl : nl + 1));
        sending = sending.then(() => ctx.sendData(line));
        buf = buf.subarray(nl + 1);
      }
      rest = Buffer.from(buf);
    });
    let spawnError: Error | undefined;
    child.on('error', (err) => (spawnError = err));
    child.on('close', (code) => {
      if (perLine && rest.length > 0) {
        const last = rest;
        sending = sending.then(() => ctx.sendData(last));
      }
      sending.then(async () => {
        if (spawnError && !ctx.signal.aborted) {
          io.stderr.write(`geartrain job: cannot run ${command[0]}: ${(spawnError as NodeJS.ErrnoException).code ?? spawnError.message}\n`);
          throw new JobFailedError(`cannot run ${command[0]}`);
        }
        const output = Buffer.concat(chunks);
        if (code !== 0) {
          if (output.length > 0) await ctx.sendData(output);
          throw new JobFailedError(`${command[0]} exited with ${code}`);
        }
        return perLine ? undefined : output;
      }).then(resolve, reject);
    });
  });
}
