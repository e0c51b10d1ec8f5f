import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '../errors.ts';
import { lineLogger, silentLogger, type Logger } from '../logger.ts';
import { JobServer, type JobServerOptions } from '../server/index.ts';
import { GEARMAND_DEFAULT_CERTIFICATE, GEARMAND_DEFAULT_KEY, readTlsFiles } from '../server/tls.ts';
import { loadTenantsFile } from '../server/tenants.ts';
import { isLoopback } from '../server/limits.ts';
import { isHookField, parseHookSpec, type HookConfig } from '../server/hooks-spec.ts';
import { parseRelaySpec } from '../server/relay-spec.ts';
import { splitList } from '../server/function-pattern.ts';
import type { CliIO } from './io.ts';
import { resolveTls, type TlsFlagNames } from './servers.ts';
import { intFlag, logLevelFlag } from './flags.ts';
import { parseFlags } from './conventions.ts';

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
      --http-port N        HTTP monitor (/), /status, /metrics and POST /FUNC job submission (0 = any free port)
      --http-listen HOST   address of the HTTP port (default: the --listen address)
      --http-host NAME     a name the HTTP port answers to, besides its address, IP addresses and
                           localhost (repeatable); requests naming another Host are refused
      --ssl                TLS on the port (implied by the --ssl-* flags); files default to
                           GEARMAND_SERVER_PEM / GEARMAND_SERVER_KEY / GEARMAND_CA_CERTIFICATE,
                           then gearmand's ${GEARMAND_DEFAULT_CERTIFICATE} and .key
      --ssl-certificate F  server certificate chain, PEM
      --ssl-key F          its private key, PEM
      --ssl-ca-file F      CA of client certificates: clients are asked for one, checked against F
      --ssl-require-client-cert  refuse clients without a certificate
      --tenants FILE       tenants by client certificate (JSON; needs --ssl-ca-file; docs/security.md)
      --max-connections N  connections at once, HTTP ones included (default: the open-files limit
                           less an eighth and a reserve); the next ones are refused
      --max-queue N        default maxqueue of every function (default 0 = unlimited)
      --max-pending-output B  cut off a peer with more unread output than this (default 268435456)
      --admin-token T      other hosts may change state (cancel, drop, create, maxqueue, shutdown)
                           after 'auth T' (else GEARTRAIN_ADMIN_TOKEN; --admin-token-file F)
      --result-cache SIZE[,TTL]  keep results of finished foreground jobs with a unique key: SIZE bytes
                           (k, M, G suffixes), each for TTL seconds (default: until evicted)
      --result-cache-functions F[,F…]  functions (globs) whose results are kept; needed with --result-cache
      --relay F[,F…]=HOST:PORT[,HOST:PORT…]  relay jobs of F (globs) that no local worker can do to
                           these servers (repeatable)
      --relay-ssl          relay over TLS; --relay-ssl-ca-file F (else --ssl-ca-file, else the system's
                           CAs), --relay-ssl-certificate F --relay-ssl-key F to present a certificate
      --hook 'on=complete,fail,exception function=F url=URL|command=CMD retries=3 timeout=5 backlog=1000'
                           POST each ended job as JSON to URL, or pipe it to CMD (repeatable)
  -P, --pid-file FILE      write the process id here
  -l, --log-file FILE      log to FILE (or 'stderr', 'none'; default stderr)
      --verbose LEVEL      FATAL, ERROR, WARNING, NOTICE, INFO, DEBUG (default WARNING)
  -H, --help               this help

