/**
 * Admin commands of the result cache:
 *
 * - `cache`: one line per kept result, least recently used first:
 *   `FUNCTION\tUNIQUE\tBYTES\tAGE_SECONDS\tHITS`, then `.` (tabs, newlines and backslashes in
 *   the unique key are written `\t`, `\n`, `\\`).
 * - `cache stats`: `NAME\tVALUE` lines (entries, bytes, max_bytes, ttl_seconds, hits, misses,
 *   stores, evictions, expired, too_large), then `.`.
 * - `cache flush [FUNC]`: drop every entry, or those of FUNC (a glob); answers `OK N`, N the
 *   number dropped. Changes state: loopback, `auth TOKEN` or a tenants-file certificate.
 *
 * A tenant's connection sees and flushes only its own functions' entries, under its own names.
 * src/protocol/admin.ts `replyShape` knows `cache` and `cache stats` as listings and
 * `cache flush` as a line.
 */
import type { Connection } from './connection.ts';
import type { ServerCore } from './core.ts';
import { wildcardRegExp } from '../wildcard.ts';
import type { CacheEntry } from './result-cache.ts';
import { qualify } from './tenants.ts';

const DISABLED = 'ERR CACHE_DISABLED the+result+cache+is+off+(geartrain+server+--result-cache)\r\n';

export function cacheCommand(core: ServerCore, conn: Connection, tokens: readonly string[]): string {
  const cache = core.resultCache;
  if (!cache) return DISABLED;
  const sub = (tokens[1] ?? '').toLowerCase();
  const mine = (e: CacheEntry) => conn.tenant === null || e.owner === conn.tenant;
  if (sub === '') {
    const now = Date.now();
    let out = '';
    for (const e of cache.entries()) {
      if (!mine(e)) continue;
      const name = conn.tenant === null ? e.functionName : e.localName;
      out += `${name}\t${escapeField(e.unique)}\t${e.bytes}\t${Math.floor((now - e.storedAt) / 1000)}\t${e.hits}\n`;
    }
    return out + '.\n';
  }
  if (sub === 'stats') {
    let entries = 0;
    let bytes = 0;
    for (const e of cache.entries()) {
      if (!mine(e)) continue;
      entries++;
      bytes += e.bytes;
    }
    const s = cache.stats;
    const rows: [string, string | number][] = [
      ['entries', entries],
      ['bytes', bytes],
      ['max_bytes', cache.config.maxBytes],
      ['ttl_seconds', cache.config.ttlSeconds ?? '-'],
    ];
    // Hit and miss counters are the server's, not a tenant's: shown to unscoped peers only.
    if (conn.tenant === null) {
      rows.push(['hits', s.hits], ['misses', s.misses], ['stores', s.stores], ['evictions', s.evictions], ['expired', s.expired], ['too_large', s.tooLarge]);
    }
    return rows.map(([k, v]) => `${k}\t${v}\n`).join('') + '.\n';
  }
  if (sub === 'flush') {
    const pattern = tokens[2];
    const re = pattern === undefined ? null : wildcardRegExp(qualify(conn, pattern));
    const n = cache.flush((e) => mine(e) && (re === null || re.test(e.functionName)));
    return `OK ${n}\r\n`;
  }
  return 'ERR UNKNOWN_CACHE_COMMAND expected+cache,+cache+stats+or+cache+flush+[FUNC]\r\n';
}

function escapeField(text: string): string {
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}
