/**
 * Admin `hooks`: one line per hook, in `--hook` order:
 * `N\tTARGET\tQUEUED\tIN_FLIGHT\tDELIVERED\tRETRIED\tFAILED\tDROPPED`, then `.`. TARGET is the URL
 * without credentials or query, or the command. Tenants' connections are refused: hooks are the
 * operator's.
 */
import type { Connection } from './connection.ts';
import type { ServerCore } from './core.ts';

export function hooksCommand(core: ServerCore, conn: Connection): string {
  if (conn.tenant !== null) return 'ERR PERMISSION_DENIED hooks+are+not+shown+to+tenants\r\n';
  const hooks = core.hooks?.stats() ?? [];
  let out = '';
  hooks.forEach((h, i) => {
    const target = h.target.replace(/[\t\n\r]/g, ' ');
    out += `${i + 1}\t${target}\t${h.queued}\t${h.inFlight}\t${h.delivered}\t${h.retried}\t${h.failed}\t${h.dropped}\n`;
  });
  return out + '.\n';
}
