/**
 * The partial state of `analyze`: a monoid of exact counters, bounded key → (hits, bytes) tables
 * (KeyTable: exact while a panel has at most `maxKeys` distinct keys, a heavy-hitters summary with
 * a stated error bound beyond), HyperLogLog sketches of visitors and t-digests of sizes and latencies. `add` folds one record
 * in (the hot path: one map lookup per panel, nothing allocated for keys already seen), `mergeFrom`
 * adds another state, `encode`/`decode` move it between processes (JSON with sketches in base64
 * and maps as flat arrays). jobs/analyze.ts turns it into the result.
 *
 * Memory: at most `maxKeys` entries in each of the five tables (request keys, hosts, User-Agents,
 * referrer URLs, 404 keys; about 100–200 bytes each in V8; the 2M-line study log has 69k request
 * keys, 43k hosts, 460 agents, so the default 100,000 keeps it exact), plus per hour ≤ 4 KiB, per day ≤ 16 KiB and 64 KiB for the period (visitor sketches), plus two
 * digests of ≤ 10 KiB. Kept keys are detached from their lines (detachString).
 */
import { InvalidArgumentError } from '../errors.ts';
import { detachString, type FieldName, type LogRecord } from '../logs/index.ts';
import { combine53, hashLanes, HyperLogLog, KeyTable, lanes, TDigest, type TableEntry } from '../sketches/index.ts';
import { hostMatcher, isStaticPath, referrerHost } from './web-terms.ts';

export type RequestPart = 'method' | 'path' | 'query' | 'protocol';

/** Visitor sketches: precision per granularity (exact below 2^p / 8 visitors). */
export const HOUR_P = 12;
export const DAY_P = 14;
export const PERIOD_P = 16;
const HOUR_MS = 3_600_000;
/** Seeds of the visitor hash when the agent is not part of it. */
const IP_SEED_A = 0x2f6b1d3;
const IP_SEED_B = 0x6a09e667;

/** What the state needs from the job's parameters. */
export interface AccessLogConfig {
  readonly parts: readonly RequestPart[];
  readonly keyOf: (r: LogRecord<FieldName>) => string;
  readonly byAgent: boolean;
  /** null: each line's own offset. */
  readonly offsetMs: number | null;
  readonly staticExt: ReadonlySet<string>;
  readonly siteHosts: readonly string[];
  /** Capacity of each key table (request keys, 404 keys, hosts, agents, referrers). */
  readonly maxKeys: number;
}

export class RequestEntry {
  hits = 0;
  bytes = 0;
  err = 0;
  dropped = false;
  constructor(readonly isStatic: boolean) {}
}

export class NotFoundEntry {
  hits = 0;
  bytes = 0;
  err = 0;
  dropped = false;
  lastTime = -Infinity;
  lastReferrer = '';
}

export class ReferrerEntry {
  hits = 0;
  bytes = 0;
  err = 0;
  dropped = false;
  constructor(readonly key: string) {}
}

export class AgentEntry {
  hits = 0;
  bytes = 0;
  err = 0;
  dropped = false;
  /** Lanes of the agent's hash: the seeds of its visitors' hashes. */
  readonly seedA: number;
  readonly seedB: number;
  constructor(readonly key: string) {
    hashLanes(key, 0x9747b28c, 0x85ebca6b);
    this.seedA = lanes.a;
    this.seedB = lanes.b;
  }
}

/**
 * A client address, with what its last request resolved to: a client keeps its agent and often
 * its referrer from one request to the next (a page, then its assets), so comparing with the last
 * one saves hashing long strings for the agent and referrer maps, and re-adding the same visitor
 * to the same sketches. The cache only skips work whose result is already in this state.
 */
export class HostEntry {
  hits = 0;
  bytes = 0;
  err = 0;
  dropped = false;
  agent: AgentEntry | null = null;
  visitor = 0;
  /** Hour index whose sketches already hold `visitor`. */
  hour = NaN;
  referrer: ReferrerEntry | null = null;
}

export class DayBucket {
  readonly visitors = new HyperLogLog({ p: DAY_P });
}

export class HourBucket {
  hits = 0;
  bytes = 0;
  readonly visitors = new HyperLogLog({ p: HOUR_P });
  constructor(readonly day: DayBucket) {}
}

/** The later of two (time, referrer) pairs; equal times pick the larger referrer, so order never matters. */
function later(aTime: number, aRef: string, bTime: number, bRef: string): boolean {
  return bTime > aTime || (bTime === aTime && bRef > aRef);
}