Prints "listening on HOST:PORT" once it accepts connections (then "http on http://HOST:PORT/" with --http-port).
Signals: SIGTERM/SIGINT stop, SIGUSR1 stops gracefully (running jobs finish), SIGHUP reopens the log file
and reloads the --ssl-* files (certificate rotation; open connections keep theirs).
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
  const { rest, hooks } = takeHookFlags(argv);
  const { values } = parseFlags('geartrain server', {
    args: rest,
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
      'http-port': { type: 'string' },
      'http-listen': { type: 'string' },
      'http-host': { type: 'string', multiple: true },
      ssl: { type: 'boolean' },
      'ssl-certificate': { type: 'string' },
      'ssl-key': { type: 'string' },
      'ssl-ca-file': { type: 'string' },
      'ssl-require-client-cert': { type: 'boolean' },
      tenants: { type: 'string' },
      'max-connections': { type: 'string' },
      'max-queue': { type: 'string' },
      'max-pending-output': { type: 'string' },
      'admin-token': { type: 'string' },
      'admin-token-file': { type: 'string' },
      'result-cache': { type: 'string' },
      'result-cache-functions': { type: 'string' },
      relay: { type: 'string', multiple: true },
      'relay-ssl': { type: 'boolean' },
      'relay-ssl-ca-file': { type: 'string' },
      'relay-ssl-certificate': { type: 'string' },
      'relay-ssl-key': { type: 'string' },
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
  const verbose = logLevelFlag(values.verbose);
  const logTarget = values['log-file'] ?? 'stderr';
  let logFile: LogFile | null = null;
  let logger: Logger;
  if (logTarget === 'none') logger = silentLogger;
  else if (logTarget === 'stderr') logger = lineLogger((l) => io.stderr.write(l), verbose);
  else {
    const file = new LogFile(logTarget);
    logFile = file;
    logger = lineLogger((l) => file.write(l), verbose);
  }

  const queue = values.queue ?? values['queue-type'] ?? 'sqlite';
  const dataDir = values.data ?? 'geartrain-data';
  let sqliteDb = values['sqlite-db'] ?? values['libsqlite3-db'];
  const defaultDb = !sqliteDb && ['sqlite', 'libsqlite3'].includes(queue.toLowerCase());
  if (defaultDb) sqliteDb = path.join(dataDir, 'queue.sqlite');
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
    httpPort: values['http-port'] !== undefined ? intFlag(values['http-port'], 'http-port', 0) : undefined,
    httpHost: values['http-listen'],
    httpAllowedHosts: values['http-host'],
    verbose,
    logger,
    ...securityOptions(values, io.env),
    ...extrasOptions(values, hooks, io.env),
  };
  for (const key of Object.keys(options) as (keyof JobServerOptions)[]) if (options[key] === undefined) delete options[key];

  const server = new JobServer(options);
  // Created only once every flag has been checked: a typo must not leave a data directory behind.
  if (defaultDb) fs.mkdirSync(dataDir, { recursive: true });
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

  const tlsFiles = tlsFilesOf(values, io.env);
  if (tlsFiles) process.on('SIGHUP', () => reloadTls(server, tlsFiles, logger));
  const { host, port } = await server.listen();
  if (!tlsFiles && !isLoopbackHost(host)) {
    io.stderr.write(
      `geartrain server: warning: listening on ${host} without TLS: anyone who can reach port ${port} can submit jobs, ` +
        'run workers and read their results in clear text; use --ssl (with --ssl-ca-file or --tenants to require client certificates)\n',
    );
  }
  if (pidFile) fs.writeFileSync(pidFile, `${process.pid}\n`);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  io.stdout.write(`listening on ${shownHost}:${port}\n`);
  const http = server.httpAddress();
  if (http) io.stdout.write(`http on http://${http.host.includes(':') ? `[${http.host}]` : http.host}:${http.port}/\n`);
  await done;
  if (pidFile) fs.rmSync(pidFile, { force: true });
  logFile?.close();
  return 0;
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** Certificate, key and CA paths, when TLS is on (--ssl or any --ssl-* flag); gearmand's env and defaults fill the gaps. */
function tlsFilesOf(values: Values, env: NodeJS.ProcessEnv): { certificate: string; key: string; caFile: string | undefined } | undefined {
  const str = (k: string) => values[k] as string | undefined;
  const on = values.ssl === true || str('ssl-certificate') !== undefined || str('ssl-key') !== undefined || str('ssl-ca-file') !== undefined || values['ssl-require-client-cert'] === true;
  if (!on) return undefined;
  return {
    certificate: str('ssl-certificate') ?? (env.GEARMAND_SERVER_PEM || GEARMAND_DEFAULT_CERTIFICATE),
    key: str('ssl-key') ?? (env.GEARMAND_SERVER_KEY || GEARMAND_DEFAULT_KEY),
    caFile: str('ssl-ca-file') ?? (env.GEARMAND_CA_CERTIFICATE || undefined),
  };
}

/** TLS, tenants, limits and admin token options from the flags. */
function securityOptions(values: Values, env: NodeJS.ProcessEnv): Partial<JobServerOptions> {
  const str = (k: string) => values[k] as string | undefined;
  const out: Partial<JobServerOptions> = {};
  const files = tlsFilesOf(values, env);
  if (files) out.tls = { ...readTlsFiles(files), requireClientCert: values['ssl-require-client-cert'] === true };
  if (values['ssl-require-client-cert'] === true && !files?.caFile) {
    throw new InvalidArgumentError('--ssl-require-client-cert needs --ssl-ca-file (the CA that signs client certificates)', { field: 'ssl-require-client-cert' });
  }
  const tenants = str('tenants');
  if (tenants !== undefined) {
    if (!files?.caFile) throw new InvalidArgumentError('--tenants needs --ssl-ca-file: tenants are named by client certificates', { field: 'tenants' });
    out.tenants = loadTenantsFile(tenants);
  }
  if (str('max-connections') !== undefined) out.maxConnections = intFlag(str('max-connections'), 'max-connections', 0, 1);
  if (str('max-queue') !== undefined) out.maxQueue = intFlag(str('max-queue'), 'max-queue', 0);
  if (str('max-pending-output') !== undefined) out.maxPendingOutput = intFlag(str('max-pending-output'), 'max-pending-output', 0, 1024);
  const tokenFile = str('admin-token-file');
  const token = str('admin-token') ?? (tokenFile !== undefined ? readToken(tokenFile) : env.GEARTRAIN_ADMIN_TOKEN || undefined);
  if (token !== undefined) out.adminToken = token;
  return out;
}

/** `--hook` takes one word or several `key=value` words; pulled out before parseArgs sees them. */
function takeHookFlags(argv: readonly string[]): { rest: string[]; hooks: string[][] } {
  const rest: string[] = [];
  const hooks: string[][] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a !== '--hook' && !a.startsWith('--hook=')) {
      rest.push(a);
      continue;
    }
    let first: string;
    if (a === '--hook') {
      const next = argv[i + 1];
      if (next === undefined) throw new InvalidArgumentError("--hook needs a value: 'on=… function=… url=…|command=…'", { field: 'hook' });
      first = next;
      i++;
    } else {
      first = a.slice('--hook='.length);
    }
    const words = [first];
    while (i + 1 < argv.length && isHookField(argv[i + 1]!)) words.push(argv[++i]!);
    hooks.push(words);
  }
  return { rest, hooks };
}

