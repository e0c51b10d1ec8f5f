/**
 * A job server that can be stopped and started again on the same port, to test reconnects:
 * Debian's gearmand, or geartrain's JobServer listening on a given port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { adminRequest } from '../../helpers/gearmand.ts';
import { freePort, waitFor } from '../../helpers/ports.ts';
import type { ServerKind } from '../../helpers/servers.ts';

export interface RestartableServer {
  readonly port: number;
  readonly address: string;
  /** Start (again) on the same port; resolves when it answers `version`. */
  start(): Promise<void>;
  /** Stop it; resolves when the port is closed. */
  stop(): Promise<void>;
}

export async function restartableServer(kind: ServerKind): Promise<RestartableServer> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  let stopCurrent: (() => Promise<void>) | undefined;
  const ready = () => waitFor(async () => (await adminRequest(port, 'version', '127.0.0.1', 1000)).startsWith('OK'), `${kind} on ${address}`);
  return {
    port,
    address,
    async start() {
      if (stopCurrent) throw new Error('already running');
      if (kind === 'gearmand') {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gearmand-restart-'));
        const child: ChildProcess = spawn(
          'gearmand',
          ['--port', String(port), '--listen', '127.0.0.1', '--log-file', path.join(dir, 'log'), '--pid-file', path.join(dir, 'pid'), '--threads', '1'],
          { stdio: 'ignore' },
        );
        let exited = false;
        const gone = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
        stopCurrent = async () => {
          if (!exited) child.kill('SIGKILL');
          await gone;
          fs.rmSync(dir, { recursive: true, force: true });
        };
      } else {
        const { JobServer } = await import('../../../src/server/index.ts');
        const server = new JobServer({ host: '127.0.0.1', port, queue: 'memory' });
        await server.listen();
        stopCurrent = async () => {
          server.destroy();
        };
      }
      await ready();
    },
    async stop() {
      const s = stopCurrent;
      stopCurrent = undefined;
      await s?.();
    },
  };
}