export class AccessLogState {
  requests = 0;
  bytes = 0;
  untimed = 0;
  firstTime = Infinity;
  lastTime = -Infinity;
  readonly statusHits = new Float64Array(1000);
  readonly statusBytes = new Float64Array(1000);
  readonly hours = new Map<number, HourBucket>();
  readonly days = new Map<number, DayBucket>();
  readonly visitors = new HyperLogLog({ p: PERIOD_P });
  readonly paths: KeyTable<RequestEntry>;
  readonly notFound: KeyTable<NotFoundEntry>;
  readonly hosts: KeyTable<HostEntry>;
  readonly agents: KeyTable<AgentEntry>;
  readonly referrers: KeyTable<ReferrerEntry>;
  /** Of the request keys dropped from `paths`: the static files' hits and bytes (for exact page/static totals). */
  droppedStaticHits = 0;
  droppedStaticBytes = 0;
  /** Of the referrers dropped: hits of internal ones (the site's own hosts), for an exact external total. */
  droppedInternalReferrerHits = 0;
  readonly sizes = new TDigest();
  durations: TDigest | null = null;
  #hourIndex = NaN;
  #hour: HourBucket | null = null;

  constructor(readonly config: AccessLogConfig) {
    const cap = config.maxKeys;
    this.paths = new KeyTable<RequestEntry>(cap, (_k, e) => {
      if (!e.isStatic) return;
      this.droppedStaticHits += e.hits;
      this.droppedStaticBytes += e.bytes;
    });
    this.notFound = new KeyTable<NotFoundEntry>(cap);
    this.hosts = new KeyTable<HostEntry>(cap);
    this.agents = new KeyTable<AgentEntry>(cap);
    const internal = hostMatcher(config.siteHosts);
    this.referrers = new KeyTable<ReferrerEntry>(cap, (url, e) => {
      if (internal(referrerHost(url))) this.droppedInternalReferrerHits += e.hits;
    });
  }

  add(r: LogRecord<FieldName>): void {
    const c = this.config;
    const status = r.status as number;
    const bytes = (r.bytes as number | undefined) ?? 0;
    this.requests++;
    this.bytes += bytes;
    this.statusHits[status]!++;
    this.statusBytes[status]! += bytes;

    const host = (r.host as string | undefined) ?? '';
    let he = this.hosts.get(host);
    if (he === undefined) he = this.hosts.insert(detachString(host), new HostEntry());
    he.hits++;
    he.bytes += bytes;

    const ua = (r.userAgent as string | undefined) ?? '-';
    let agent: AgentEntry | null | undefined = he.agent;
    if (agent === null || agent.key !== ua || agent.dropped) {
      agent = this.agents.get(ua);
      if (agent === undefined) {
        agent = new AgentEntry(detachString(ua));
        this.agents.insert(agent.key, agent);
      }
      if (c.byAgent || he.agent === null) {
        if (c.byAgent) hashLanes(host, agent.seedA, agent.seedB);
        else hashLanes(host, IP_SEED_A, IP_SEED_B);
        he.visitor = combine53(lanes.a, lanes.b);
        he.hour = NaN;
        this.visitors.add(he.visitor);
      }
      he.agent = agent;
    }
    agent.hits++;
    agent.bytes += bytes;

    const t = r.time as number | undefined;
    if (t === undefined) this.untimed++;
    else {
      if (t < this.firstTime) this.firstTime = t;
      if (t > this.lastTime) this.lastTime = t;
      const local = t + (c.offsetMs ?? ((r.tzOffset as number | undefined) ?? 0) * 60_000);
      const h = Math.floor(local / HOUR_MS);
      let hour = this.#hour;
      if (h !== this.#hourIndex || hour === null) {
        hour = this.hourBucket(h);
        this.#hour = hour;
        this.#hourIndex = h;
      }
      hour.hits++;
      hour.bytes += bytes;
      if (he.hour !== h) {
        hour.visitors.add(he.visitor);
        hour.day.visitors.add(he.visitor);
        he.hour = h;
      }
    }

    const key = c.keyOf(r);
    let req = this.paths.get(key);
    if (req === undefined) req = this.paths.insert(detachString(key), new RequestEntry(isStaticPath(r.path as string, c.staticExt)));
    req.hits++;
    req.bytes += bytes;

    const referer = r.referer as string | undefined;
    if (status === 404) {
      let nf = this.notFound.get(key);
      if (nf === undefined) nf = this.notFound.insert(detachString(key), new NotFoundEntry());
      nf.hits++;
      nf.bytes += bytes;
      const ref = referer ?? '-';
      const when = t ?? -Infinity;
      if (later(nf.lastTime, nf.lastReferrer, when, ref)) {
        nf.lastTime = when;
        nf.lastReferrer = detachString(ref);
      }
    }

    if (referer !== undefined && referer !== '-' && referer !== '') {
      let re: ReferrerEntry | null | undefined = he.referrer;
      if (re === null || re.key !== referer || re.dropped) {
        re = this.referrers.get(referer);
        if (re === undefined) {
          re = new ReferrerEntry(detachString(referer));
          this.referrers.insert(re.key, re);
        }
        he.referrer = re;
      }
      re.hits++;
      re.bytes += bytes;
    }

    this.sizes.add(bytes);
    const d = r.duration as number | undefined;
    if (d !== undefined) (this.durations ??= new TDigest()).add(d);
  }

