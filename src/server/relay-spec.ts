/**
 * Relay rules (`geartrain server --relay FUNC[,FUNC…]=host:port[,host:port…]`) and the client id
 * a relaying server presents to the next one (`SET_CLIENT_ID geartrain-relay:<id>,<id>…`): the
 * ids of the servers a job has passed through, so a job coming back to one of them is refused.
 */
import { z } from 'zod';
import { parseServerAddress } from '../client/server-address.ts';
import { InvalidArgumentError } from '../errors.ts';
import { splitList } from './function-pattern.ts';

export const relayRuleSchema = z.strictObject({
  /** Function names or globs whose jobs are relayed when no local worker can do them. */
  functions: z.array(z.string().min(1)).min(1, 'name at least one function'),
  /** `host:port` of the servers to relay to (the client library's hashing and failover apply). */
  servers: z
    .array(
      z.string().superRefine((s, ctx) => {
        try {
          parseServerAddress(s, 'server');
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      }),
    )
    .min(1, 'name at least one server'),
});

export type RelayRuleInput = z.input<typeof relayRuleSchema>;
export type RelayRule = z.output<typeof relayRuleSchema>;

/** `resize,thumb*=10.0.0.2:4730,10.0.0.3:4730` → a rule. */
export function parseRelaySpec(text: string, flag = '--relay'): RelayRule {
  const eq = text.lastIndexOf('=');
  if (eq <= 0 || eq === text.length - 1) {
    throw new InvalidArgumentError(`${flag}: expected FUNC=host:port[,host:port], got ${JSON.stringify(text)}`, { field: 'relay' });
  }
  const parsed = relayRuleSchema.safeParse({ functions: splitList(text.slice(0, eq)), servers: splitList(text.slice(eq + 1)) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidArgumentError(`${flag} ${text}: ${issue.message}`, { field: 'relay' });
  }
  return parsed.data;
}

/** Client ids of relay connections start with this. */
export const RELAY_CLIENT_PREFIX = 'geartrain-relay:';
/** Servers a job may pass through; a longer path is not relayed further (the id must fit in 127 bytes). */
export const MAX_RELAY_HOPS = 8;

export function relayClientId(hops: readonly string[]): string {
  return RELAY_CLIENT_PREFIX + hops.join(',');
}

/** The hop list a connection's client id carries, or null for a connection that is not a relay. */
export function hopsOf(clientId: string): string[] | null {
  if (!clientId.startsWith(RELAY_CLIENT_PREFIX)) return null;
  return clientId.slice(RELAY_CLIENT_PREFIX.length).split(',').filter((h) => h.length > 0);
}

export interface RelayStats {
  /** Jobs submitted to a remote server (attempts). */
  relayed: number;
  completed: number;
  /** Foreground jobs that ended with WORK_FAIL/WORK_EXCEPTION there, or whose relay failed. */
  failed: number;
  /** Background jobs a remote server acknowledged (their local rows are removed). */
  handedOver: number;
  /** Background hand-over attempts that failed and will be retried. */
  retries: number;
  /** Submissions this server refused because it had relayed them already. */
  loopsRefused: number;
}
