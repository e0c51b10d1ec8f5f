/**
 * What an event hook is (`geartrain server --hook 'on=complete,fail function=resize* url=http://…'`)
 * and the JSON event it receives when a job ends.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.ts';
import { splitList } from './function-pattern.ts';

export const HOOK_OUTCOMES = ['complete', 'fail', 'exception'] as const;
export type HookOutcome = (typeof HOOK_OUTCOMES)[number];

export const DEFAULT_HOOK_RETRIES = 3;
export const DEFAULT_HOOK_TIMEOUT_MS = 5000;
export const DEFAULT_HOOK_BACKLOG = 1000;
export const DEFAULT_HOOK_CONCURRENCY = 4;

export const hookSchema = z
  .strictObject({
    /** Outcomes that fire the hook (default: all three). */
    on: z.array(z.enum(HOOK_OUTCOMES)).min(1).default([...HOOK_OUTCOMES]),
    /** Function names or globs (default: every function). */
    functions: z.array(z.string().min(1)).min(1).default(['*']),
    /** POST the event as JSON here. */
    url: z
      .string()
      .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'expected an http:// or https:// URL')
      .optional(),
    /** Run this through /bin/sh with the event as JSON on its stdin (exit 0 = delivered). */
    command: z.string().min(1).optional(),
    /** Further attempts after a failed one (connection refused, timeout, 5xx, 429, non-zero exit). */
    retries: z.number().int().min(0).max(20).default(DEFAULT_HOOK_RETRIES),
    /** One attempt may take this long. */
    timeoutMs: z.number().int().min(1).max(600_000).default(DEFAULT_HOOK_TIMEOUT_MS),
    /** Events waiting for delivery at most; later ones are dropped and counted. */
    backlog: z.number().int().min(1).max(10_000_000).default(DEFAULT_HOOK_BACKLOG),
    /** Deliveries in flight at once. */
    concurrency: z.number().int().min(1).max(256).default(DEFAULT_HOOK_CONCURRENCY),
    /**
     * Events per delivery at most: above 1, a POST carries a JSON array of the waiting events (up
     * to this many) and a command gets one JSON line per event. 1 = one event, one JSON object.
     */
    batch: z.number().int().min(1).max(10_000).default(1),
  })
  .refine((h) => (h.url === undefined) !== (h.command === undefined), { message: 'a hook needs exactly one of url= or command=', path: ['url'] });

export type HookConfigInput = z.input<typeof hookSchema>;
export type HookConfig = z.output<typeof hookSchema>;

/** The JSON body a hook receives. Times are ISO 8601 (UTC). */
export interface JobEndEvent {
  readonly event: 'job.end';
  /** The server's relay/hook id (random per process). */
  readonly server: string;
  readonly handle: string;
  /** The server-side function name (a tenant's functions carry its `tenant/` prefix). */
  readonly function: string;
  readonly tenant: string | null;
  /** The unique key as submitted ('' when none). */
  readonly unique: string;
  readonly status: HookOutcome;
  readonly background: boolean;
  /** Why the server ended the job itself (cancelled, retries used up, relay trouble); absent otherwise. */
  readonly reason?: string;
  readonly submitted: string;
  /** When the last attempt started (null: it never reached a worker). */
  readonly started: string | null;
  readonly ended: string;
  /** Attempts whose worker vanished before this end. */
  readonly retries: number;
}

const FIELDS = ['on', 'function', 'url', 'command', 'retries', 'timeout', 'backlog', 'concurrency', 'batch'] as const;

/** Whether a command-line word starts a hook field (`on=…`, `url=…`, …). */
export function isHookField(word: string): boolean {
  return FIELDS.some((f) => word.startsWith(f + '='));
}

/**
 * A `--hook` value: `key=value` fields separated by spaces, in one word or several; `command=`
 * takes the rest of its word, spaces included. `timeout` is in seconds.
 */
export function parseHookSpec(words: readonly string[], flag = '--hook'): HookConfig {
  const fields: [string, string][] = [];
  for (const word of words) {
    const at = /(?:^|\s)command=/.exec(word);
    const head = at ? word.slice(0, at.index) : word;
    for (const part of head.split(/\s+/).filter((p) => p.length > 0)) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new InvalidArgumentError(`${flag}: expected key=value, got ${JSON.stringify(part)}`, { field: 'hook' });
      fields.push([part.slice(0, eq), part.slice(eq + 1)]);
    }
    if (at) fields.push(['command', word.slice(at.index + at[0].length).trim()]);
  }
  const raw: Record<string, unknown> = {};
  for (const [key, value] of fields) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      throw new InvalidArgumentError(`${flag}: unknown field ${JSON.stringify(key)} (${FIELDS.join(', ')})`, { field: `hook.${key}` });
    }
    if (key in raw || (key === 'function' && 'functions' in raw)) throw new InvalidArgumentError(`${flag}: ${key}= given twice`, { field: `hook.${key}` });
    switch (key) {
      case 'on':
        raw.on = splitList(value);
        break;
      case 'function':
        raw.functions = splitList(value);
        break;
      case 'timeout':
        raw.timeoutMs = Math.round(Number(value) * 1000);
        break;
      case 'retries':
      case 'backlog':
      case 'concurrency':
      case 'batch':
        raw[key] = Number(value);
        break;
      default:
        raw[key] = value;
    }
  }
  const parsed = hookSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join('.');
    const name = path === 'functions' ? 'function' : path === 'timeoutMs' ? 'timeout' : path.split('.')[0];
    throw new InvalidArgumentError(`${flag}: ${name ? `${name}=: ` : ''}${issue.message}`, { field: `hook.${name ?? ''}` });
  }
  return parsed.data;
}
