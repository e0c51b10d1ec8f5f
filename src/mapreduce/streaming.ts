/**
 * Hadoop Streaming on geartrain: mappers, combiners and reducers are shell commands (run on nodes
 * started with --allow-exec) or, for mappers, any Gearman worker function in any language. Lines
 * go in on stdin and come out on stdout; the key is the text before the first tab (the whole line
 * without one). Reducers read their input sorted by key, equal keys adjacent. Lines on stderr of
 * the form `reporter:counter:GROUP,NAME,AMOUNT` and `reporter:status:MESSAGE` update counters and
 * status, as in Hadoop.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Client } from '../client/index.ts';
import { AbortError, InvalidArgumentError, TaskFailedError } from '../errors.ts';
import { readLogFile, readLogRange, type LogChunkReader } from '../logs/files.ts';
import { fetchChunks, sourceOn } from './fetch.ts';
import type { ReduceEnv } from './kinds/job-kind.ts';
import { SortedOutput, hashPartition } from './map-output.ts';
import type { PartialStore } from './partial-store.ts';
import { mergeRunChunks, RunFileWriter, runFileChunks } from './run-cursor.ts';
import type { MapResult, MapTask, ReduceResult, ReduceTask, Ref, ShardSpec } from './wire.ts';

export interface StreamingEnv {
  readonly node?: string;
  readonly store: PartialStore;
  readonly client: Client;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

const MAPPER_FUNCTION_CHUNK = 1024 * 1024;

class Reporter {
  readonly counters: Record<string, number> = Object.create(null);
  readonly status: string[] = [];
  stderrTail = '';

  line(line: string): void {
    const counter = /^reporter:counter:([^,]*),([^,]*),(-?\d+)\s*$/.exec(line);
    if (counter) {
      const key = `${counter[1]}.${counter[2]}`;
      this.counters[key] = (this.counters[key] ?? 0) + Number(counter[3]);
      return;
    }
    const status = /^reporter:status:(.*)$/.exec(line);
    if (status) {
      this.status.push(status[1]!);
      return;
    }
    this.stderrTail = (this.stderrTail + line + '\n').slice(-2000);
  }
}

/** Split lines out of byte chunks (lines end in \n; a last unterminated line is kept by flush). */
class LineSplitter {
  #carry: Buffer | null = null;
  push(chunk: Buffer, onLine: (line: Buffer) => void): void {
    let buf = this.#carry ? Buffer.concat([this.#carry, chunk]) : chunk;
    this.#carry = null;
    let p = 0;
    let nl: number;
    while ((nl = buf.indexOf(10, p)) >= 0) {
      onLine(buf.subarray(p, nl));
      p = nl + 1;
    }
    if (p < buf.length) this.#carry = Buffer.from(buf.subarray(p));
  }
  flush(onLine: (line: Buffer) => void): void {
    if (this.#carry && this.#carry.length > 0) onLine(this.#carry);
    this.#carry = null;
  }
}

/** Writes to a command's stdin; resolves when it can take more. */
type Feed = (write: (chunk: Buffer) => Promise<void>) => Promise<void>;

/** Feed an async iterable of chunks. */
function feedFrom(chunks: AsyncIterable<Buffer>): Feed {
  return async (write) => {
    for await (const c of chunks) await write(c);
  };
}

/** Run `sh -c command`, feeding its stdin, calling `onLine` per stdout line. */
async function runCommand(
  command: string,
  feed: Feed,
  onLine: (line: Buffer) => void,
  reporter: Reporter,
  env: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<void> {
  // Its own process group, so a cancel kills the command's children too (`sh -c 'a | b'`): killing
  // only the shell would leave them holding the pipes open, and the task would never end.
  const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env }, detached: true });
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  };
  signal?.addEventListener('abort', kill, { once: true });
  const out = new LineSplitter();
  child.stdout.on('data', (d: Buffer) => out.push(d, onLine));
  const err = new LineSplitter();
  child.stderr.on('data', (d: Buffer) => err.push(d, (l) => reporter.line(l.toString('utf8'))));
  child.stdin.on('error', () => {});
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  let stdinClosed = false;
  exited.then(() => (stdinClosed = true), () => (stdinClosed = true));
  try {
    await feed(async (chunk) => {
      // A command that stopped reading (e.g. `head`) ends the feed; its exit status decides.
      if (stdinClosed || child.stdin.destroyed) return;
      if (!child.stdin.write(chunk)) await Promise.race([once(child.stdin, 'drain'), exited]);
    });
  } finally {
    child.stdin.end();
  }
  const code = await exited;
  signal?.removeEventListener('abort', kill);
  out.flush(onLine);
  err.flush((l) => reporter.line(l.toString('utf8')));
  if (signal?.aborted) throw new AbortError(`command cancelled: ${command}`);
  if (code !== 0) {
    throw new TaskFailedError(`command '${command}' exited with status ${code}${reporter.stderrTail ? `: ${reporter.stderrTail.trim()}` : ''}`);
  }
}