  hourBucket(h: number): HourBucket {
    let hour = this.hours.get(h);
    if (hour === undefined) {
      const d = Math.floor(h / 24);
      let day = this.days.get(d);
      if (day === undefined) {
        day = new DayBucket();
        this.days.set(d, day);
      }
      hour = new HourBucket(day);
      this.hours.set(h, hour);
    }
    return hour;
  }

  mergeFrom(o: AccessLogState): this {
    this.requests += o.requests;
    this.bytes += o.bytes;
    this.untimed += o.untimed;
    if (o.firstTime < this.firstTime) this.firstTime = o.firstTime;
    if (o.lastTime > this.lastTime) this.lastTime = o.lastTime;
    for (let s = 0; s < 1000; s++) {
      if (o.statusHits[s] === 0) continue;
      this.statusHits[s]! += o.statusHits[s]!;
      this.statusBytes[s]! += o.statusBytes[s]!;
    }
    for (const [d, day] of o.days) {
      let mine = this.days.get(d);
      if (!mine) this.days.set(d, (mine = new DayBucket()));
      mine.visitors.merge(day.visitors);
    }
    for (const [h, hour] of o.hours) {
      const mine = this.hourBucket(h);
      mine.hits += hour.hits;
      mine.bytes += hour.bytes;
      mine.visitors.merge(hour.visitors);
    }
    this.visitors.merge(o.visitors);
    this.hosts.mergeFrom(o.hosts, () => new HostEntry());
    this.referrers.mergeFrom(o.referrers, (k) => new ReferrerEntry(k));
    this.agents.mergeFrom(o.agents, (k) => new AgentEntry(k));
    this.droppedStaticHits += o.droppedStaticHits;
    this.droppedStaticBytes += o.droppedStaticBytes;
    this.droppedInternalReferrerHits += o.droppedInternalReferrerHits;
    this.paths.mergeFrom(o.paths, (_k, e) => new RequestEntry(e.isStatic));
    this.notFound.mergeFrom(
      o.notFound,
      (_k, e) => {
        const n = new NotFoundEntry();
        n.lastTime = e.lastTime;
        n.lastReferrer = e.lastReferrer;
        return n;
      },
      (mine, e) => {
        if (later(mine.lastTime, mine.lastReferrer, e.lastTime, e.lastReferrer)) {
          mine.lastTime = e.lastTime;
          mine.lastReferrer = e.lastReferrer;
        }
      },
    );
    this.sizes.merge(o.sizes);
    if (o.durations) (this.durations ??= new TDigest()).merge(o.durations);
    this.#hour = null;
    return this;
  }

  /**
   * JSON with sketches as base64 strings and tables as flat arrays (key, hits, bytes, err, extra
   * fields), each table's floor, dropped totals and distinct sketch in `km`.
   */
  encode(): string {
    const st: number[] = [];
    for (let s = 0; s < 1000; s++) if (this.statusHits[s] !== 0) st.push(s, this.statusHits[s]!, this.statusBytes[s]!);
    const h: (number | string)[] = [];
    for (const [i, b] of this.hours) h.push(i, b.hits, b.bytes, b.visitors.encode());
    const d: (number | string)[] = [];
    for (const [i, b] of this.days) d.push(i, b.visitors.encode());
    const flat = <V extends TableEntry>(m: KeyTable<V>, f?: (v: V, out: (string | number)[]) => void) => {
      const out: (string | number)[] = [];
      for (const [k, v] of m.map) {
        out.push(k, v.hits, v.bytes, v.err);
        f?.(v, out);
      }
      return out;
    };
    return JSON.stringify({
      v: 2,
      n: this.requests,
      b: this.bytes,
      u: this.untimed,
      t0: Number.isFinite(this.firstTime) ? this.firstTime : null,
      t1: Number.isFinite(this.lastTime) ? this.lastTime : null,
      st,
      h,
      d,
      vis: this.visitors.encode(),
      rq: flat(this.paths, (e, o) => o.push(e.isStatic ? 1 : 0)),
      nf: flat(this.notFound, (e, o) => o.push(Number.isFinite(e.lastTime) ? e.lastTime : -1, e.lastReferrer)),
      ho: flat(this.hosts),
      ua: flat(this.agents),
      rf: flat(this.referrers),
      km: { rq: this.paths.encodeMeta(), nf: this.notFound.encodeMeta(), ho: this.hosts.encodeMeta(), ua: this.agents.encodeMeta(), rf: this.referrers.encodeMeta() },
      dx: [this.droppedStaticHits, this.droppedStaticBytes, this.droppedInternalReferrerHits],
      sz: this.sizes.encode(),
      du: this.durations ? this.durations.encode() : null,
    });
  }

