/**
 * The job-server list of a command: `--servers h:p[,h:p…]`, else `-h HOST`/`-p PORT` (the gearman
 * tools' flags), else `GEARMAN_SERVERS` or `GEARMAN_SERVER` from the environment, else
 * 127.0.0.1:4730. Explicit flags win over the environment (gearman's CLI lets GEARMAN_SERVER win
 * over -h/-p, which surprises; geartrain does not copy that).
 */
import fs from 'node:fs';
import type tls from 'node:tls';
import { InvalidArgumentError } from '../errors.ts';
import { DEFAULT_SERVER, parseServerAddress, parseServerList } from '../client/server-address.ts';
import { DEFAULT_PORT } from '../protocol/packet-types.ts';

export interface ServerFlags {
  readonly servers?: string | undefined;
  readonly host?: string | undefined;
  readonly port?: string | undefined;
}

/** `host:port` strings, validated, in the order given. */
export function resolveServers(flags: ServerFlags, env: NodeJS.ProcessEnv): string[] {
  if (flags.servers !== undefined) {
    if (flags.host !== undefined || flags.port !== undefined) {
      throw new InvalidArgumentError("use either --servers or -h/-p, not both", { field: 'servers' });
    }
    return parseServerList(flags.servers, '--servers').map((s) => s.id);
  }
  if (flags.host !== undefined || flags.port !== undefined) {
    const host = flags.host ?? '127.0.0.1';
    const port = flags.port ?? String(DEFAULT_PORT);
    if (!/^\d+$/.test(port)) throw new InvalidArgumentError(`-p: bad port ${JSON.stringify(port)}`, { field: 'port' });
    const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    return [parseServerAddress(`${hostPart}:${port}`, '-h/-p').id];
  }
  const fromEnv = env.GEARMAN_SERVERS ?? env.GEARMAN_SERVER;
  if (fromEnv !== undefined && fromEnv.trim().length > 0) {
    const name = env.GEARMAN_SERVERS !== undefined ? 'GEARMAN_SERVERS' : 'GEARMAN_SERVER';
    return parseServerList(fromEnv, name).map((s) => s.id);
  }
  return [DEFAULT_SERVER];
}

/** Help text lines for the server flags, shared by the commands. */
export const SERVER_FLAGS_HELP = [
  '  -h HOST              job server host (default 127.0.0.1)',
  '  -p PORT              job server port (default 4730)',
  '  --servers H:P[,H:P]  several job servers (else GEARMAN_SERVERS / GEARMAN_SERVER)',
  '  -S, --ssl            use TLS (implied by the --ssl-* flags)',
  '  --ssl-ca-file F      CA of the server\'s certificate (else GEARMAND_CA_CERTIFICATE, else the system CAs)',
  '  --ssl-certificate F  client certificate, PEM (else GEARMAN_CLIENT_PEM); with --ssl-key',
  '  --ssl-key F          its private key (else GEARMAN_CLIENT_KEY)',
].join('\n');

/** parseArgs options of the server flags: gearman's `-h HOST -p PORT`, and `--servers`. */
export const SERVER_OPTIONS = {
  host: { type: 'string', short: 'h' },
  port: { type: 'string', short: 'p' },
  servers: { type: 'string' },
} as const;

/** parseArgs options of the TLS flags (gearman's `-S`, plus files for client certificates). */
export const TLS_OPTIONS = {
  ssl: { type: 'boolean', short: 'S' },
  'ssl-ca-file': { type: 'string' },
  'ssl-certificate': { type: 'string' },
  'ssl-key': { type: 'string' },
} as const;

export interface TlsFlags {
  readonly ssl?: boolean | undefined;
  readonly 'ssl-ca-file'?: string | undefined;
  readonly 'ssl-certificate'?: string | undefined;
  readonly 'ssl-key'?: string | undefined;
}

/** Which flags (and environment variables, if any) give a TLS connection's settings. */
export interface TlsFlagNames {
  readonly on: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly env?: { readonly ca: string; readonly cert: string; readonly key: string };
}

/** The client commands' `-S --ssl-ca-file --ssl-certificate --ssl-key`, with libgearman's variables. */
export const CLIENT_TLS_FLAGS: TlsFlagNames = {
  on: 'ssl',
  ca: 'ssl-ca-file',
  cert: 'ssl-certificate',
  key: 'ssl-key',
  env: { ca: 'GEARMAND_CA_CERTIFICATE', cert: 'GEARMAN_CLIENT_PEM', key: 'GEARMAN_CLIENT_KEY' },
};

/**
 * TLS settings of a client command, or undefined for plain text. `-S` (or any `--ssl-*` file flag)
 * turns TLS on; files come from the flags, else from libgearman's variables
 * (GEARMAND_CA_CERTIFICATE, GEARMAN_CLIENT_PEM, GEARMAN_CLIENT_KEY), which alone do not turn TLS on.
 * `names` puts the same rules on other flags (the server's `--relay-ssl-*`).
 */
export function resolveTls(flags: TlsFlags | Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv, names: TlsFlagNames = CLIENT_TLS_FLAGS): tls.ConnectionOptions | undefined {
  const values = flags as Readonly<Record<string, unknown>>;
  const str = (flag: string) => values[flag] as string | undefined;
  const on = values[names.on] === true || str(names.ca) !== undefined || str(names.cert) !== undefined || str(names.key) !== undefined;
  if (!on) return undefined;
  const pick = (flag: string, variable: string | undefined) =>
    str(flag) !== undefined ? { file: str(flag)!, from: `--${flag}` } : variable && env[variable] ? { file: env[variable]!, from: variable } : undefined;
  const ca = pick(names.ca, names.env?.ca);
  const cert = pick(names.cert, names.env?.cert);
  const key = pick(names.key, names.env?.key);
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? names.cert : names.key;
    throw new InvalidArgumentError(`a client certificate needs both --${names.cert} and --${names.key} (--${missing} is missing)`, { field: missing });
  }
  const read = (p: { file: string; from: string }) => {
    try {
      return fs.readFileSync(p.file);
    } catch (err) {
      throw new InvalidArgumentError(`${p.from}: cannot read ${p.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { field: p.from.replace(/^--/, ''), cause: err });
    }
  };
  return {
    ...(ca ? { ca: read(ca) } : {}),
    ...(cert && key ? { cert: read(cert), key: read(key) } : {}),
  };
}
