import { PacketType, response, type Frame } from '../protocol/index.ts';
import { handleAdminLine } from './admin-commands.ts';
import { handleClientPacket } from './client-packets.ts';
import type { Connection } from './connection.ts';
import type { ServerCore } from './core.ts';
import { handleWorkerPacket } from './worker-packets.ts';

/**
 * Every frame a connection decodes goes here, in arrival order: admin text lines to the admin
 * commands, packets to the client or the worker handlers. The handlers change the core's state
 * through its methods; the core knows none of them.
 */
export function dispatchFrame(core: ServerCore, conn: Connection, frame: Frame): void {
  if (frame.kind === 'admin') {
    handleAdminLine(core, conn, frame.line);
    return;
  }
  conn.packetsIn++;
  if (frame.magic !== 'REQ') {
    conn.send(response(PacketType.ERROR, 'INVALID_MAGIC', 'Request magic expected'));
    return;
  }
  if (handleClientPacket(core, conn, frame)) return;
  if (handleWorkerPacket(core, conn, frame)) return;
  conn.send(response(PacketType.ERROR, 'INVALID_COMMAND', 'Command not expected'));
}