  static decode(data: Buffer, config: AccessLogConfig): AccessLogState {
    const bad = (why: string) => new InvalidArgumentError(`analyze: malformed partial state (${why})`, { field: 'state' });
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw bad((err as Error).message);
    }
    if (o.v !== 2) throw bad(`version ${String(o.v)}`);
    const arr = (name: string, stride: number): unknown[] => {
      const a = o[name];
      if (!Array.isArray(a) || a.length % stride !== 0) throw bad(`${name} is not a list of ${stride}-tuples`);
      return a;
    };
    const num = (v: unknown) => {
      if (typeof v !== 'number') throw bad('a count is not a number');
      return v;
    };
    const str = (v: unknown) => {
      if (typeof v !== 'string') throw bad('a key is not a string');
      return v;
    };
    const s = new AccessLogState(config);
    s.requests = num(o.n);
    s.bytes = num(o.b);
    s.untimed = num(o.u);
    s.firstTime = o.t0 === null ? Infinity : num(o.t0);
    s.lastTime = o.t1 === null ? -Infinity : num(o.t1);
    const st = arr('st', 3);
    for (let i = 0; i < st.length; i += 3) {
      const code = num(st[i]);
      if (!Number.isInteger(code) || code < 0 || code >= 1000) throw bad('status out of range');
      s.statusHits[code] = num(st[i + 1]);
      s.statusBytes[code] = num(st[i + 2]);
    }
    const d = arr('d', 2);
    for (let i = 0; i < d.length; i += 2) {
      const day = new DayBucket();
      day.visitors.merge(HyperLogLog.decode(str(d[i + 1])));
      s.days.set(num(d[i]), day);
    }
    const h = arr('h', 4);
    for (let i = 0; i < h.length; i += 4) {
      const hour = s.hourBucket(num(h[i]));
      hour.hits = num(h[i + 1]);
      hour.bytes = num(h[i + 2]);
      hour.visitors.merge(HyperLogLog.decode(str(h[i + 3])));
    }
    s.visitors.merge(HyperLogLog.decode(str(o.vis)));
    const km = o.km as Record<string, unknown> | undefined;
    const table = <E extends TableEntry>(name: string, into: KeyTable<E>, stride: number, make: (k: string, a: unknown[], i: number) => E) => {
      const a = arr(name, stride);
      for (let i = 0; i < a.length; i += stride) {
        const k = str(a[i]);
        const e = make(k, a, i);
        e.hits = num(a[i + 1]);
        e.bytes = num(a[i + 2]);
        e.err = num(a[i + 3]);
        into.map.set(k, e);
      }
      const meta = km?.[name];
      if (!Array.isArray(meta) || meta.length !== 4) throw bad(`km.${name} is not a table's meta`);
      into.decodeMeta([num(meta[0]), num(meta[1]), num(meta[2]), meta[3] === null ? null : str(meta[3])]);
      into.settle();
    };
    const dx = arr('dx', 3);
    s.droppedStaticHits = num(dx[0]);
    s.droppedStaticBytes = num(dx[1]);
    s.droppedInternalReferrerHits = num(dx[2]);
    table('rq', s.paths, 5, (_k, a, i) => new RequestEntry(a[i + 4] === 1));
    table('nf', s.notFound, 6, (_k, a, i) => {
      const e = new NotFoundEntry();
      const t = num(a[i + 4]);
      e.lastTime = t < 0 ? -Infinity : t;
      e.lastReferrer = str(a[i + 5]);
      return e;
    });
    table('ho', s.hosts, 4, () => new HostEntry());
    table('ua', s.agents, 4, (k) => new AgentEntry(k));
    table('rf', s.referrers, 4, (k) => new ReferrerEntry(k));
    s.sizes.merge(TDigest.decode(str(o.sz)));
    if (o.du !== null && o.du !== undefined) s.durations = TDigest.decode(str(o.du));
    return s;
  }
}