/** Values of run records as newline-terminated lines, in batches (a feed for a command). */
function linesOf(merge: (onValue: (buf: Buffer, start: number, end: number) => void | Promise<void>) => Promise<unknown>): Feed {
  return async (write) => {
    let batch = Buffer.allocUnsafe(256 * 1024);
    let used = 0;
    const flush = async () => {
      if (used === 0) return;
      const out = batch.subarray(0, used);
      batch = Buffer.allocUnsafe(256 * 1024);
      used = 0;
      await write(out);
    };
    await merge(async (buf, start, end) => {
      const n = end - start + 1;
      if (used + n > batch.length) {
        await flush();
        if (n > batch.length) batch = Buffer.allocUnsafe(n);
      }
      buf.copy(batch, used, start, end);
      batch[used + n - 1] = 10;
      used += n;
    });
    await flush();
  };
}

function shardReader(shard: ShardSpec, signal: AbortSignal | undefined): LogChunkReader {
  return shard.gzip
    ? readLogFile(shard.path, { signal })
    : readLogRange(shard.path, { start: shard.start, ...(shard.end !== null ? { end: shard.end } : {}) }, { signal });
}

function keyOf(line: Buffer): Buffer {
  const tab = line.indexOf(9);
  return tab < 0 ? line : line.subarray(0, tab);
}

function seqKey(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

export async function executeStreamingMap(task: MapTask, env: StreamingEnv): Promise<MapResult> {
  if (task.job.type !== 'streaming') throw new TaskFailedError('not a streaming task');
  const spec = task.job;
  const reporter = new Reporter();
  const partitions = spec.reducer ? (task.partitions ?? 1) : 1;
  const budget = task.memoryBudget ?? 64 * 1024 * 1024;
  const outputs = Array.from({ length: partitions }, (_, i) => new SortedOutput(env.store, task.runId, `${task.taskId}.p${i}`, budget));
  let seq = 0;
  let bytes = 0;
  let lines = 0;
  const emit = (line: Buffer) => {
    const copy = Buffer.from(line);
    if (!spec.reducer) {
      // Map-only: output keeps the mapper's order.
      outputs[0]!.add(seqKey(seq++), copy);
      return;
    }
    const key = keyOf(copy);
    outputs[hashPartition(key.toString('utf8'), partitions)]!.add(key, copy);
  };
  const total = task.shards.reduce((n, s) => n + (s.end ?? s.start) - s.start, 0);
  const taskEnv = { GEARTRAIN_RUN_ID: task.runId, GEARTRAIN_TASK_ID: task.taskId, mapreduce_task_id: task.taskId };

  for (const shard of task.shards) {
    const counting = async function* (reader: LogChunkReader): AsyncGenerator<Buffer> {
      for await (const chunk of reader) {
        bytes += chunk.length;
        for (let p = -1; (p = chunk.indexOf(10, p + 1)) >= 0; ) lines++;
        env.onProgress?.(bytes, Math.max(total, bytes));
        yield chunk;
      }
    };
    const input = counting(shardReader(shard, env.signal));
    if (spec.mapper) {
      await runCommand(spec.mapper, feedFrom(input), emit, reporter, { ...taskEnv, map_input_file: shard.path }, env.signal);
    } else if (spec.mapperFunction) {
      // Any Gearman worker in any language: a chunk of lines in, `key\tvalue` lines out.
      let batch: Buffer[] = [];
      let batchBytes = 0;
      const send = async () => {
        if (batch.length === 0) return;
        const out = await env.client.call(spec.mapperFunction!, Buffer.concat(batch), env.signal ? { signal: env.signal } : {});
        batch = [];
        batchBytes = 0;
        const split = new LineSplitter();
        split.push(out, emit);
        split.flush(emit);
      };
      for await (const chunk of input) {
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= MAPPER_FUNCTION_CHUNK) await send();
      }
      await send();
    } else {
      // Identity mapper.
      const split = new LineSplitter();
      for await (const chunk of input) split.push(chunk, emit);
      split.flush(emit);
    }
    for (const o of outputs) await o.maybeSpill();
  }

  let refs: Ref[] = [];
  for (const o of outputs) refs.push(await o.finish());
  if (spec.combiner && spec.reducer) {
    refs = await Promise.all(refs.map((ref, i) => combine(ref, i, spec.combiner!, task, env, reporter)));
  }
  return { refs, counters: { ...reporter.counters, bytes_read: bytes, lines_read: lines }, stats: null, bytes, lines, status: reporter.status };
}

