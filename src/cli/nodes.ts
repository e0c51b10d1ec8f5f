/**
 * `geartrain nodes`: the nodes of the cluster behind a set of job servers, as this machine's runs
 * will expect them: live, silent (listed but not answering), missing (remembered or listed, no
 * live worker), with their shards' time ranges. `geartrain nodes forget NAME…`: the node left for
 * good; no run expects it any more, here at once and on other coordinator machines from their next
 * run (src/mapreduce/cluster-members.ts).
 */
import { announceDeparture, surveyMembers, type MemberRow } from '../mapreduce/cluster-members.ts';
import { formatTime } from '../mapreduce/expected-nodes.ts';
import { FileMemberStore } from '../mapreduce/member-store.ts';
import { formatBytes } from '../report/format.ts';
import { textTable } from '../report/table.ts';
import { InvalidArgumentError } from '../errors.ts';
import { EXIT, parseFlags } from './conventions.ts';
import type { CliIO } from './io.ts';
import { namedNodes, NODE_NAMES_HELP } from './node-names.ts';
import { resolveServers, resolveTls, SERVER_FLAGS_HELP, SERVER_OPTIONS, TLS_OPTIONS } from './servers.ts';

export const summary = 'the nodes a run expects: live, silent, missing; forget one that left';

const HELP = `usage: geartrain nodes [--json] [--check] [flags]
       geartrain nodes forget NAME… [flags]

Lists the nodes of the cluster behind the job servers, as runs from this machine expect them:
  live      registered and answering (its shards now; remembered from here on)
  silent    registered, but no answer within 2.5 s (its host down or cut off)
  missing   expected, with no live worker on the job servers: remembered on this machine, or
            listed by a server, or named with --nodes
with each node's shards, their time range, and when this machine last saw it. The memory is
$XDG_STATE_HOME/geartrain/members-SERVERS.json (~/.local/state/geartrain without XDG_STATE_HOME).

forget NAME…  the node left for good: runs from this machine stop expecting it at once, runs from
              other machines when they next read the job servers (a notice geartrain.left@NAME@T
              is left there; it lasts until the server restarts). Refused while NAME is live.
              On the node's host, geartrain node --leave --name NAME does the same.

${SERVER_FLAGS_HELP}
${NODE_NAMES_HELP}
  --json                 one JSON object per node: node, state, expected, lastSeen, shards
  --check                exit 3 when an expected node is missing or silent
  -H, --help             this help

GEARTRAIN_SECRET: the cluster secret, when the nodes have one (they answer only signed requests).
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('geartrain nodes', {
    args: argv,
    allowPositionals: true,
    options: {
      ...SERVER_OPTIONS,
      ...TLS_OPTIONS,
      nodes: { type: 'string' },
      'nodes-file': { type: 'string' },
      json: { type: 'boolean' },
      check: { type: 'boolean' },
      help: { type: 'boolean', short: 'H' },
    },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.OK;
  }
  const servers = resolveServers(values, io.env);
  const tls = resolveTls(values, io.env);
  const store = FileMemberStore.for(servers, io.env);
  const secret = io.env.GEARTRAIN_SECRET || undefined;
  const common = { servers, store, signal: io.signal, ...(tls ? { tls } : {}), ...(secret ? { secret } : {}) };

  const [verb, ...names] = positionals;
  if (verb === 'forget') {
    if (names.length === 0) throw new InvalidArgumentError('geartrain nodes forget: give the NAME of the node that left', { field: 'arguments' });
    let status: number = EXIT.OK;
    for (const name of names) {
      const { told, failed } = await announceDeparture(name, Date.now(), common);
      io.stdout.write(`forgot ${name}: runs from this machine no longer expect it${told.length > 0 ? `; told ${told.join(', ')} for the other coordinators` : ''}\n`);
      for (const f of failed) {
        io.stderr.write(`geartrain nodes: could not leave the notice on ${f.server} (${f.error}); coordinators on other machines still expect ${name}\n`);
        status = EXIT.FAILURE;
      }
    }
    return status;
  }
  if (verb !== undefined) throw new InvalidArgumentError(`unexpected argument '${verb}' (try: geartrain nodes -H)`, { field: 'arguments' });

  const named = namedNodes(values, io.env);
  const rows = await surveyMembers({ ...common, ...(named ? { named } : {}) });
  if (values.json) {
    for (const r of rows) io.stdout.write(JSON.stringify(rowJson(r)) + '\n');
  } else if (rows.length === 0) {
    io.stdout.write(`no nodes: none is registered on ${servers.join(', ')}, and none is remembered here\n`);
  } else {
    io.stdout.write(
      textTable({
        columns: ['node', 'state', 'expected', 'shards', 'bytes', 'first time', 'last time', 'last seen'],
        rows: rows.map((r) => {
          const span = timeSpan(r);
          return [
            r.node,
            r.state,
            r.expected ?? 'no',
            r.shards === null ? 'unknown' : r.shards.length,
            r.shards === null ? '' : formatBytes(r.shards.reduce((n, s) => n + s.size, 0)),
            span ? formatTime(span.first) : '',
            span ? formatTime(span.last) : '',
            r.lastSeen !== null ? formatTime(r.lastSeen) : 'never',
          ];
        }),
      }),
    );
  }
  const absent = rows.filter((r) => r.state !== 'live' && r.expected !== null);
  return values.check && absent.length > 0 ? EXIT.INCOMPLETE : EXIT.OK;
}

function timeSpan(r: MemberRow): { first: number; last: number } | null {
  const firsts = (r.shards ?? []).map((s) => s.firstTime).filter((x): x is number => x !== null);
  const lasts = (r.shards ?? []).map((s) => s.lastTime).filter((x): x is number => x !== null);
  return firsts.length > 0 && lasts.length > 0 ? { first: Math.min(...firsts), last: Math.max(...lasts) } : null;
}

function rowJson(r: MemberRow): object {
  return {
    node: r.node,
    state: r.state,
    expected: r.expected,
    lastSeen: r.lastSeen !== null ? formatTime(r.lastSeen) : null,
    shards: r.shards?.map((s) => ({ path: s.path, size: s.size, firstTime: s.firstTime !== null ? formatTime(s.firstTime) : null, lastTime: s.lastTime !== null ? formatTime(s.lastTime) : null })) ?? null,
  };
}
