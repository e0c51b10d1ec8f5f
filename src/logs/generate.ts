import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { z } from 'zod';
import { AbortError, InvalidArgumentError } from '../errors.ts';
import { escapeLogBytes } from './escape.ts';
import type { LogRecord } from './fields.ts';
import { compileLogFormat, type LogFormat } from './format.ts';
import { compileFormatter } from './format-record.ts';
import {
  buildSiteUrls,
  buildUserAgents,
  KEYWORDS,
  ODD_AGENTS,
  OTHER_REFERRERS,
  PROBE_PATHS,
  SEARCH_ENGINES,
  VHOSTS,
  type SiteUrl,
} from './generate-data.ts';
import { INVALID_REASONS, type InvalidReason } from './parse-stats.ts';
import { DEFAULT_MAX_LINE_LENGTH } from './parser.ts';
import { DAY_MS, mix32, Rng, TrafficClock, Weighted } from './generate-random.ts';

/**
 * A seeded, deterministic generator of realistic access logs: the same options give the same
 * bytes. Traffic follows a daily curve over a date range; URLs, clients and agents follow Zipf-like
 * laws; `node` gives each log node its own stream over a shared client population (as behind a
 * load balancer). A configurable share of lines is dirty: every invalid kind the parser reports
 * (`INVALID_REASONS`) and every odd-but-valid kind in `ODD_KINDS`.
 */

export const GENERATED_FORMATS = ['combined', 'common', 'vhost_combined'] as const;
export type GeneratedFormat = (typeof GENERATED_FORMATS)[number];

/** Lines that are unusual but valid records, as real servers write them. */
export const ODD_KINDS = [
  'escaped_quotes',
  'utf8_escapes',
  'tls_handshake',
  'ssh_banner',
  'rdp_cookie',
  'idle_408',
  'internal_dummy',
  'empty_user_agent',
  'dash_user_agent',
  'hostname_host',
  'ipv6_host',
  'auth_user',
  'empty_user',
  'absolute_uri',
  'connect_method',
  'http09',
  'space_in_uri',
  'injection_user_agent',
  'long_line',
  'other_offset',
  'future_date',
] as const;
export type OddKind = (typeof ODD_KINDS)[number];

export const generateOptionsSchema = z
  .object({
    /** Number of lines, dirty ones included. */
    lines: z.number().int().nonnegative(),
    seed: z.number().int().default(1),
    /** Index of the log node: each gets different data from the same seed. */
    node: z.number().int().nonnegative().default(0),
    format: z.enum(GENERATED_FORMATS).default('combined'),
    /** First moment of the traffic (ISO string, epoch ms or Date). Default 2026-10-01T00:00:00Z. */
    start: z.union([z.date(), z.string(), z.number()]).optional(),
    days: z.number().positive().max(3660).default(7),
    /** Zone written in the time fields, in minutes east of UTC. */
    tzOffset: z.number().int().min(-1439).max(1439).default(0),
    /** Share of lines that are invalid (each kind equally likely). */
    invalidRate: z.number().min(0).max(1).default(0.001),
    /** Share of lines that are odd but valid. */
    oddRate: z.number().min(0).max(1).default(0.002),
    /** Too-long lines are made longer than this. */
    maxLineLength: z.number().int().positive().default(DEFAULT_MAX_LINE_LENGTH),
    chunkBytes: z.number().int().positive().default(1 << 20),
    /** End the file with a newline (false leaves the last line unterminated). */
    finalNewline: z.boolean().default(true),
    /** Most distinct clients (default 60,000; the population is lines / 25 up to this). */
    maxClients: z.number().int().min(300).max(10_000_000).default(60_000),
    /**
     * Share of page requests going to a long tail of content pages `/item/N` published over time (N grows
     * with the line number, older items more popular): distinct paths grow with the log. 0 = none.
     */
    longTail: z.number().min(0).max(1).default(0),
  })
  .strict()
  .refine((o) => o.invalidRate + o.oddRate <= 1, { message: 'invalidRate + oddRate must not exceed 1', path: ['oddRate'] });

export type GenerateOptions = z.input<typeof generateOptionsSchema>;
type Options = z.output<typeof generateOptionsSchema>;

