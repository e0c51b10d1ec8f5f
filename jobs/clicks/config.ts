/**
 * The clicks job's parameters, and what they mean once checked: which requests are clicks, who a
 * visitor is, when a session ends, the zone of its day and the funnel's steps (one Config per
 * parameter object).
 */
import { z } from 'zod';
import { DEFAULT_STATIC_EXTENSIONS, isStaticPath } from '../../src/report/web-terms.ts';
import { wildcardRegExp } from '../../src/wildcard.ts';
import { Agents } from './visitors.ts';

const STATUS_SPEC = /^\s*(?:[1-5]xx|\d{3}(?:\s*-\s*\d{3})?)(?:\s*,\s*(?:[1-5]xx|\d{3}(?:\s*-\s*\d{3})?))*\s*$/i;
const TZ = /^(?:UTC|Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)$/;

export const params = z.object({
  /** Minutes without a click that end a session. */
  timeout: z.number().positive().max(7 * 24 * 60).default(30),
  visitor: z.enum(['ip+agent', 'ip']).default('ip+agent'),
  /** Comma list of methods that count as clicks, or `*`. */
  methods: z.string().default('GET,POST').refine((v) => v.trim() === '*' || v.split(',').every((m) => /^[A-Za-z]+$/.test(m.trim())), {
    message: 'methods: a comma list such as GET,POST, or *',
  }),
  /** Statuses that count as clicks: codes, classes (2xx) and ranges (200-299). */
  status: z.string().default('2xx,304').refine((v) => STATUS_SPEC.test(v), { message: 'status: a comma list of codes, classes and ranges, e.g. 2xx,304 or 200-399' }),
  crawlers: z.enum(['exclude', 'include']).default('exclude'),
  /** Comma list replacing the static-file extensions (as analyze's --static-ext). */
  staticExtensions: z.string().optional(),
  pageKey: z.enum(['path', 'path+query']).default('path'),
  timezone: z.string().default('UTC').refine((v) => TZ.test(v), { message: 'timezone: UTC or an offset such as +02:00' }),
  /** Ordered funnel steps, comma separated globs over the page. */
  funnel: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.split(',').every((s) => s.trim() !== ''), { message: "funnel: comma separated page globs, e.g. '/,/product/*,/cart,/checkout'" }),
  /** Rows kept per top list. */
  limit: z.number().int().min(1).max(100_000).default(20),
});
export type Params = z.infer<typeof params>;

export const DAY_MS = 86_400_000;

export interface Config {
  readonly timeoutMs: number;
  readonly methods: ReadonlySet<string> | null;
  readonly statuses: Uint8Array;
  readonly staticExt: ReadonlySet<string>;
  /** Whether a path is a static file (one of `staticExt`). */
  readonly isStatic: (path: string) => boolean;
  readonly crawlers: boolean;
  readonly byAgent: boolean;
  readonly withQuery: boolean;
  readonly offsetMs: number;
  readonly funnel: readonly RegExp[];
  readonly agents: Agents;
}

const configs = new WeakMap<object, Config>();

function statusTable(spec: string): Uint8Array {
  const t = new Uint8Array(1000);
  for (const raw of spec.split(',')) {
    const part = raw.trim().toLowerCase();
    let lo: number;
    let hi: number;
    if (part.endsWith('xx')) {
      lo = Number(part[0]) * 100;
      hi = lo + 99;
    } else if (part.includes('-')) {
      [lo, hi] = part.split('-').map((x) => Number(x.trim())) as [number, number];
    } else lo = hi = Number(part);
    for (let s = Math.max(0, lo); s <= Math.min(999, hi); s++) t[s] = 1;
  }
  return t;
}

function offsetOf(tz: string): number {
  if (tz === 'UTC' || tz === 'Z') return 0;
  const m = /^([+-])(\d\d):?(\d\d)$/.exec(tz)!;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
}

export function funnelSteps(p: Params): string[] {
  return p.funnel === undefined ? [] : p.funnel.split(',').map((s) => s.trim());
}

export function configOf(p: Params): Config {
  let c = configs.get(p);
  if (c) return c;
  const ext = p.staticExtensions !== undefined ? p.staticExtensions.split(',').map((e) => e.trim().replace(/^\./, '').toLowerCase()).filter(Boolean) : DEFAULT_STATIC_EXTENSIONS;
  const staticExt = new Set(ext);
  c = {
    timeoutMs: p.timeout * 60_000,
    methods: p.methods.trim() === '*' ? null : new Set(p.methods.split(',').map((m) => m.trim().toUpperCase())),
    statuses: statusTable(p.status),
    staticExt,
    isStatic: (path) => isStaticPath(path, staticExt),
    crawlers: p.crawlers === 'include',
    byAgent: p.visitor === 'ip+agent',
    withQuery: p.pageKey === 'path+query',
    offsetMs: offsetOf(p.timezone),
    funnel: funnelSteps(p).map(wildcardRegExp),
    agents: new Agents(p.visitor === 'ip+agent'),
  };
  configs.set(p, c);
  return c;
}
