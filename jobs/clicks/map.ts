/**
 * The map side of clicks: which records are clicks (counting the others by reason), and a click
 * as the engine shuffles it: the visitor's key, the time as a sort key, and (time, page) as value.
 */
import type { FieldName, LogRecord } from '../../src/logs/index.ts';
import type { Config } from './config.ts';

/** Values carry the time as 6 unsigned bytes biased by 2^47 ms (±4,400 years), then the page. */
export const TIME_BIAS = 2 ** 47;
const SORT_BIAS = 2 ** 52;

/** 8-byte big-endian sort key: the time biased to stay unsigned, so byte order is time order. */
function sortKeyOf(time: number): Buffer {
  const u = time + SORT_BIAS;
  const out = Buffer.allocUnsafe(8);
  out.writeUInt32BE(Math.floor(u / 4294967296), 0);
  out.writeUInt32BE(u >>> 0, 4);
  return out;
}

/** The shuffled value: 6-byte biased time, then the page in UTF-8 (bytes order as (time, page)). */
function valueOf(time: number, page: string): Buffer {
  const n = Buffer.byteLength(page, 'utf8');
  const out = Buffer.allocUnsafe(6 + n);
  out.writeUIntBE(time + TIME_BIAS, 0, 6);
  out.write(page, 6, 'utf8');
  return out;
}

export type Rec = LogRecord<FieldName> & { userAgent?: string; query?: string };

export function mapClick(record: Rec, emit: (key: string, sortKey: Buffer, value: Buffer) => void, count: (name: string) => void, c: Config): void {
  const time = record.time;
  // A time the 6-byte value cannot hold (outside the years -2490..6429) is as good as none.
  if (typeof time !== 'number' || !(time >= -TIME_BIAS && time < TIME_BIAS)) return count('skipped_untimed');
  if (c.methods !== null && !c.methods.has(record.method)) return count('skipped_method');
  if (c.statuses[record.status] !== 1) return count('skipped_status');
  const path = record.path;
  if (c.isStatic(path)) return count('skipped_static');
  const ua = record.userAgent ?? '';
  const agent = c.agents.entry(ua);
  if (!c.crawlers && agent.crawler) return count('skipped_crawler');
  const page = c.withQuery && record.query ? `${path}?${record.query}` : path;
  const key = c.agents.key(agent, record.host, ua);
  emit(key, sortKeyOf(time), valueOf(time, page));
  count('clicks');
}
