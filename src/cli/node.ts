/**
 * `geartrain node`: one process per log host. It does not listen: it connects to the job servers
 * as a worker, serves its log files and ingested segments, and runs map and reduce tasks over
 * them (src/mapreduce/node-runtime.ts). Prints `node <name> ready (N shards)` once its
 * functions are registered on every reachable server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AdminClient } from '../client/admin-client.ts';
import type { WorkerJob } from '../client/worker-job.ts';
import { InvalidArgumentError } from '../errors.ts';
import { lineLogger } from '../logger.ts';
import { compileLogFormat, type LogFormat } from '../logs/format.ts';
import { parseLogSource, unmatchedReason, type LogSource } from '../logs/log-sources.ts';
import { DEFAULT_INGEST_CONCURRENCY, DEFAULT_POLL_MS } from '../logs/log-service.ts';
import { DEFAULT_MAX_SEGMENT_BYTES } from '../logs/segments.ts';
import { intFlag, logLevelFlag } from './flags.ts';
import { EXIT, parseFlags } from './conventions.ts';
import type { CliIO } from './io.ts';
import { resolveServers, resolveTls, SERVER_FLAGS_HELP, TLS_OPTIONS, SERVER_OPTIONS } from './servers.ts';
import { announceDeparture } from '../mapreduce/cluster-members.ts';
import { checkNodePermissions } from '../mapreduce/job-gate.ts';
import { FileMemberStore } from '../mapreduce/member-store.ts';
import { startLogNode } from '../mapreduce/log-node.ts';
import { checkNoTwin, ensureNameIsFree, waitForJobServers } from '../mapreduce/node-startup.ts';
import { sealerFor } from '../mapreduce/task-auth.ts';
import type { Worker } from '../client/worker.ts';

export const summary = 'serve log files and ingest lines on a log host (a worker)';

const HELP = `usage: geartrain node --name NAME [--logs GLOB[:FORMAT] …] [flags]
       geartrain node --leave --name NAME [--servers …]     (at decommission, once it is stopped)

${SERVER_FLAGS_HELP}
  --name NAME            this node's name (default: the host name); functions are NAME-suffixed
  --logs GLOB[:FORMAT]   log files to serve (repeatable); plain and .gz, rotated and growing;
                         each GLOB must match a file at start. FORMAT is a nickname (combined,
                         common, vhost_combined, …) after the last ':' (otherwise the ':' is
                         part of the path)
  --format FORMAT        default format of --logs, and of lines ingested through logger
                         (nickname or LogFormat string; default combined)
  --data DIR             data directory: ingested segments, scan cache (default
                         ./geartrain-data/node-NAME)
  --replicas R           store each ingested batch on R nodes (default 1)
  --peers A,B            nodes that may hold replicas (default: any live node)
  --concurrency N        map tasks at once (default: number of CPUs)
  --ingest-concurrency N logger jobs at once, fsync'd together (default ${DEFAULT_INGEST_CONCURRENCY})
  --segment-bytes B      start a new segment past this size (default ${DEFAULT_MAX_SEGMENT_BYTES})
  --poll-ms MS           re-list and scan the log files this often (default ${DEFAULT_POLL_MS}; 0 = on request)
  --allow-code           run job code shipped by the coordinator (needs GEARTRAIN_SECRET)
  --allow-exec           run shell commands of streaming jobs: anyone holding GEARTRAIN_SECRET
                         can then run any command on this node (needs GEARTRAIN_SECRET)
  --ingest-secret-file F logger takes only batches signed with the secret in F (or set
                         GEARTRAIN_INGEST_SECRET); geartrain ship/job sign when it is set
  --follow-symlinks      serve log files whose symlinks lead out of the --logs directories
  --verbose LEVEL        FATAL, ERROR, WARNING, NOTICE, INFO, DEBUG (default WARNING), to stderr
  --leave                the node NAME left the cluster for good: runs stop expecting it (a notice
                         on the job servers tells every coordinator; geartrain nodes forget NAME
                         does the same from anywhere). Refused while NAME is live: stop it first
  -H, --help             this help

Functions: logger, logger@NAME, geartrain.replica@NAME, geartrain.catalog@NAME (+ map/reduce).
GEARTRAIN_SECRET: the cluster secret; with it every task and request must be signed with it
(geartrain run does so when it has the same value). Without it the node runs built-in jobs only,
for any client of its job servers (docs/security.md, "Log nodes").
Waits for its job servers when they are not up yet. Exits 2 when a --logs GLOB matches no file
or names a directory, or a format name is unknown; 1 when a live node of the same name is on
the job servers.
SIGTERM/SIGINT: stop taking jobs, finish the running ones, exit 0.
`;

/** Waits until every server lists each worker (by client id) with all its functions. */
async function waitForRegistration(
  servers: readonly string[],
  registrations: readonly { clientId: string; functions: readonly string[] }[],
  signal: AbortSignal,
  timeoutMs: number,
  tls: NonNullable<ReturnType<typeof resolveTls>> | false,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const missing = new Set(servers);
  while (missing.size > 0 && Date.now() < deadline && !signal.aborted) {
    await Promise.all(
      [...missing].map(async (server) => {
        const admin = new AdminClient({ server, timeoutMs: 2000, connectTimeoutMs: 2000, tls });
        try {
          const workers = await admin.workers();
          const ok = registrations.every((r) => workers.some((w) => w.clientId === r.clientId && r.functions.every((f) => w.functions.includes(f))));
          if (ok) missing.delete(server);
        } catch {
          // not reachable yet
        } finally {
          await admin.close();
        }
      }),
    );
    if (missing.size > 0) await new Promise((r) => setTimeout(r, 50));
  }
  return [...missing];
}