export interface GenerateSummary {
  lines: number;
  bytes: number;
  /** Lines by kind: `valid`, each OddKind and each InvalidReason. */
  kinds: Record<LineKind, number>;
}

/** What a generated line is: valid, valid but odd, or invalid for a reason. */
export type LineKind = 'valid' | OddKind | InvalidReason;

const writeLatin1: (buf: Buffer, text: string, offset: number) => number =
  typeof (Buffer.prototype as unknown as { latin1Write?: unknown }).latin1Write === 'function'
    ? (buf, text, offset) => offset + (buf as unknown as { latin1Write(t: string, o: number): number }).latin1Write(text, offset)
    : (buf, text, offset) => offset + buf.write(text, offset, 'latin1');

type Rec = {
  -readonly [K in keyof LogRecord]?: LogRecord[K];
};

// The tables lines are drawn from: built by the first generator, not by every process that loads
// this module through the logs/ index (a node, a coordinator, each task thread).
let SITE_URLS: readonly SiteUrl[];
let AGENTS: ReturnType<typeof buildUserAgents>;
let AGENT_PICKER: Weighted;
let URL_PICKER: Weighted;
let ENGINE_PICKER: Weighted;
let VHOST_PICKER: Weighted;
let PAGES: readonly SiteUrl[];
let PAGE_PICKER: Weighted;

function buildTables(): void {
  if (SITE_URLS !== undefined) return;
  SITE_URLS = buildSiteUrls();
  AGENTS = buildUserAgents();
  AGENT_PICKER = new Weighted(AGENTS.map((a) => a.weight));
  URL_PICKER = Weighted.zipf(SITE_URLS.length, 1.0);
  ENGINE_PICKER = new Weighted(SEARCH_ENGINES.map(([, w]) => w));
  VHOST_PICKER = new Weighted(VHOSTS.map((v) => v.weight));
  PAGES = SITE_URLS.filter((u) => u.kind === 'page');
  PAGE_PICKER = Weighted.zipf(PAGES.length, 1.0);
}
const FIRST_OCTETS = [23, 31, 37, 46, 62, 66, 73, 77, 81, 86, 91, 95, 98, 104, 109, 151, 176, 178, 185, 188, 193, 195, 203, 212, 217];
const TLS_HELLO = '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03';
const RDP_COOKIE = '\x03\x00\x00+&\xe0\x00\x00\x00\x00\x00Cookie: mstshash=Administr';
const BINARY_PLACEHOLDER = '@@GEARTRAIN_BINARY_REQUEST@@';

/** Pulls lines out of a seeded state machine; `nextChunk()` returns them as Buffers. */
export class LogGenerator implements AsyncIterable<Buffer> {
  readonly options: Readonly<Options>;
  readonly format: LogFormat;
  readonly #rng: Rng;
  readonly #clock: TrafficClock;
  readonly #clients: Weighted;
  readonly #clientHosts: string[];
  readonly #clientAgents: Int32Array;
  readonly #kinds: Record<LineKind, number>;
  readonly #rec: Rec = {};
  /** Ordinary lines hold only printable ASCII without quotes or backslashes: no escaping needed. */
  readonly #plainFormat: (record: Partial<LogRecord>) => string;
  #line = 0;
  #bytes = 0;
  readonly #referers: (string | undefined)[] = [];
  /** A line that did not fit in the previous chunk. */
  #pending: string | undefined;

