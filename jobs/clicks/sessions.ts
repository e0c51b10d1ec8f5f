/**
 * The reduce side of clicks: one visitor's clicks in time order cut into sessions, folded into a
 * state of exact counts (maps and histograms) that merges by adding.
 */
import { DAY_MS, type Config } from './config.ts';
import { TIME_BIAS } from './map.ts';

export class DayTally {
  sessions = 0;
  pageViews = 0;
  visitors = 0;
}

export class ClicksState {
  visitors = 0;
  sessions = 0;
  pageViews = 0;
  bounces = 0;
  durationSum = 0;
  firstTime = Infinity;
  lastTime = -Infinity;
  /** pages in a session → sessions */
  readonly pages = new Map<number, number>();
  /** duration in whole seconds → sessions */
  readonly durations = new Map<number, number>();
  /** day index (in the configured zone) → tallies of the sessions that start that day */
  readonly days = new Map<number, DayTally>();
  readonly entry = new Map<string, number>();
  readonly exit = new Map<string, number>();
  /** page → next page → clicks */
  readonly paths = new Map<string, Map<string, number>>();
  /** sessions that reached step k (k = 0..steps-1) */
  funnel: number[];

  constructor(steps: number) {
    this.funnel = new Array<number>(steps).fill(0);
  }

  mergeFrom(o: ClicksState): this {
    this.visitors += o.visitors;
    this.sessions += o.sessions;
    this.pageViews += o.pageViews;
    this.bounces += o.bounces;
    this.durationSum += o.durationSum;
    this.firstTime = Math.min(this.firstTime, o.firstTime);
    this.lastTime = Math.max(this.lastTime, o.lastTime);
    addAll(this.pages, o.pages);
    addAll(this.durations, o.durations);
    for (const [d, t] of o.days) {
      const mine = this.days.get(d);
      if (!mine) this.days.set(d, Object.assign(new DayTally(), t));
      else {
        mine.sessions += t.sessions;
        mine.pageViews += t.pageViews;
        mine.visitors += t.visitors;
      }
    }
    addAll(this.entry, o.entry);
    addAll(this.exit, o.exit);
    for (const [from, next] of o.paths) {
      const mine = this.paths.get(from);
      if (!mine) this.paths.set(from, new Map(next));
      else addAll(mine, next);
    }
    for (let i = 0; i < this.funnel.length; i++) this.funnel[i]! += o.funnel[i] ?? 0;
    return this;
  }

  encode(): string {
    return JSON.stringify({
      v: 1,
      n: [this.visitors, this.sessions, this.pageViews, this.bounces, this.durationSum],
      t: [Number.isFinite(this.firstTime) ? this.firstTime : null, Number.isFinite(this.lastTime) ? this.lastTime : null],
      pages: [...this.pages],
      durations: [...this.durations],
      days: [...this.days].map(([d, t]) => [d, t.sessions, t.pageViews, t.visitors]),
      entry: [...this.entry],
      exit: [...this.exit],
      paths: [...this.paths].map(([from, next]) => [from, [...next]]),
      funnel: this.funnel,
    });
  }

  static decode(data: Buffer, steps: number): ClicksState {
    const j = JSON.parse(data.toString('utf8')) as {
      n: [number, number, number, number, number];
      t: [number | null, number | null];
      pages: [number, number][];
      durations: [number, number][];
      days: [number, number, number, number][];
      entry: [string, number][];
      exit: [string, number][];
      paths: [string, [string, number][]][];
      funnel: number[];
    };
    const s = new ClicksState(steps);
    [s.visitors, s.sessions, s.pageViews, s.bounces, s.durationSum] = j.n;
    s.firstTime = j.t[0] ?? Infinity;
    s.lastTime = j.t[1] ?? -Infinity;
    for (const [k, v] of j.pages) s.pages.set(k, v);
    for (const [k, v] of j.durations) s.durations.set(k, v);
    for (const [d, sessions, pageViews, visitors] of j.days) s.days.set(d, Object.assign(new DayTally(), { sessions, pageViews, visitors }));
    for (const [k, v] of j.entry) s.entry.set(k, v);
    for (const [k, v] of j.exit) s.exit.set(k, v);
    for (const [from, next] of j.paths) s.paths.set(from, new Map(next));
    for (let i = 0; i < steps; i++) s.funnel[i] = j.funnel[i] ?? 0;
    return s;
  }
}

function addAll<K>(into: Map<K, number>, from: ReadonlyMap<K, number>): void {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
}

function bump<K>(m: Map<K, number>, k: K, n = 1): void {
  m.set(k, (m.get(k) ?? 0) + n);
}

/** Folds one visitor's clicks (values in sortKey order) into the state. */
export function reduceVisitor(state: ClicksState, values: readonly Buffer[], c: Config): void {
  if (values.length === 0) return;
  // The engine orders by time only; clicks in the same millisecond are put in page order here.
  let sorted = values;
  for (let i = 1; i < values.length; i++) {
    if (Buffer.compare(values[i - 1]!, values[i]!) > 0) {
      sorted = [...values].sort(Buffer.compare);
      break;
    }
  }
  state.visitors++;
  const seenDays = new Set<number>();
  const steps = c.funnel;
  let first = 0;
  let prevTime = 0;
  let prevPage = '';
  let n = 0;
  let step = 0;
  const close = (end: number, lastPage: string) => {
    state.sessions++;
    state.pageViews += n;
    if (n === 1) state.bounces++;
    bump(state.pages, n);
    const seconds = Math.floor((end - first) / 1000);
    state.durationSum += seconds;
    bump(state.durations, seconds);
    const day = Math.floor((first + c.offsetMs) / DAY_MS);
    let t = state.days.get(day);
    if (!t) state.days.set(day, (t = new DayTally()));
    t.sessions++;
    t.pageViews += n;
    if (!seenDays.has(day)) {
      seenDays.add(day);
      t.visitors++;
    }
    bump(state.exit, lastPage);
    for (let k = 0; k < step; k++) state.funnel[k]!++;
    if (first < state.firstTime) state.firstTime = first;
    if (end > state.lastTime) state.lastTime = end;
  };
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i]!;
    const time = v.readUIntBE(0, 6) - TIME_BIAS;
    const page = v.toString('utf8', 6);
    if (i === 0 || time - prevTime > c.timeoutMs) {
      if (i > 0) close(prevTime, prevPage);
      first = time;
      n = 0;
      step = 0;
      bump(state.entry, page);
    } else {
      let next = state.paths.get(prevPage);
      if (!next) state.paths.set(prevPage, (next = new Map()));
      bump(next, page);
    }
    n++;
    if (step < steps.length && steps[step]!.test(page)) step++;
    prevTime = time;
    prevPage = page;
  }
  close(prevTime, prevPage);
}