/** `--result-cache`, `--relay` and `--hook`. */
function extrasOptions(values: Values, hooks: readonly string[][], env: NodeJS.ProcessEnv): Partial<JobServerOptions> {
  const out: Partial<JobServerOptions> = {};
  const cache = values['result-cache'] as string | undefined;
  const cacheFunctions = values['result-cache-functions'] as string | undefined;
  if (cache !== undefined) {
    if (cacheFunctions === undefined) {
      throw new InvalidArgumentError("--result-cache needs --result-cache-functions (the functions whose results may be reused; '*' for all)", {
        field: 'result-cache-functions',
      });
    }
    const [size = '', ttl] = cache.split(',');
    const maxBytes = byteSize(size.trim(), 'result-cache');
    let ttlSeconds: number | undefined;
    if (ttl !== undefined) {
      ttlSeconds = Number(ttl);
      if (!/^\s*\d+(\.\d+)?\s*$/.test(ttl) || !(ttlSeconds > 0)) throw new InvalidArgumentError(`--result-cache: TTL must be a positive number of seconds, got '${ttl}'`, { field: 'result-cache' });
    }
    out.resultCache = { maxBytes, functions: splitList(cacheFunctions), ...(ttlSeconds !== undefined ? { ttlSeconds } : {}) };
  } else if (cacheFunctions !== undefined) {
    throw new InvalidArgumentError('--result-cache-functions needs --result-cache SIZE[,TTL]', { field: 'result-cache' });
  }
  const relay = values.relay as string[] | undefined;
  if (relay && relay.length > 0) out.relay = relay.map((r) => parseRelaySpec(r));
  const relayTls = relayTlsOptions(values, env);
  if (relayTls) {
    if (!out.relay) throw new InvalidArgumentError('--relay-ssl* flags need --relay FUNC=HOST:PORT', { field: 'relay-ssl' });
    out.relayTls = relayTls;
  }
  if (hooks.length > 0) out.hooks = hooks.map((words): HookConfig => parseHookSpec(words));
  return out;
}

/** The flags of TLS towards relay targets; no environment variables (those are the server's own). */
const RELAY_TLS_FLAGS: TlsFlagNames = { on: 'relay-ssl', ca: 'relay-ssl-ca-file', cert: 'relay-ssl-certificate', key: 'relay-ssl-key' };

/** TLS towards relay targets: on with --relay-ssl or any --relay-ssl-* flag; the CA defaults to --ssl-ca-file. */
function relayTlsOptions(values: Values, env: NodeJS.ProcessEnv): JobServerOptions['relayTls'] {
  const { on, ca, cert, key } = RELAY_TLS_FLAGS;
  if (![on, ca, cert, key].some((flag) => values[flag] !== undefined)) return undefined;
  return resolveTls({ ...values, [ca]: values[ca] ?? values['ssl-ca-file'] }, env, RELAY_TLS_FLAGS);
}

/** `1048576`, `64k`, `64M`, `1G` (binary multiples) → bytes. */
function byteSize(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg])?i?b?$/i.exec(text);
  const n = m ? Math.floor(Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] ?? ' ').toLowerCase())) : NaN;
  if (!(n >= 1)) throw new InvalidArgumentError(`--${flag}: SIZE must be a number of bytes (k, M, G suffixes allowed), got '${text}'`, { field: flag });
  return n;
}

function readToken(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new InvalidArgumentError(`--admin-token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { field: 'admin-token-file' });
  }
}

/** SIGHUP: new certificate, key and CA for new connections (rotation without a restart). */
function reloadTls(server: JobServer, files: { certificate: string; key: string; caFile: string | undefined }, logger: Logger): void {
  try {
    server.setTlsCredentials(readTlsFiles(files));
    logger.info('TLS certificate, key and CA reloaded');
  } catch (err) {
    logger.error(`TLS reload failed, keeping the previous certificate: ${(err as Error).message}`);
  }
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host);
}
