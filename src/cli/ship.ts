/**
 * `geartrain ship -f logger`: sends the lines of stdin to a log node as background jobs, in
 * batches with a unique key each. Made for Apache's piped logs
 * (`CustomLog "|/usr/bin/geartrain ship -f logger" combined`) and `tail -f`: it reads stdin
 * continuously, so the writer never waits; while no job server answers, lines go to the spool
 * directory and are sent from there, in order, later. At end of input it sends what is left (or
 * leaves it in the spool, and says so) and exits 0.
 */
import os from 'node:os';
import path from 'node:path';
import { Client } from '../client/client.ts';
import { InvalidArgumentError } from '../errors.ts';
import { lineLogger } from '../logger.ts';
import { DEFAULT_BATCH_LINES, DEFAULT_BATCH_MS, Shipper } from '../logs/ship.ts';
import { ingestSealer } from '../mapreduce/task-auth.ts';
import { intFlag, logLevelFlag } from './flags.ts';
import { parseFlags } from './conventions.ts';
import type { CliIO } from './io.ts';
import { resolveServers, resolveTls, SERVER_FLAGS_HELP, TLS_OPTIONS, SERVER_OPTIONS } from './servers.ts';

export const summary = 'send log lines from stdin to log nodes (for piped logs and tail -f)';

/** At most this long to send what is left after SIGTERM/SIGINT, before it goes to the spool. */
const SIGNAL_FLUSH_MS = 1000;

function defaultSpool(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return path.join(os.tmpdir(), `geartrain-ship-${uid}`);
}

const HELP = `usage: geartrain ship -f FUNCTION [flags] < lines

${SERVER_FLAGS_HELP}
  -f FUNC              function to submit to (logger, or logger@NODE for one node)
  --spool DIR          where lines wait while no server answers (default ${defaultSpool()});
                       a later ship with the same DIR sends what an earlier one left
  --batch-lines N      lines per job at most (default ${DEFAULT_BATCH_LINES})
  --batch-ms MS        send a batch this long after its first line at the latest (default ${DEFAULT_BATCH_MS})
  --flush-timeout MS   at end of input, wait this long for a server before leaving lines in the spool
                       (default 10000; after SIGTERM/SIGINT at most 1000)
  --verbose LEVEL      FATAL, ERROR, WARNING, NOTICE, INFO, DEBUG (default WARNING), to stderr
  -H, --help           this help

Apache: CustomLog "|/usr/bin/geartrain ship -f logger --spool /var/spool/geartrain" combined
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags('geartrain ship', {
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ...SERVER_OPTIONS,
      function: { type: 'string', short: 'f' },
      spool: { type: 'string' },
      'batch-lines': { type: 'string' },
      'batch-ms': { type: 'string' },
      'flush-timeout': { type: 'string' },
      verbose: { type: 'string' },
      ...TLS_OPTIONS,
      help: { type: 'boolean', short: 'H' },
    },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (!values.function) throw new InvalidArgumentError('no function given (-f logger)', { field: 'function' });
  const verbose = logLevelFlag(values.verbose);
  const logger = lineLogger((l) => io.stderr.write(l), verbose);
  const servers = resolveServers(values, io.env);
  const client = new Client({
    servers,
    tls: resolveTls(values, io.env) ?? false,
    connectAttempts: 1,
    connectTimeoutMs: 2000,
    reconnectDelayMs: 100,
    maxReconnectDelayMs: 1000,
    clientId: `geartrain-ship-${process.pid}`,
  });
  const shipper = new Shipper({
    client,
    function: values.function,
    spoolDir: values.spool ?? defaultSpool(),
    batchLines: intFlag(values['batch-lines'], 'batch-lines', DEFAULT_BATCH_LINES, 1),
    batchMs: intFlag(values['batch-ms'], 'batch-ms', DEFAULT_BATCH_MS, 1),
    seal: ingestSealer(io.env.GEARTRAIN_INGEST_SECRET || undefined),
    logger,
  });
  // SIGTERM/SIGINT end the input like EOF does: what was read is still sent or spooled.
  const stdin = io.stdin;
  const onAbort = () => (stdin as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  io.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of stdin) shipper.write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  } catch (err) {
    if (!io.signal.aborted) logger.error(`reading stdin: ${(err as Error).message}`);
  } finally {
    io.signal.removeEventListener('abort', onAbort);
  }
  const flushTimeoutMs = intFlag(values['flush-timeout'], 'flush-timeout', 10_000, 0);
  // Stopped by a signal (Apache stopping): the sender may be killed soon; spool early rather than late.
  const result = await shipper.end({ flushTimeoutMs: io.signal.aborted ? Math.min(flushTimeoutMs, SIGNAL_FLUSH_MS) : flushTimeoutMs });
  client.destroy();
  if (result.spooledLines > 0) {
    io.stderr.write(
      `geartrain ship: no job server took ${result.spooledLines} lines (${result.spooledBatches} batches); ` +
        `they wait in ${result.spoolDir} for the next 'geartrain ship --spool ${result.spoolDir}'` +
        (shipper.lastError ? ` (last error: ${shipper.lastError})` : '') +
        '\n',
    );
  }
  return 0;
}
