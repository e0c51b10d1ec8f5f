/**
 * The job-server list of a command: `--servers h:p[,h:p…]`, else `-h HOST`/`-p PORT` (the gearman
 * tools' flags), else `GEARMAN_SERVERS` or `GEARMAN_SERVER` from the environment, else
 * 127.0.0.1:4730. Explicit flags win over the environment (gearman's CLI lets GEARMAN_SERVER win
 * over -h/-p, which surprises; geartrain does not copy that).
 */
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
  '  -S                   use TLS',
].join('\n');
