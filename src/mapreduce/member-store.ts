/**
 * What a coordinator machine remembers of a cluster between runs: every node it has seen, with its
 * shards' paths, sizes and time spans, until a user says the node has left. One JSON file per set
 * of job servers, under `$XDG_STATE_HOME/geartrain/` (`~/.local/state/geartrain/` without it):
 * the next run from this machine against the same servers knows whom to expect, and what a
 * missing node held. Why it lives here, and how departures reach other machines: docs/DESIGN.md,
 * "Membership".
 *
 * The file is read, changed and replaced whole (written beside it, then renamed), so a reader
 * never sees half a file; two coordinators writing at the same moment may lose one's update,
 * which the next run puts back.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { StoreError } from '../errors.ts';
import type { NodeCatalog } from '../logs/catalog.ts';

const epochMs = z.number().finite();

const rememberedShardSchema = z.strictObject({
  id: z.string().min(1),
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  firstTime: epochMs.nullable(),
  lastTime: epochMs.nullable(),
  timeToleranceMs: z.number().int().nonnegative(),
});
export type RememberedShard = z.infer<typeof rememberedShardSchema>;

const memberRecordSchema = z.strictObject({
  firstSeen: epochMs,
  /** When this machine last saw the node live (its catalogue). */
  lastSeen: epochMs,
  shards: z.array(rememberedShardSchema),
});
export type MemberRecord = z.infer<typeof memberRecordSchema>;

const memberStateSchema = z.strictObject({
  version: z.literal(1),
  servers: z.array(z.string()),
  nodes: z.record(z.string(), memberRecordSchema),
  /** Nodes that left (forgotten here, or announced by `geartrain node --leave`), and when. */
  departed: z.record(z.string(), epochMs),
});
export type MemberState = z.infer<typeof memberStateSchema>;

export function emptyState(servers: readonly string[]): MemberState {
  return { version: 1, servers: [...servers], nodes: {}, departed: {} };
}

/** Remembers each node of `catalogs` as seen at `at`, with its shards now. */
export function rememberCatalogs(state: MemberState, catalogs: readonly NodeCatalog[], at: number): void {
  for (const cat of catalogs) {
    const before = state.nodes[cat.node];
    state.nodes[cat.node] = {
      firstSeen: before?.firstSeen ?? at,
      lastSeen: at,
      shards: cat.shards.map((s) => ({ id: s.id, path: s.path, size: s.size, firstTime: s.firstTime, lastTime: s.lastTime, timeToleranceMs: s.timeToleranceMs })),
    };
    // Seen live after it left: it is back.
    const left = state.departed[cat.node];
    if (left !== undefined && left < at) delete state.departed[cat.node];
  }
}

/**
 * Records that `node` left at `at`: it is no longer expected, unless it is seen live after that.
 * Returns whether it was remembered.
 */
export function recordDeparture(state: MemberState, node: string, at: number): boolean {
  const record = state.nodes[node];
  state.departed[node] = Math.max(state.departed[node] ?? 0, at);
  if (!record || record.lastSeen >= at) return false;
  delete state.nodes[node];
  return true;
}

export interface MemberStore {
  /** Where the memory is, for messages. */
  readonly where: string;
  read(): Promise<MemberState>;
  /** Applies `change` to the state as stored now and stores the result. */
  update(change: (state: MemberState) => void): Promise<MemberState>;
}

/** A store that lasts as long as the object (a library caller's, or a test's). */
export class MemoryMemberStore implements MemberStore {
  readonly where = 'memory';
  #state: MemberState;

  constructor(servers: readonly string[] = []) {
    this.#state = emptyState(servers);
  }

  async read(): Promise<MemberState> {
    return structuredClone(this.#state);
  }

  async update(change: (state: MemberState) => void): Promise<MemberState> {
    const next = structuredClone(this.#state);
    change(next);
    this.#state = next;
    return structuredClone(next);
  }
}

export class FileMemberStore implements MemberStore {
  readonly where: string;
  readonly #servers: readonly string[];

  constructor(file: string, servers: readonly string[]) {
    this.where = file;
    this.#servers = servers;
  }

  /** The store for `servers` under the state directory of `env` (memberStateFile). */
  static for(servers: readonly string[], env: NodeJS.ProcessEnv): FileMemberStore {
    return new FileMemberStore(memberStateFile(servers, env), servers);
  }

  async read(): Promise<MemberState> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.where, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState(this.#servers);
      throw new StoreError(`cannot read the cluster's membership file ${this.where}: ${(err as Error).message}`, { cause: err });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new StoreError(`the membership file ${this.where} is not JSON (${(err as Error).message}); fix it, or remove it to start remembering anew`, { cause: err });
    }
    const parsed = memberStateSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new StoreError(`the membership file ${this.where} is not valid ('${issue.path.join('.')}': ${issue.message}); fix it, or remove it to start remembering anew`);
    }
    return parsed.data;
  }

  async update(change: (state: MemberState) => void): Promise<MemberState> {
    const state = await this.read();
    change(state);
    state.servers = [...this.#servers];
    const tmp = `${this.where}.${process.pid}.tmp`;
    try {
      await fs.promises.mkdir(path.dirname(this.where), { recursive: true, mode: 0o700 });
      await fs.promises.writeFile(tmp, JSON.stringify(state, null, 1) + '\n', { mode: 0o600 });
      await fs.promises.rename(tmp, this.where);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true }).catch(() => {});
      throw new StoreError(`cannot write the cluster's membership file ${this.where}: ${(err as Error).message}`, { cause: err });
    }
    return state;
  }
}

/** `$XDG_STATE_HOME/geartrain`, else `~/.local/state/geartrain`. */
export function stateDirectory(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(base, 'geartrain');
}

/**
 * The membership file of a set of job servers (`host:port` each): named after them, in any order,
 * so `--servers a,b` and `--servers b,a` share it; long lists are shortened with a hash.
 */
export function memberStateFile(servers: readonly string[], env: NodeJS.ProcessEnv): string {
  const key = [...new Set(servers)].sort().join(',');
  let name = key.replace(/[^A-Za-z0-9.-]+/g, '_');
  if (name.length > 80) name = `${name.slice(0, 60)}-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  return path.join(stateDirectory(env), `members-${name}.json`);
}
