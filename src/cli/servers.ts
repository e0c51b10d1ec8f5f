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

/**
 * TLS settings of a client command, or undefined for plain text. `-S` (or any `--ssl-*` file flag)
 * turns TLS on; files come from the flags, else from libgearman's variables
 * (GEARMAND_CA_CERTIFICATE, GEARMAN_CLIENT_PEM, GEARMAN_CLIENT_KEY), which alone do not turn TLS on.
 */
export function resolveTls(flags: TlsFlags, env: NodeJS.ProcessEnv): tls.ConnectionOptions | undefined {
  const on = flags.ssl === true || flags['ssl-ca-file'] !== undefined || flags['ssl-certificate'] !== undefined || flags['ssl-key'] !== undefined;
  if (!on) return undefined;
  const pick = (flag: 'ssl-ca-file' | 'ssl-certificate' | 'ssl-key', variable: string) =>
    flags[flag] !== undefined ? { file: flags[flag]!, from: `--${flag}` } : env[variable] ? { file: env[variable]!, from: variable } : undefined;
  const ca = pick('ssl-ca-file', 'GEARMAND_CA_CERTIFICATE');
  const cert = pick('ssl-certificate', 'GEARMAN_CLIENT_PEM');
  const key = pick('ssl-key', 'GEARMAN_CLIENT_KEY');
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? '--ssl-certificate' : '--ssl-key';
    throw new InvalidArgumentError(`a client certificate needs both --ssl-certificate and --ssl-key (${missing} is missing)`, { field: missing.slice(2) });
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
