import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from './ports.ts';

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  /** `host:port` */
  readonly address: string;
  readonly kind: 'gearmand' | 'geartrain';
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** Send one admin line and collect the reply until `isDone` says it is complete. */
export async function adminRequest(port: number, line: string, host = '127.0.0.1', timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`admin ${JSON.stringify(line)} timed out; got ${JSON.stringify(text)}`));
    }, timeoutMs);
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write(line + '\n'));
    sock.on('data', (d: string) => {
      text += d;
      if (/^(OK|ERR)[^\n]*\n/.test(text) || /(^|\n)\.\r?\n$/.test(text)) {
        clearTimeout(timer);
        sock.end();
        resolve(text);
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * Start Debian's gearmand on a free loopback port and wait until it answers `version`.
 * Every test that talks to a real gearmand goes through this, so none ever touches port 4730.
 */
export async function startGearmand(extraArgs: string[] = []): Promise<RunningServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gearmand-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    'gearmand',
    [
      '--port', String(port),
      '--listen', '127.0.0.1',
      '--log-file', path.join(dir, 'gearmand.log'),
      '--pid-file', path.join(dir, 'gearmand.pid'),
      '--threads', '1',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  let exited = false;
  child.on('exit', () => (exited = true));
  try {
    await waitFor(async () => {
      if (exited) throw new Error(`gearmand exited: ${stderr}`);
      return (await adminRequest(port, 'version', '127.0.0.1', 1000)).startsWith('OK');
    }, `gearmand on port ${port}`);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    kind: 'gearmand',
    pid: child.pid,
    async stop() {
      if (!exited) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await done;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
