import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors.ts';
import { LOG_LEVELS, lineLogger, silentLogger, type Logger, type LogLevel } from '../logger.ts';
import { JobServer, type JobServerOptions } from '../server/index.ts';
import type { CliIO } from './io.ts';
import { intFlag } from './flags.ts';

export const summary = 'run a Gearman job server (gearmand-compatible)';

const HELP = `usage: geartrain server [flags]

  -p, --port N             port to listen on (default 4730; 0 = any free port)
  -L, --listen HOST        address to bind (default 127.0.0.1)
  -q, --queue KIND         persistent queue: sqlite (default), postgres, redis, memory
                           (gearmand names accepted: builtin, libsqlite3, libpq, Postgres)
      --data DIR           data directory for the default SQLite queue (default ./geartrain-data)
      --sqlite-db FILE     SQLite queue file (alias --libsqlite3-db)
      --postgres-url URL   PostgreSQL connection string (alias --libpq-conninfo)
      --redis-url URL      Redis URL (alias --redis-server)
      --queue-table NAME   table name (aliases --libsqlite3-table, --libpq-table)
      --fsync MODE         normal (survives a crash of this process) or always (also power loss)
  -j, --job-retries N      fail a job after N attempts whose worker vanished (0 = unlimited)
      --priority-per-function  gearmand 1.1 order: per function, newest CAN_DO first
  -R, --round-robin        with --priority-per-function: rotate functions after each job
  -w, --worker-wakeup N    NOOPs sent per new job to sleeping workers (0 = all)
      --exceptions         send WORK_EXCEPTION to all clients, not only those that asked
      --job-handle-prefix P  job handles are P:<n> (default H:<hostname>)
      --keepalive S        TCP keepalive idle seconds (0 = off; default 60)
      --max-packet-size B  largest packet accepted (default 67108864)
  -P, --pid-file FILE      write the process id here
  -l, --log-file FILE      log to FILE (or 'stderr', 'none'; default stderr)
      --verbose LEVEL      FATAL, ERROR, WARNING, NOTICE, INFO, DEBUG (default WARNING)
  -H, --help               this help

Prints "listening on HOST:PORT" once it accepts connections.
Signals: SIGTERM/SIGINT stop, SIGUSR1 stops gracefully (running jobs finish), SIGHUP reopens the log file.
`;

/** A log destination that SIGHUP can reopen (for logrotate). */
class LogFile {
  #fd: number | null = null;
  constructor(readonly file: string) {
    this.reopen();
  }
  reopen(): void {
    const old = this.#fd;
    this.#fd = fs.openSync(this.file, 'a');
    if (old !== null) fs.closeSync(old);
  }
  write(line: string): void {
    if (this.#fd !== null) fs.writeSync(this.#fd, line);
  }
  close(): void {
    if (this.#fd !== null) fs.closeSync(this.#fd);
    this.#fd = null;
  }
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string', short: 'p' },
      listen: { type: 'string', short: 'L' },
      queue: { type: 'string', short: 'q' },
      'queue-type': { type: 'string' },
      data: { type: 'string' },
      'sqlite-db': { type: 'string' },
      'libsqlite3-db': { type: 'string' },
      'postgres-url': { type: 'string' },
      'libpq-conninfo': { type: 'string' },
      'redis-url': { type: 'string' },
      'redis-server': { type: 'string' },
      'queue-table': { type: 'string' },
      'libsqlite3-table': { type: 'string' },
      'libpq-table': { type: 'string' },
      fsync: { type: 'string' },
      'job-retries': { type: 'string', short: 'j' },
      'priority-per-function': { type: 'boolean' },
      'round-robin': { type: 'boolean', short: 'R' },
      'worker-wakeup': { type: 'string', short: 'w' },
      exceptions: { type: 'boolean' },
      'job-handle-prefix': { type: 'string' },
      keepalive: { type: 'string' },
      'max-packet-size': { type: 'string' },
      'pid-file': { type: 'string', short: 'P' },
      'log-file': { type: 'string', short: 'l' },
      verbose: { type: 'string' },
      help: { type: 'boolean', short: 'H' },
    },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const verbose = (values.verbose ?? 'WARNING').toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(verbose)) {
    throw new InvalidArgumentError(`--verbose must be one of ${LOG_LEVELS.join(', ')}`, { field: 'verbose' });
  }
  const logTarget = values['log-file'] ?? 'stderr';
  let logFile: LogFile | null = null;
  let logger: Logger;
  if (logTarget === 'none') logger = silentLogger;
  else if (logTarget === 'stderr') logger = lineLogger((l) => io.stderr.write(l), verbose as LogLevel);
  else {
    const file = new LogFile(logTarget);
    logFile = file;
    logger = lineLogger((l) => file.write(l), verbose as LogLevel);
  }

  const queue = values.queue ?? values['queue-type'] ?? 'sqlite';
  const dataDir = values.data ?? 'geartrain-data';
  let sqliteDb = values['sqlite-db'] ?? values['libsqlite3-db'];
  if (!sqliteDb && ['sqlite', 'libsqlite3'].includes(queue.toLowerCase())) {
    fs.mkdirSync(dataDir, { recursive: true });
    sqliteDb = path.join(dataDir, 'queue.sqlite');
  }
  const options: JobServerOptions = {
    host: values.listen ?? '127.0.0.1',
    port: intFlag(values.port, 'port', 4730),
    queue,
    sqliteDb,
    postgresUrl: values['postgres-url'] ?? values['libpq-conninfo'],
    redisUrl: values['redis-url'] ?? values['redis-server'],
    queueTable: values['queue-table'] ?? values['libsqlite3-table'] ?? values['libpq-table'],
    fsync: (values.fsync as 'normal' | 'always' | undefined) ?? 'normal',
    jobRetries: intFlag(values['job-retries'], 'job-retries', 0),
    priorityPerFunction: values['priority-per-function'] ?? false,
    roundRobin: values['round-robin'] ?? false,
    workerWakeup: intFlag(values['worker-wakeup'], 'worker-wakeup', 0),
    exceptions: values.exceptions ?? false,
    jobHandlePrefix: values['job-handle-prefix'],
    keepalive: intFlag(values.keepalive, 'keepalive', 60),
    maxPacketSize: intFlag(values['max-packet-size'], 'max-packet-size', 64 * 1024 * 1024),
    verbose: verbose as LogLevel,
    logger,
  };
  for (const key of Object.keys(options) as (keyof JobServerOptions)[]) if (options[key] === undefined) delete options[key];

  const server = new JobServer(options);
  const pidFile = values['pid-file'];
  let stopping = false;
  const done = new Promise<void>((resolve) => {
    const stop = async (graceful: boolean) => {
      if (stopping) return;
      stopping = true;
      logger.info(graceful ? 'graceful shutdown: waiting for running jobs' : 'shutting down');
      if (graceful) await server.close();
      else {
        await server.close({ timeoutMs: 0 });
      }
      resolve();
    };
    server.onShutdownRequest((graceful) => void stop(graceful));
    io.signal.addEventListener('abort', () => void stop(false), { once: true });
    process.on('SIGUSR1', () => void stop(true));
    process.on('SIGHUP', () => logFile?.reopen());
  });

  const { host, port } = await server.listen();
  if (pidFile) fs.writeFileSync(pidFile, `${process.pid}\n`);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  io.stdout.write(`listening on ${shownHost}:${port}\n`);
  await done;
  if (pidFile) fs.rmSync(pidFile, { force: true });
  logFile?.close();
  return 0;
}
