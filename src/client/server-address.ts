import { InvalidArgumentError } from '../errors.ts';
import { DEFAULT_PORT } from '../protocol/packet-types.ts';

/** One job server: where to connect, and the `host:port` text used in messages and events. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  /** `host:port` (`[v6]:port` for IPv6 literals); stable identifier in events and errors. */
  readonly id: string;
}

export const DEFAULT_SERVER = `127.0.0.1:${DEFAULT_PORT}`;

/**
 * Parse `host`, `host:port`, `[v6]` or `[v6]:port`. A bare IPv6 literal with several colons is
 * taken as a host without a port (libgearman does the same).
 */
export function parseServerAddress(text: string, field = 'servers'): ServerAddress {
  const s = text.trim();
  if (s.length === 0) throw new InvalidArgumentError(`${field}: empty server address`, { field });
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close === -1) throw new InvalidArgumentError(`${field}: unterminated '[' in ${JSON.stringify(s)}`, { field });
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest.length > 0) {
      if (!rest.startsWith(':')) throw new InvalidArgumentError(`${field}: bad server address ${JSON.stringify(s)}`, { field });
      portText = rest.slice(1);
    }
  } else {
    const first = s.indexOf(':');
    if (first !== -1 && first === s.lastIndexOf(':')) {
      host = s.slice(0, first);
      portText = s.slice(first + 1);
    } else {
      host = s;
    }
  }
  let port = DEFAULT_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new InvalidArgumentError(`${field}: bad port in ${JSON.stringify(s)} (expected 1-65535)`, { field });
    }
    port = Number(portText);
  }
  if (host.length === 0) throw new InvalidArgumentError(`${field}: missing host in ${JSON.stringify(s)}`, { field });
  return Object.freeze({ host, port, id: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` });
}

/**
 * A server list: an array of addresses, or one string with commas (gearmand's `GEARMAN_SERVERS`
 * form, `h1:4730,h2:4730`). Duplicates are dropped; order is kept (it decides unique-key hashing).
 */
export function parseServerList(input: string | readonly string[] | undefined, field = 'servers'): ServerAddress[] {
  const items = input === undefined ? [DEFAULT_SERVER] : typeof input === 'string' ? input.split(',') : input.flatMap((s) => s.split(','));
  const out: ServerAddress[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    if (item.trim().length === 0) continue;
    const addr = parseServerAddress(item, field);
    if (!seen.has(addr.id)) {
      seen.add(addr.id);
      out.push(addr);
    }
  }
  if (out.length === 0) throw new InvalidArgumentError(`${field}: no server given`, { field });
  return out;
}