/** A secret kept in a file (so `ps` does not show it): its first line. */
function readSecretFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`--ingest-secret-file ${file}: ${(err as Error).message}`, { field: 'ingest-secret-file' });
  }
  const secret = text.split('\n')[0]!.trim();
  if (secret.length === 0) throw new InvalidArgumentError(`--ingest-secret-file ${file} is empty`, { field: 'ingest-secret-file' });
  return secret;
}

/**
 * Says once when a job server is lost and again when the worker is back on it, and when a server
 * the node waited for at start-up comes up. Ends when the worker closes.
 */
async function reportConnections(worker: Worker, waiting: Set<string>, say: (line: string) => void): Promise<void> {
  const lost = new Set<string>();
  for await (const ev of worker.status()) {
    if (ev.type === 'disconnected' && !lost.has(ev.server)) {
      lost.add(ev.server);
      say(`lost job server ${ev.server} (${ev.error.message}); reconnecting`);
    } else if (ev.type === 'connected') {
      if (lost.delete(ev.server)) say(`reconnected to job server ${ev.server}`);
      else if (waiting.delete(ev.server)) say(`job server ${ev.server} is up`);
    }
  }
}

/**
 * The default format and the log sources, each glob checked to match a file: a directory, a glob
 * that matches nothing or an unknown format name is refused (InvalidArgumentError) rather than
 * served as a node with no shards.
 */
async function logConfig(formatSpec: string, specs: readonly string[]): Promise<{ format: LogFormat; sources: LogSource[] }> {
  let format: LogFormat;
  try {
    format = compileLogFormat(formatSpec);
  } catch (err) {
    throw new InvalidArgumentError(`--format ${JSON.stringify(formatSpec)}: ${(err as Error).message}`, { field: 'format' });
  }
  const sources = specs.map((spec) => parseLogSource(spec, format));
  for (const [i, source] of sources.entries()) {
    const reason = await unmatchedReason(source.pattern);
    if (reason) throw new InvalidArgumentError(`--logs ${specs[i]}: ${reason}`, { field: 'logs' });
  }
  return { format, sources };
}

/** Test-only: `GEARTRAIN_TEST_HOLD_AFTER_STORE=FILE` appends each stored job's handle to FILE and never completes the job. */
function holdAfterStore(env: NodeJS.ProcessEnv): ((job: WorkerJob) => Promise<void>) | undefined {
  const file = env.GEARTRAIN_TEST_HOLD_AFTER_STORE;
  if (!file) return undefined;
  return async (job) => {
    fs.appendFileSync(file, `${job.handle}\n`);
    await new Promise<void>(() => {});
  };
}

