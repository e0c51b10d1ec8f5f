import { parseAdminCommand } from '../protocol/index.ts';
import { GEARMAND_COMPAT_VERSION, GEARTRAIN_VERSION } from '../version.ts';
import type { Connection } from './connection.ts';
import type { ServerCore } from './core.ts';
import { mayChangeState, tokenMatches } from './limits.ts';
import { displayName, qualify, visible } from './tenants.ts';
import { cacheCommand } from './result-cache-admin.ts';
import { hooksCommand } from './hooks-admin.ts';

const OK = 'OK\r\n';

/**
 * A name, client id or unique key as a listing prints it: control characters escaped (\t, \n,
 * \r, \xHH), so a peer cannot add or split lines of `status`, `workers` or `show unique jobs`.
 */
function shown(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

function reply(conn: Connection, text: string): void {
  // One write per reply: gearadmin stops reading after a few ms of silence.
  conn.send(Buffer.from(text, 'utf8'));
}

/** Commands that change state: loopback, `auth TOKEN`, or a tenants-file certificate (limits.ts). */
const STATE_CHANGING = new Set(['cancel', 'create', 'drop', 'maxqueue', 'shutdown']);

function permissionDenied(core: ServerCore, conn: Connection, name: string): void {
  const how = core.options.adminToken !== undefined ? 'loopback+or+auth+TOKEN' : 'loopback';
  reply(conn, `ERR PERMISSION_DENIED ${name}+needs+${how}\r\n`);
}

/** The text admin protocol; formats are byte-compatible with gearmand 1.1 (`text.cc`). */
export function handleAdminLine(core: ServerCore, conn: Connection, line: string): void {
  const { name, tokens } = parseAdminCommand(line);
  if (STATE_CHANGING.has(name) && !mayChangeState(conn)) {
    permissionDenied(core, conn, name);
    return;
  }
  // A tenant's connection sees only its own functions, jobs and connections, under local names.
  switch (name) {
    case 'auth':
      auth(core, conn, tokens[1]);
      return;
    case 'status': {
      let out = '';
      for (const fn of core.functions.values()) {
        if (visible(conn, fn)) out += `${shown(displayName(conn, fn))}\t${fn.total}\t${fn.running}\t${fn.registrations}\n`;
      }
      reply(conn, out + '.\n');
      return;
    }
    case 'prioritystatus': {
      let out = '';
      for (const fn of core.functions.values()) {
        if (!visible(conn, fn)) continue;
        // Scheduled epoch jobs are NORMAL jobs that are queued but not runnable yet.
        out += `${shown(displayName(conn, fn))}\t${fn.queued[0]}\t${fn.queued[1] + fn.waiting}\t${fn.queued[2]}\t${fn.registrations}\n`;
      }
      reply(conn, out + '.\n');
      return;
    }
    case 'workers': {
      let out = '';
      for (const c of core.connections) {
        if (conn.tenant !== null && c.tenant !== conn.tenant) continue;
        out += `${c.fd} ${c.remoteAddress} ${shown(c.clientId)} :`;
        for (const a of c.abilities) out += ` ${shown(displayName(conn, a.fn))}`;
        out += '\n';
      }
      reply(conn, out + '.\n');
      return;
    }
    case 'show':
      show(core, conn, tokens);
      return;
    case 'cache':
      if ((tokens[1] ?? '').toLowerCase() === 'flush' && !mayChangeState(conn)) {
        permissionDenied(core, conn, 'cache+flush');
        return;
      }
      reply(conn, cacheCommand(core, conn, tokens));
      return;
    case 'hooks':
      reply(conn, hooksCommand(core, conn));
      return;
    case 'cancel': {
      if ((tokens[1] ?? '').toLowerCase() !== 'job' || tokens.length < 3) {
        reply(conn, 'ERR UNKNOWN_JOB\r\n');
        return;
      }
      const job = core.jobs.get(tokens[2]!);
      if (!job || job.state === 'done' || job.ignore || !visible(conn, job.fn)) {
        reply(conn, 'ERR UNKNOWN_JOB\r\n');
        return;
      }
      core.cancel(job);
      reply(conn, OK);
      return;
    }
    case 'create': {
      if ((tokens[1] ?? '').toLowerCase() !== 'function' || tokens.length < 3) {
        reply(conn, 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n');
        return;
      }
      core.fn(qualify(conn, tokens[2]!));
      reply(conn, OK);
      return;
    }
    case 'drop': {
      if ((tokens[1] ?? '').toLowerCase() !== 'function' || tokens.length < 3) {
        reply(conn, 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+drop\r\n');
        return;
      }
      const wanted = qualify(conn, tokens[2]!).toLowerCase();
      const fn = [...core.functions.values()].find((f) => f.name.toLowerCase() === wanted && visible(conn, f));
      if (!fn) {
        reply(conn, 'ERR function not found\r\n');
        return;
      }
      if (fn.workers.size > 0 || fn.running > 0) {
        reply(conn, 'ERR there are still connected workers or executing clients\r\n');
        return;
      }
      core.dropFunction(fn);
      reply(conn, OK);
      return;
    }
    case 'maxqueue': {
      if (tokens.length < 2) {
        reply(conn, 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n');
        return;
      }
      const fn = core.functions.get(qualify(conn, tokens[1]!));
      const values = tokens.slice(2, 5).map((t) => parseInt(t, 10) || 0);
      if (fn) {
        if (values.length >= 3) fn.maxQueue = [Math.max(0, values[0]!), Math.max(0, values[1]!), Math.max(0, values[2]!)];
        else {
          const v = Math.max(0, values[0] ?? 0);
          fn.maxQueue = [v, v, v];
        }
      }
      reply(conn, OK);
      return;
    }
    case 'getpid':
      reply(conn, `OK ${process.pid}\n`);
      return;
    case 'version':
      reply(conn, `OK ${GEARMAND_COMPAT_VERSION} (geartrain ${GEARTRAIN_VERSION})\n`);
      return;
    case 'verbose':
      reply(conn, `OK ${core.options.verbose}\n`);
      return;
    case 'shutdown': {
      // gearmand 1.1.15 removed this command; we keep it for privileged peers that no tenant scopes.
      if (!core.options.allowShutdown || conn.tenant !== null) {
        reply(conn, 'ERR PERMISSION_DENIED shutdown+is+not+accepted+from+this+connection\r\n');
        return;
      }
      const graceful = (tokens[1] ?? '').toLowerCase() === 'graceful';
      reply(conn, OK);
      // The OK leaves now, before the connections drop (output is otherwise written a turn later).
      conn.flush();
      setImmediate(() => core.requestShutdown(graceful));
      return;
    }
    default:
      reply(conn, `ERR UNKNOWN_COMMAND Unknown+server+command${tokens[0] ?? ''}\r\n`);
  }
}

function show(core: ServerCore, conn: Connection, tokens: readonly string[]): void {
  const what = (tokens[1] ?? '').toLowerCase();
  if (what === 'jobs') {
    let out = '';
    for (const job of core.jobs.values()) {
      if (!visible(conn, job.fn)) continue;
      // gearmand's fourth column is its job_queued flag, set for every background job.
      out += `${job.handle}\t${job.retries}\t${job.ignore ? 1 : 0}\t${job.background ? 1 : 0}\n`;
    }
    reply(conn, out + '.\n');
    return;
  }
  if (what === 'unique' && (tokens[2] ?? '').toLowerCase() === 'jobs') {
    let out = '';
    for (const job of core.jobs.values()) if (visible(conn, job.fn)) out += `${shown(job.storeKey)}\n`;
    reply(conn, out + '.\n');
    return;
  }
  reply(conn, 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n');
}

/**
 * `auth TOKEN` (geartrain): unlocks the state-changing commands for this connection when TOKEN is
 * the server's admin token. A wrong token closes the connection, so guessing costs a connection
 * per try.
 */
function auth(core: ServerCore, conn: Connection, token: string | undefined): void {
  const expected = core.options.adminToken;
  if (expected === undefined) {
    reply(conn, 'ERR PERMISSION_DENIED no+admin+token+is+configured\r\n');
    return;
  }
  if (token === undefined || !tokenMatches(token, expected)) {
    core.logger.warn(`admin peer ${conn.remoteAddress}:${conn.remotePort}: wrong admin token`);
    reply(conn, 'ERR PERMISSION_DENIED wrong+admin+token\r\n');
    conn.end();
    return;
  }
  conn.adminAuthorized = true;
  reply(conn, OK);
}
