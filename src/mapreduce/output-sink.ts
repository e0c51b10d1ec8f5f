/**
 * The end of a run at the coordinator: the last partials fetched from the nodes that hold them and
 * turned into what the caller asked for. A summary is decoded, finalized and rendered (by the job's
 * `render`, else as text and tables: report/result-tables.ts); sorted runs are merged record by
 * record into lines (a callback per line, large chunks of lines, or collected in memory);
 * streaming parts go to the output or each to its own `part-NNNNN` file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { resultTables } from '../report/result-tables.ts';
import { fetchAll, fetchChunks, type FetchSource } from './fetch.ts';
import { decodeState, type KeyedJob, type RenderedResult, type RunInfo, type SummaryJob } from './job-definition.ts';
import type { NodeClient } from './node-client.ts';
import { mergeRunChunks } from './run-cursor.ts';
import type { Ref } from './wire.ts';

export interface OutputOptions {
  /** Each line (without newline; the bytes are valid only during the call). */
  readonly output?: (line: Buffer) => void | Promise<void>;
  /** Lines in large chunks of newline-terminated lines. */
  readonly outputChunk?: (chunk: Buffer) => void | Promise<void>;
  /** Streaming jobs: one part-NNNNN file per final partial here. */
  readonly outputDir?: string;
}

/** What the run's report says about its output. */
export interface RunOutput {
  /** Finalized result of a summary or keyed job. */
  readonly result?: unknown;
  readonly rendered?: RenderedResult;
  /** Output lines, when neither `output` nor `outputChunk` (nor `outputDir`) was given. */
  readonly lines?: Buffer[];
  readonly outputLines: number;
  /** Partials the coordinator itself fetched. */
  readonly partialsAtRoot: number;
}

/** A sorted job's output for one record: its line(s), undefined for none, null to end the output. */
export type SortedFormatter = (key: Buffer, value: Buffer) => Buffer | undefined | null;

/** Packs lines into large newline-terminated chunks. */
class LineBatcher {
  readonly #sink: (chunk: Buffer) => Promise<void>;
  #buf = Buffer.allocUnsafe(1024 * 1024);
  #used = 0;
  constructor(sink: (chunk: Buffer) => Promise<void>) {
    this.#sink = sink;
  }
  async add(line: Buffer): Promise<void> {
    const n = line.length + 1;
    if (this.#used + n > this.#buf.length) {
      await this.flush();
      if (n > this.#buf.length) this.#buf = Buffer.allocUnsafe(n);
    }
    line.copy(this.#buf, this.#used);
    this.#buf[this.#used + n - 1] = 10;
    this.#used += n;
  }
  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const chunk = this.#buf.subarray(0, this.#used);
    this.#buf = Buffer.allocUnsafe(this.#buf.length);
    this.#used = 0;
    await this.#sink(chunk);
  }
}

export class OutputSink {
  readonly #o: OutputOptions;
  readonly #src: FetchSource;
  readonly #lines: Buffer[] = [];
  #count = 0;
  readonly #chunks: LineBatcher;

  constructor(options: OutputOptions, nodes: NodeClient, signal: AbortSignal) {
    this.#o = options;
    this.#src = { nodes, signal };
    this.#chunks = new LineBatcher(async (chunk) => {
      if (options.outputChunk) await options.outputChunk(chunk);
    });
  }

  /**
   * Finalize a summary (or keyed) job: the last partials (at most the fan-in; the root merges them itself, which
   * saves a reduce task encoding a merged state only for the root to decode it), fetched at once
   * and merged as they arrive (merge is commutative).
   */
  async summary(final: readonly Ref[], job: SummaryJob | KeyedJob, params: unknown, run: RunInfo): Promise<RunOutput> {
    let state: unknown = undefined;
    await Promise.all(
      final.map(async (ref) => {
        const s = decodeState(job, await fetchAll(ref, this.#src), params);
        state = state === undefined ? s : job.merge(state, s, params);
      }),
    );
    const result = job.finalize(state === undefined ? job.create(params) : state, params, run);
    // A job without a `render` of its own still prints: its result as text and tables.
    const rendered: RenderedResult = job.render?.(result, params) ?? resultTables(result);
    return { result, rendered, outputLines: 0, partialsAtRoot: final.length };
  }

  /**
   * Merge sorted runs into lines: each record's value, or what `format(key, value)` makes of it
   * (undefined: nothing for this record; null: the output ends here, and the merge stops). One
   * run, or one per key range: the ranges are in key order, so reading them in turn is sorted.
   */
  async sorted(parts: readonly Ref[], format?: SortedFormatter): Promise<RunOutput> {
    let ended = false;
    for (const part of parts) {
      if (ended) break;
      await mergeRunChunks([fetchChunks(part, this.#src)], async (buf, _start, keyStart, keyEnd, end) => {
        const line = format ? format(buf.subarray(keyStart, keyEnd), buf.subarray(keyEnd, end)) : buf.subarray(keyEnd, end);
        if (line === null) {
          ended = true;
          return false;
        }
        if (line !== undefined) await this.#emit(line);
        return true;
      });
    }
    await this.#chunks.flush();
    return { ...(this.#collected ? { lines: this.#lines } : {}), outputLines: this.#count, partialsAtRoot: parts.length };
  }

  /** Streaming output: the parts in order, each to its own part-NNNNN file or to the output. */
  async streaming(parts: readonly Ref[]): Promise<RunOutput> {
    const dir = this.#o.outputDir;
    if (dir) fs.mkdirSync(dir, { recursive: true });
    for (let i = 0; i < parts.length; i++) {
      const values = fetchChunks(parts[i]!, this.#src);
      if (dir) await this.#partFile(path.join(dir, `part-${String(i).padStart(5, '0')}`), values);
      else await mergeRunChunks([values], (buf, _start, _keyStart, keyEnd, end) => this.#emit(buf.subarray(keyEnd, end)));
    }
    await this.#chunks.flush();
    return { ...(this.#collected && !dir ? { lines: this.#lines } : {}), outputLines: this.#count, partialsAtRoot: parts.length };
  }

  get #collected(): boolean {
    return !this.#o.output && !this.#o.outputChunk;
  }

  async #emit(line: Buffer): Promise<void> {
    this.#count++;
    if (this.#o.output) await this.#o.output(line);
    else if (this.#o.outputChunk) await this.#chunks.add(line);
    else this.#lines.push(Buffer.from(line));
  }

  async #partFile(file: string, chunks: AsyncIterable<Buffer>): Promise<void> {
    const out = fs.createWriteStream(file);
    const part = new LineBatcher(async (chunk) => {
      if (!out.write(chunk)) await new Promise<void>((res) => out.once('drain', () => res()));
    });
    await mergeRunChunks([chunks], async (buf, _start, _keyStart, keyEnd, end) => {
      this.#count++;
      await part.add(buf.subarray(keyEnd, end));
    });
    await part.flush();
    await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
  }
}