/** Run the combiner over one sorted partition and re-sort its output. */
async function combine(ref: Ref, partition: number, combiner: string, task: MapTask, env: StreamingEnv, reporter: Reporter): Promise<Ref> {
  const out = new SortedOutput(env.store, task.runId, `${task.taskId}.c${partition}`, task.memoryBudget ?? 64 * 1024 * 1024);
  const feed = linesOf((onValue) =>
    mergeRunChunks([runFileChunks(env.store.localPath(ref.key))], (buf, _s, _ks, keyEnd, end) => onValue(buf, keyEnd, end)),
  );
  const pending: Promise<void>[] = [];
  await runCommand(
    combiner,
    feed,
    (line) => {
      const copy = Buffer.from(line);
      out.add(keyOf(copy), copy);
      pending.push(out.maybeSpill());
    },
    reporter,
    { GEARTRAIN_TASK_ID: task.taskId },
    env.signal,
  );
  await Promise.all(pending);
  return out.finish();
}

/** Merge one partition from every map task (sorted by key) and pipe it through the reducer. */
export async function executeStreamingReduce(task: ReduceTask, env: Pick<ReduceEnv, 'store' | 'nodes' | 'signal'>): Promise<ReduceResult> {
  if (task.job.type !== 'streaming') throw new InvalidArgumentError('streaming reduce needs a streaming job', { field: 'job' });
  const reporter = new Reporter();
  const name = `${task.taskId}.out`;
  const { file } = env.store.pathFor(task.runId, name);
  const w = new RunFileWriter(file);
  let n = 0;
  const src = sourceOn(env);
  const feed = linesOf((onValue) =>
    mergeRunChunks(
      task.inputs.map((ref) => fetchChunks(ref, src)),
      (buf, _s, _ks, keyEnd, end) => onValue(buf, keyEnd, end),
    ),
  );
  const writes: Promise<void>[] = [];
  const onLine = (line: Buffer) => {
    const p = w.write(seqKey(n++), line);
    if (p) writes.push(p);
  };
  if (task.job.reducer) await runCommand(task.job.reducer, feed, onLine, reporter, { GEARTRAIN_TASK_ID: task.taskId }, env.signal);
  else {
    // No reducer command: the merged partition is the output.
    const split = new LineSplitter();
    await feed(async (chunk) => split.push(chunk, onLine));
    split.flush(onLine);
  }
  await Promise.all(writes);
  await w.close();
  return { ref: await env.store.refFor(task.runId, name, w.records), counters: reporter.counters, status: reporter.status };
}
