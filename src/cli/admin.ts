/**
 * `geartrain admin`: gearmand's `gearadmin`, same flags and output (bin/gearadmin.cc,
 * util/operation.cc): a listing is printed as the server sent it (with its `.` line), `OK` prints
 * `OK`, `OK value` prints `value`, `ERR text` prints `Error: text` on stderr. Unlike gearadmin,
 * an ERR reply or an unreachable server makes the exit status 1. `--json` prints one JSON object
 * per server (JSON Lines) with typed results. With several servers, text output puts a
 * `# host:port` line before each server's replies.
 */
import { AdminClient } from '../client/admin-client.ts';
import { AdminError } from '../errors.ts';
import {
  parsePriorityStatus,
  parseShowJobs,
  parseShowUniqueJobs,
  parseStatus,
  parseWorkers,
} from '../protocol/admin.ts';
import { parseFlags } from './conventions.ts';
import { formatCliError, type CliIO } from './io.ts';
import { resolveServers, resolveTls, SERVER_FLAGS_HELP, TLS_OPTIONS, SERVER_OPTIONS } from './servers.ts';

export const summary = 'query or manage a job server, like the gearadmin tool';

const HELP = `usage: geartrain admin [options] COMMAND-FLAGS…

${SERVER_FLAGS_HELP}
  --status                  functions: queued+running, running, workers
  --priority-status         queued jobs per priority
  --workers                 connections and their functions
  --show-jobs               jobs: handle, retries, ignore, persisted
  --show-unique-jobs        unique keys of the jobs
  --server-version          server version
  --server-verbose          server log level
  --getpid                  server process id
  --cancel-job HANDLE       remove a queued job
  --create-function FUNC    create a function
  --drop-function FUNC      remove a function no worker serves and no job of it runs: its
                            queued jobs fail (waiting clients get WORK_FAIL, background jobs
                            leave the queue); refused while a worker or a running job has it
  --shutdown                stop the server (geartrain server; gearmand 1.1.15+ refuses)
  --admin-token T           send 'auth T' first (else GEARTRAIN_ADMIN_TOKEN): geartrain server
                            accepts state-changing commands from other hosts only after it
  --json                    typed results as JSON, one object per server
  -H, --help                this help
`;

const OPTIONS = {
  ...SERVER_OPTIONS,
  ...TLS_OPTIONS,
  'admin-token': { type: 'string' },
  status: { type: 'boolean' },
  'priority-status': { type: 'boolean' },
  workers: { type: 'boolean' },
  'server-version': { type: 'boolean' },
  'server-verbose': { type: 'boolean' },
  'cancel-job': { type: 'string' },
  'show-unique-jobs': { type: 'boolean' },
  'show-jobs': { type: 'boolean' },
  'drop-function': { type: 'string' },
  'create-function': { type: 'string' },
  getpid: { type: 'boolean' },
  shutdown: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'H' },
} as const;

interface Operation {
  /** Key in JSON output. */
  readonly key: string;
  readonly line: string;
  readonly parse: (reply: string) => unknown;
}

const okValue = (reply: string) => {
  const line = reply.replace(/\r?\n$/, '');
  return line === 'OK' ? true : line.startsWith('OK ') ? line.slice(3) : line;
};

export async function run(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags('geartrain admin', { args: argv, options: OPTIONS }).values;
  if (flags.help) {
    io.stdout.write(HELP);
    return 0;
  }
  // gearadmin queues its commands in this order (bin/gearadmin.cc) and runs the queue from the
  // back, so its output comes in the reverse order; geartrain prints the same. Shutdown is last.
  const ops: Operation[] = [];
  if (flags.status) ops.push({ key: 'status', line: 'status', parse: parseStatus });
  if (flags['priority-status']) ops.push({ key: 'priorityStatus', line: 'prioritystatus', parse: parsePriorityStatus });
  if (flags.workers) ops.push({ key: 'workers', line: 'workers', parse: parseWorkers });
  if (flags['server-version']) ops.push({ key: 'version', line: 'version', parse: okValue });
  if (flags['server-verbose']) ops.push({ key: 'verbose', line: 'verbose', parse: okValue });
  if (flags['cancel-job'] !== undefined) ops.push({ key: 'cancelJob', line: `cancel job ${flags['cancel-job']}`, parse: okValue });
  if (flags['show-unique-jobs']) ops.push({ key: 'showUniqueJobs', line: 'show unique jobs', parse: parseShowUniqueJobs });
  if (flags['show-jobs']) ops.push({ key: 'showJobs', line: 'show jobs', parse: parseShowJobs });
  if (flags['drop-function'] !== undefined) ops.push({ key: 'dropFunction', line: `drop function ${flags['drop-function']}`, parse: okValue });
  if (flags['create-function'] !== undefined) ops.push({ key: 'createFunction', line: `create function ${flags['create-function']}`, parse: okValue });
  if (flags.getpid) ops.push({ key: 'getpid', line: 'getpid', parse: (r) => Number(okValue(r)) });
  ops.reverse();
  if (flags.shutdown) ops.push({ key: 'shutdown', line: 'shutdown', parse: okValue });
  if (ops.length === 0) {
    io.stderr.write('geartrain admin: no command given (e.g. --status; see geartrain admin -H)\n');
    return 2;
  }
  for (const f of ['cancel-job', 'drop-function', 'create-function'] as const) {
    const v = flags[f];
    if (v !== undefined && !/^\S+$/.test(v)) {
      io.stderr.write(`geartrain admin: --${f} takes one word, got ${JSON.stringify(v)}\n`);
      return 2;
    }
  }
  const servers = resolveServers(flags, io.env);
  const tls = resolveTls(flags, io.env) ?? false;
  const adminToken = flags['admin-token'] ?? (io.env.GEARTRAIN_ADMIN_TOKEN || undefined);
  let status = 0;
  for (const server of servers) {
    const admin = new AdminClient({ server, tls, ...(adminToken !== undefined ? { adminToken } : {}) });
    const json: Record<string, unknown> = { server };
    if (servers.length > 1 && !flags.json) io.stdout.write(`# ${server}\n`);
    try {
      for (const op of ops) {
        try {
          const reply = await admin.command(op.line, { signal: io.signal });
          if (flags.json) json[op.key] = op.parse(reply);
          else io.stdout.write(textOf(reply));
        } catch (err) {
          if (!(err instanceof AdminError)) throw err;
          status = 1;
          if (flags.json) (json.errors ??= {} as Record<string, string>)[op.key as never] = err.reply as never;
          else io.stderr.write(`Error: ${err.reply}\n`);
        }
      }
    } catch (err) {
      status = 1;
      if (flags.json) json.error = formatCliError('', err).replace(/^: /, '');
      else io.stderr.write(formatCliError('geartrain admin', err) + '\n');
    } finally {
      admin.destroy();
    }
    if (flags.json) io.stdout.write(JSON.stringify(json) + '\n');
  }
  return status;
}

/** gearadmin's printing: listings as sent, `OK` as `OK`, `OK x` as `x`. */
function textOf(reply: string): string {
  if (/^OK\r?\n$/.test(reply)) return 'OK\n';
  if (reply.startsWith('OK ')) return reply.slice(3).replace(/\r\n$/, '\n');
  return reply.replace(/\r\n/g, '\n');
}