  constructor(options: GenerateOptions) {
    buildTables();
    const parsed = generateOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join('.');
      throw new InvalidArgumentError(`invalid generator option ${field || '(root)'}: ${issue.message}`, { field });
    }
    this.options = Object.freeze(parsed.data);
    const o = this.options;
    this.format = compileLogFormat(o.format);
    this.#plainFormat = compileFormatter(this.format, { escape: false });
    const start = o.start === undefined ? Date.UTC(2026, 9, 1) : new Date(o.start).getTime();
    if (!Number.isFinite(start)) throw new InvalidArgumentError('invalid generator option start: not a date', { field: 'start' });
    this.#rng = new Rng(mix32(o.seed, o.node + 1));
    this.#clock = new TrafficClock(start, o.days, o.tzOffset);
    const population = Math.min(o.maxClients, Math.max(300, Math.round(o.lines / 25)));
    this.#clients = Weighted.zipf(population, 1.05);
    this.#clientHosts = new Array<string>(population);
    this.#clientAgents = new Int32Array(population).fill(-1);
    this.#kinds = Object.fromEntries(['valid', ...ODD_KINDS, ...INVALID_REASONS].map((k) => [k, 0])) as Record<LineKind, number>;
  }

  get summary(): GenerateSummary {
    return { lines: this.#line, bytes: this.#bytes, kinds: { ...this.#kinds } };
  }

  /** The next chunk of about `chunkBytes` bytes of whole lines, or undefined when done. */
  nextChunk(): Buffer | undefined {
    const { lines, chunkBytes, finalNewline } = this.options;
    if (this.#line >= lines && this.#pending === undefined) return undefined;
    // Lines are written straight into the chunk: cheaper than joining strings (no big flat string).
    let buf = Buffer.allocUnsafe(chunkBytes);
    let size = 0;
    const pending = this.#pending;
    if (pending !== undefined) {
      this.#pending = undefined;
      if (pending.length + 1 > buf.length) buf = Buffer.allocUnsafe(pending.length + 1);
      size = writeLatin1(buf, pending, 0);
      buf[size++] = 10;
    }
    while (this.#line < lines) {
      const line = this.#nextLine(this.#line);
      this.#line++;
      if (size + line.length + 1 > buf.length) {
        if (size > 0) {
          this.#pending = line; // starts the next chunk
          break;
        }
        buf = Buffer.allocUnsafe(line.length + 1);
      }
      size = writeLatin1(buf, line, size);
      buf[size++] = 10;
    }
    if (this.#line >= lines && this.#pending === undefined && !finalNewline) size--;
    const chunk = buf.subarray(0, size);
    this.#bytes += chunk.length;
    return chunk;
  }

  *chunks(): Generator<Buffer> {
    for (let c = this.nextChunk(); c !== undefined; c = this.nextChunk()) yield c;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    yield* this.chunks();
  }

  #nextLine(i: number): string {
    const rng = this.#rng;
    const { invalidRate, oddRate } = this.options;
    const u = rng.float();
    if (u < invalidRate) {
      const reason = INVALID_REASONS[rng.int(INVALID_REASONS.length)]!;
      this.#kinds[reason]++;
      return this.#invalid(reason, i);
    }
    if (u < invalidRate + oddRate) {
      const kind = ODD_KINDS[rng.int(ODD_KINDS.length)]!;
      this.#kinds[kind]++;
      return this.#odd(kind, i);
    }
    this.#kinds.valid++;
    this.#normal(i);
    return this.#plainFormat(this.#rec);
  }

  #client(k: number): [string, number] {
    if (this.#clientAgents[k]! < 0) {
      const h = mix32(this.options.seed, k);
      const agent = AGENT_PICKER.pick(mix32(h, 7) / 4294967296);
      const prefix = AGENTS[agent]!.ipPrefix;
      let host: string;
      if (prefix !== undefined) {
        host = `${prefix}.${1 + (h % 250)}`;
      } else if (h % 100 < 12) {
        const g = (x: number) => (mix32(h, x) & 0xffff).toString(16);
        host = `2a0${1 + (h % 9)}:${g(1)}:${g(2)}:${g(3)}::${g(4)}`;
      } else {
        host = `${FIRST_OCTETS[h % FIRST_OCTETS.length]}.${(h >>> 8) & 255}.${(h >>> 16) & 255}.${1 + ((h >>> 24) % 254)}`;
      }
      this.#clientHosts[k] = host;
      this.#clientAgents[k] = agent;
    }
    return [this.#clientHosts[k]!, this.#clientAgents[k]!];
  }

  /** `https://<vhost><page>`, built once per pair. */
  #internalReferer(vhost: number, page: number): string {
    const k = vhost * PAGES.length + page;
    return (this.#referers[k] ??= `https://${VHOSTS[vhost]!.name}${PAGES[page]!.path}`);
  }

  #keyphrase(): string {
    const rng = this.#rng;
    const n = 1 + rng.int(4);
    let out = rng.pick(KEYWORDS);
    for (let k = 1; k < n; k++) out += '+' + rng.pick(KEYWORDS);
    return out;
  }

  /** Fills the shared record with an ordinary request at slot i. */
  #normal(i: number): void {
    const rng = this.#rng;
    const o = this.options;
    const r = this.#rec;
    const written = this.#clock.at((i + rng.float()) / o.lines);
    const durationMs = rng.chance(0.03) ? 1000 + rng.int(20_000) : Math.floor(-Math.log(1 - rng.float()) * 120);
    const [host, agent] = this.#client(this.#clients.pick(rng.float()));
    const vi = VHOST_PICKER.pick(rng.float());
    const v = VHOSTS[vi]!;

    let url: SiteUrl;
    const which = rng.float();
    if (which < 0.015) url = { path: rng.pick(PROBE_PATHS), query: '', kind: 'probe', size: 0 };
    else if (which < 0.035) url = { path: '/search', query: `q=${this.#keyphrase()}`, kind: 'page', size: 14_000 };
    else url = SITE_URLS[URL_PICKER.pick(rng.float())]!;
    if (o.longTail > 0 && url.kind === 'page' && rng.chance(o.longTail)) {
      const published = 1 + Math.floor(i / 8);
      url = { path: `/item/${Math.floor(published * rng.float() ** 2)}`, query: '', kind: 'page', size: 9_000 };
    }

    let method = 'GET';
    const m = rng.float();
    if (url.kind === 'api') method = m < 0.8 ? 'GET' : m < 0.95 ? 'POST' : m < 0.98 ? 'PUT' : 'DELETE';
    else if (url.kind === 'probe') method = m < 0.8 ? 'GET' : 'POST';
    else if (url.path === '/login') method = m < 0.5 ? 'GET' : 'POST';
    else if (m < 0.015) method = 'HEAD';
    else if (url.kind === 'page' && m < 0.035) method = 'POST';

    const s = rng.float();
    let status: number;
    switch (url.kind) {
      case 'static': status = s < 0.78 ? 200 : s < 0.98 ? 304 : s < 0.99 ? 404 : 206; break;
      case 'api': status = s < 0.85 ? (method === 'POST' ? 201 : 200) : s < 0.87 ? 204 : s < 0.9 ? 400 : s < 0.93 ? 401 : s < 0.95 ? 404 : s < 0.97 ? 429 : s < 0.99 ? 500 : 503; break;
      case 'probe': status = s < 0.85 ? 404 : s < 0.95 ? 403 : s < 0.98 ? 400 : 301; break;
      default:
        if (url.path === '/login' && method === 'POST') status = s < 0.7 ? 302 : 200;
        else status = s < 0.88 ? 200 : s < 0.91 ? 301 : s < 0.93 ? 302 : s < 0.95 ? 304 : s < 0.98 ? 404 : s < 0.99 ? 500 : s < 0.995 ? 503 : 403;
    }

    let bytes: number;
    if (status === 304 || status === 204 || method === 'HEAD') bytes = 0;
    else if (status === 301 || status === 302) bytes = 228 + rng.int(40);
    else if (status >= 400) bytes = 196 + rng.int(340);
    else if (status === 206) bytes = Math.floor(url.size / 4);
    else bytes = url.kind === 'page' ? url.size + rng.int(2000) - 1000 : url.size;

    let referer = '-';
    const f = rng.float();
    if (url.kind === 'static' || url.kind === 'api') {
      if (f < 0.85) referer = this.#internalReferer(vi, PAGE_PICKER.pick(rng.float()));
    } else if (url.kind === 'page') {
      if (f < 0.3) referer = this.#internalReferer(vi, PAGE_PICKER.pick(rng.float()));
      else if (f < 0.48) referer = SEARCH_ENGINES[ENGINE_PICKER.pick(rng.float())]![0] + this.#keyphrase();
      else if (f < 0.6) referer = rng.pick(OTHER_REFERRERS);
    }

    const p = rng.float();
    r.host = host;
    r.ident = '-';
    r.user = '-';
    r.time = Math.floor((written - durationMs) / 1000) * 1000;
    r.tzOffset = o.tzOffset;
    r.request = undefined;
    r.method = method;
    r.path = url.path;
    r.query = url.query;
    r.protocol = p < 0.62 ? 'HTTP/1.1' : p < 0.98 ? 'HTTP/2.0' : 'HTTP/1.0';
    r.status = status;
    r.bytes = bytes;
    r.bytesSent = bytes + 180 + rng.int(220);
    r.referer = referer;
    r.userAgent = AGENTS[agent]!.ua;
    r.vhost = v.name;
    r.port = v.port;
  }

  #formatWithBinaryRequest(binary: string): string {
    this.#rec.request = BINARY_PLACEHOLDER;
    return this.format.format(this.#rec).replace(BINARY_PLACEHOLDER, escapeLogBytes(binary));
  }

  #odd(kind: OddKind, i: number): string {
    const rng = this.#rng;
    const r = this.#rec;
    this.#normal(i);
    const bad = (status: number, bytes: number) => {
      r.status = status;
      r.bytes = bytes;
      r.bytesSent = bytes + 150;
      r.referer = '-';
      r.userAgent = '-';
    };
    switch (kind) {
      case 'escaped_quotes':
        r.method = 'GET';
        r.path = '/search';
        r.query = `q="><script>alert("x")</script>\\`;
        r.userAgent = ODD_AGENTS[2]!;
        break;
      case 'utf8_escapes':
        r.path = rng.chance(0.5) ? '/blog/café-crème' : '/категория/обувь';
        break;
      case 'tls_handshake': {
        bad(400, 226);
        let hello = TLS_HELLO;
        for (let k = 0; k < 8; k++) hello += String.fromCharCode(rng.int(256));
        return this.#formatWithBinaryRequest(hello);
      }
      case 'ssh_banner':
        bad(400, 226);
        r.request = 'SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6';
        break;
      case 'rdp_cookie':
        bad(400, 226);
        return this.#formatWithBinaryRequest(RDP_COOKIE);
      case 'idle_408':
        bad(408, 0);
        r.request = '-';
        break;
      case 'internal_dummy':
        bad(200, 0);
        r.host = '::1';
        r.request = 'OPTIONS * HTTP/1.0';
        r.userAgent = 'Apache/2.4.62 (Debian) (internal dummy connection)';
        break;
      case 'empty_user_agent':
        r.userAgent = '';
        break;
      case 'dash_user_agent':
        r.userAgent = '-';
        break;
      case 'hostname_host':
        r.host = rng.chance(0.5) ? `crawl-66-249-66-${1 + rng.int(250)}.googlebot.com` : `host-${rng.int(256)}-${rng.int(256)}-${rng.int(256)}.dynamic.example.net`;
        break;
      case 'ipv6_host':
        r.host = rng.chance(0.5) ? `::ffff:198.51.100.${rng.int(256)}` : `2001:db8:${rng.int(65536).toString(16)}::${rng.int(65536).toString(16)}`;
        break;
      case 'auth_user':
        r.user = rng.pick(['alice', 'bob', 'admin@example.com', 'deploy']);
        break;
      case 'empty_user':
        r.user = '';
        break;
      case 'absolute_uri':
        r.path = `http://${r.vhost}/index.html`;
        r.query = '';
        break;
      case 'connect_method':
        bad(rng.chance(0.5) ? 405 : 400, 226);
        r.request = `CONNECT ${rng.pick(['www.google.com', 'api.ipify.org', 'example.net'])}:443 HTTP/1.1`;
        break;
      case 'http09':
        bad(400, 226);
        r.request = 'GET /';
        break;
      case 'space_in_uri':
        r.status = 400;
        r.path = '/files/annual report 2026.pdf';
        r.query = '';
        break;
      case 'injection_user_agent':
        r.userAgent = rng.chance(0.5) ? ODD_AGENTS[0]! : rng.pick(ODD_AGENTS);
        break;
      case 'long_line':
        r.path = '/search';
        r.query = 'q=' + 'long+query+'.repeat(300 + rng.int(400));
        break;
      case 'other_offset': {
        const offset = r.tzOffset ?? 0;
        r.tzOffset = offset > 1300 ? offset - 60 : offset + 60; // a DST change
        break;
      }
      case 'future_date':
        r.time = (r.time ?? 0) + 400 * DAY_MS;
        break;
    }
    return this.format.format(r);
  }

  #invalid(reason: InvalidReason, i: number): string {
    const rng = this.#rng;
    const normal = () => {
      this.#normal(i);
      return this.#plainFormat(this.#rec);
    };
    switch (reason) {
      case 'empty':
        return '';
      case 'truncated':
        return this.#cut(normal());
      case 'garbage':
        return this.#garbage(normal());
      case 'glued': {
        const first = rng.chance(0.5) ? normal() : this.#cut(normal());
        return first + normal();
      }
      case 'bad_date': {
        const line = normal();
        const open = line.indexOf('[');
        const close = line.indexOf(']', open);
        const bad = rng.pick([
          '[32/Oct/2026:13:55:36 +0000]',
          '[00/Foo/2026:13:55:36 +0000]',
          '[2026-10-10T13:55:36+00:00]',
          '[7/10/2026:13:55:36 +0000]',
          '[31/Nov/2026:13:55:36 +0000]',
          '[29/Feb/2027:13:55:36 +0000]',
          '[10/Oct/2026:25:61:00 +0000]',
        ]);
        return line.slice(0, open) + bad + line.slice(close + 1);
      }
      case 'nul':
        return '\0'.repeat(1 + rng.int(4096)) + (rng.chance(0.5) ? normal() : '');
      case 'too_long': {
        this.#normal(i);
        this.#rec.path = '/search';
        this.#rec.query = 'q=' + 'x'.repeat(this.options.maxLineLength);
        return this.#plainFormat(this.#rec);
      }
    }
  }

  /** A prefix of a record that the parser can tell is cut short: past the first field, before the end. */
  #cut(line: string): string {
    const first = line.indexOf(' ') + 1;
    const limit = line.endsWith('"') ? line.length - 1 : line.lastIndexOf(' ');
    return line.slice(0, first + this.#rng.int(Math.max(1, limit - first + 1)));
  }

  #garbage(line: string): string {
    const rng = this.#rng;
    switch (rng.int(6)) {
      case 0:
        return `[Sat Oct 10 13:55:36.${100000 + rng.int(899999)} 2026] [core:error] [pid ${1000 + rng.int(30000)}:tid 140] [client 198.51.100.${rng.int(256)}:${1024 + rng.int(60000)}] AH00126: Invalid URI in request GET /%%% HTTP/1.1`;
      case 1:
        return `{"level":"error","msg":"upstream-timed-out","ts":"2026-10-10T13:55:36Z","id":${rng.int(1e6)}}`;
      case 2:
        return line.replace(/ /g, '\t');
      case 3:
        return line.replace(/" (\d{3}) /, '" - ');
      case 4: {
        let out = '';
        const n = 20 + rng.int(180);
        for (let k = 0; k < n; k++) out += String.fromCharCode(rng.chance(0.5) ? 0x80 + rng.int(128) : 1 + rng.int(8));
        return out;
      }
      default:
        return `    at Object.<anonymous> (/srv/app/server.js:${rng.int(500)}:${rng.int(80)})`;
    }
  }
}

/** A generator of log chunks (an async iterable of Buffers); its `summary` is final once drained. */
export function generateLog(options: GenerateOptions): LogGenerator {
  return new LogGenerator(options);
}

/** Writes a generated log to `file` (gzip-compressed when the name ends in `.gz`). */
export async function writeLog(file: string, options: GenerateOptions, io: { signal?: AbortSignal } = {}): Promise<GenerateSummary> {
  const gen = new LogGenerator(options);
  const { signal } = io;
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
  if (file.endsWith('.gz')) {
    await pipeline(Readable.from(gen.chunks()), createGzip(), createWriteStream(file), { signal });
    return gen.summary;
  }
  const fh = await open(file, 'w');
  try {
    for (let chunk = gen.nextChunk(); chunk !== undefined; chunk = gen.nextChunk()) {
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
      await fh.write(chunk);
    }
  } finally {
    await fh.close();
  }
  return gen.summary;
}