/** `--leave`: the departure notice on every job server, and this machine's memory updated. */
async function leave(name: string, servers: string[], values: Parameters<typeof resolveTls>[0], io: CliIO): Promise<number> {
  const tls = resolveTls(values, io.env);
  const secret = io.env.GEARTRAIN_SECRET || undefined;
  const { told, failed } = await announceDeparture(name, Date.now(), {
    servers,
    store: FileMemberStore.for(servers, io.env),
    signal: io.signal,
    ...(tls ? { tls } : {}),
    ...(secret ? { secret } : {}),
  });
  if (told.length > 0) io.stdout.write(`node ${name} left the cluster: coordinators stop expecting it from their next run (told ${told.join(', ')})\n`);
  for (const f of failed) io.stderr.write(`geartrain node: could not leave the notice on ${f.server} (${f.error}); coordinators using it still expect ${name}\n`);
  return failed.length > 0 ? EXIT.FAILURE : EXIT.OK;
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags('geartrain node', {
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ...SERVER_OPTIONS,
      name: { type: 'string' },
      logs: { type: 'string', multiple: true },
      format: { type: 'string' },
      data: { type: 'string' },
      replicas: { type: 'string' },
      peers: { type: 'string' },
      concurrency: { type: 'string' },
      'ingest-concurrency': { type: 'string' },
      'segment-bytes': { type: 'string' },
      'poll-ms': { type: 'string' },
      'allow-code': { type: 'boolean' },
      'allow-exec': { type: 'boolean' },
      'ingest-secret-file': { type: 'string' },
      'follow-symlinks': { type: 'boolean' },
      verbose: { type: 'string' },
      leave: { type: 'boolean' },
      ...TLS_OPTIONS,
      help: { type: 'boolean', short: 'H' },
    },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.OK;
  }
  const verbose = logLevelFlag(values.verbose);
  const logger = lineLogger((l) => io.stderr.write(l), verbose);
  const servers = resolveServers(values, io.env);
  const name = values.name ?? os.hostname().split('.')[0]!;
  if (values.leave) return leave(name, servers, values, io);
  // A mistake in the configuration is a usage error (InvalidArgumentError: exit 2), found before
  // any server is contacted.
  const { format, sources } = await logConfig(values.format ?? 'combined', values.logs ?? []);
  const dataDir = path.resolve(values.data ?? path.join('geartrain-data', `node-${name}`));
  const replicas = intFlag(values.replicas, 'replicas', 1, 1);
  const peers = values.peers?.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  const concurrency = intFlag(values.concurrency, 'concurrency', os.availableParallelism(), 1);
  const reconnect = { reconnectDelayMs: 100, maxReconnectDelayMs: 2000 } as const;
  const tls = resolveTls(values, io.env) ?? false;
  const secret = io.env.GEARTRAIN_SECRET || undefined;
  const ingestSecret = values['ingest-secret-file'] !== undefined ? readSecretFile(values['ingest-secret-file']) : io.env.GEARTRAIN_INGEST_SECRET || undefined;
  const allowCode = values['allow-code'] === true;
  const allowExec = values['allow-exec'] === true;
  try {
    checkNodePermissions({ allowCode, allowExec, secret });
  } catch (err) {
    io.stderr.write(`geartrain node: ${(err as Error).message}\n`);
    return EXIT.USAGE;
  }

  const say = (line: string) => io.stderr.write(`geartrain node: ${line}\n`);
  let wait: Awaited<ReturnType<typeof waitForJobServers>>;
  try {
    wait = await waitForJobServers(servers, {
      tls,
      signal: io.signal,
      onWaiting: (server, err) => say(`waiting for job server ${server} (${err.message}); retrying`),
      onUp: (server) => say(`job server ${server} is up`),
    });
  } catch (err) {
    if (io.signal.aborted) return EXIT.OK;
    throw err;
  }
  const stale = await ensureNameIsFree(name, wait.listings, {
    tls,
    seal: sealerFor(secret),
    onStale: (server, peers) => say(`a node named ${name} is listed on ${server} from ${peers.join(', ')} but does not answer; taking the name over`),
  });

  const node = await startLogNode({
    servers,
    name,
    sources,
    dataDir,
    format,
    concurrency,
    replicas,
    ...(peers ? { peers } : {}),
    allowCode,
    allowExec,
    ...(secret ? { secret } : {}),
    ...(ingestSecret ? { ingestSecret } : {}),
    ...(values['follow-symlinks'] ? { followSymlinks: true } : {}),
    connection: { ...reconnect, tls },
    logService: {
      concurrency: intFlag(values['ingest-concurrency'], 'ingest-concurrency', DEFAULT_INGEST_CONCURRENCY, 1),
      maxSegmentBytes: intFlag(values['segment-bytes'], 'segment-bytes', DEFAULT_MAX_SEGMENT_BYTES, 1),
      pollMs: intFlag(values['poll-ms'], 'poll-ms', DEFAULT_POLL_MS, 0),
      ...(holdAfterStore(io.env) ? { afterStore: holdAfterStore(io.env)! } : {}),
    },
    logger,
  });
  const registrations = node.registrations;
  const reporting = reportConnections(node.logs.serviceWorker, new Set(wait.waiting), say);

  const stopped = new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const unreached = await waitForRegistration(servers, registrations, io.signal, 15_000, tls);
  if (unreached.length > 0 && !io.signal.aborted) {
    io.stderr.write(`geartrain node: not registered on ${unreached.join(', ')} yet (it keeps trying)\n`);
  }
  try {
    await checkNoTwin(name, servers, registrations.map((r) => r.clientId), stale, { tls, signal: io.signal });
  } catch (err) {
    await node.close();
    throw err;
  }
  if (!io.signal.aborted) {
    const catalog = await node.logs.catalog.snapshot({ scanBudgetBytes: 0 });
    io.stdout.write(`node ${name} ready (${catalog.shards.length} shards)\n`);
  }

  await stopped;
  logger.info(`node ${name}: stopping; running jobs finish first`);
  await node.close();
  await reporting;
  return EXIT.OK;
}
