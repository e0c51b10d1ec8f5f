/**
 * The attacker's side of the log-node tests: a job server and `geartrain node` processes as an
 * operator would start them, and jobs sent the way an outsider sends them — a raw Gearman client
 * (which asks for exceptions, so the node's reason comes back) or the `gearman` CLI — never through
 * geartrain's coordinator. Reference answers come from awk.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { writeLog } from '../../../src/logs/index.ts';
import { PacketType as T } from '../../../src/protocol/packet-types.ts';
import { runProcess } from '../../client/helpers/cli.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir, type RunningNode, type ServerProc } from '../../helpers/cluster.ts';

export interface NodeCluster {
  readonly dir: string;
  readonly server: ServerProc;
  readonly node: RunningNode;
  /** The node's log file and data directory. */
  readonly log: string;
  readonly data: string;
}

/** A server and one node `name` serving one generated log file. */
export async function nodeCluster(
  t: ExecutionContext,
  o: { name?: string; extra?: string[]; env?: Record<string, string>; lines?: number; logs?: (dir: string) => Promise<string[]> } = {},
): Promise<NodeCluster> {
  const dir = tempDir(t, 'geartrain-sec-');
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const log = path.join(dir, 'logs', 'access.log');
  fs.mkdirSync(path.dirname(log), { recursive: true });
  await writeLog(log, { lines: o.lines ?? 2000, seed: 5, invalidRate: 0, oddRate: 0 });
  const data = path.join(dir, 'data');
  const logs = o.logs ? await o.logs(dir) : [log];
  const node = await startNode(t, {
    name: o.name ?? 'n1',
    servers: server.address,
    data,
    logs,
    extra: ['--concurrency', '1', '--poll-ms', '0', ...(o.extra ?? [])],
    ...(o.env ? { env: o.env } : {}),
  });
  return { dir, server, node, log, data };
}

export interface Outcome {
  readonly outcome: 'complete' | 'fail' | 'exception';
  /** The result, or the exception's text. */
  readonly text: string;
}

/** Submits one job with a raw Gearman client that asked for exceptions, and waits for its end. */
export async function submitRaw(port: number, fn: string, payload: Buffer | string, timeoutMs = 20_000): Promise<Outcome> {
  const c = await RawClient.connect(port);
  try {
    c.send(T.OPTION_REQ, 'exceptions');
    await c.next(T.OPTION_RES);
    c.send(T.SUBMIT_JOB, fn, '', typeof payload === 'string' ? Buffer.from(payload) : payload);
    await c.next(T.JOB_CREATED);
    let data = '';
    for (;;) {
      const p = await c.next(undefined, timeoutMs);
      if (p.type === T.WORK_DATA) data += p.args[1]!.toString('utf8');
      else if (p.type === T.WORK_COMPLETE) return { outcome: 'complete', text: data + p.args[1]!.toString('utf8') };
      else if (p.type === T.WORK_FAIL) return { outcome: 'fail', text: '' };
      else if (p.type === T.WORK_EXCEPTION) return { outcome: 'exception', text: p.args[1]!.toString('utf8') };
    }
  } finally {
    await c.close();
  }
}

/** `gearman -h 127.0.0.1 -p PORT -f FN` with `input` on stdin. */
export function gearmanCli(port: number, fn: string, input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runProcess('/usr/bin/gearman', ['-h', '127.0.0.1', '-p', String(port), '-f', fn], input);
}

/** The node's shards, asked the way the issue's attacker does (catalog@node, no signature). */
export async function catalogShards(port: number, node: string): Promise<{ id: string; path: string; size: number; format: string; gzip: boolean }[]> {
  const r = await submitRaw(port, `geartrain.catalog@${node}`, '');
  if (r.outcome !== 'complete') throw new Error(`catalog@${node}: ${r.outcome} ${r.text}`);
  return (JSON.parse(r.text) as { shards: { id: string; path: string; size: number; format: string; gzip: boolean }[] }).shards;
}

/** A map task as the issue's attacker writes it by hand. */
export function mapTask(fields: Record<string, unknown>): string {
  return JSON.stringify({ v: 1, kind: 'map', runId: 'r1', taskId: 't1', job: { type: 'builtin', name: 'count' }, params: { by: 'status', limit: 0 }, filter: {}, ...fields });
}

/** `awk '{print $9}' | sort | uniq -c` as a map: the reference for `count --by status`. */
export function awkStatusCounts(files: string[]): Record<string, number> {
  const out = execFileSync('sh', ['-c', `awk '{c[$9]++} END {for (k in c) print k, c[k]}' ${files.map((f) => `'${f}'`).join(' ')}`]).toString();
  return Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ')).map(([k, v]) => [k!, Number(v)]));
}

/** `geartrain run count --by status --json …` (the honest user); its rows as a map. */
export async function honestCount(t: ExecutionContext, servers: string, args: string[] = [], env: Record<string, string> = {}): Promise<Record<string, number>> {
  const p = spawnGeartrain(t, 'run', ['count', '--by', 'status', '--json', '-q', '--servers', servers, '--wait-nodes', '1', ...args], env);
  const code = await p.exited();
  if (code !== 0) throw new Error(`geartrain run count exited ${code}: ${p.stderrText()}`);
  const rows = JSON.parse(p.stdoutText()).result.rows as [string, number][];
  return Object.fromEntries(rows.map(([k, v]) => [k, v]));
}

/** Every path under `dir` with its size (directories as -1), to show nothing changed. */
export function listing(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        out[path.relative(dir, p)] = -1;
        walk(p);
      } else out[path.relative(dir, p)] = fs.statSync(p).size;
    }
  };
  walk(dir);
  return out;
}
