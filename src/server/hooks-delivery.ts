/**
 * One delivery attempt of a hook event: an HTTP(S) POST of the JSON body, or a shell command that
 * reads it on stdin. An attempt never throws: it resolves with what happened, and whether trying
 * again could help.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { GEARTRAIN_VERSION } from '../version.ts';
import type { JobEndEvent } from './hooks-spec.ts';

export type Attempt = { readonly ok: true } | { readonly ok: false; readonly retryable: boolean; readonly reason: string };

export interface Delivery {
  /** One attempt; `event` is the single event of the body, or null for a batch. */
  send(body: string, event: JobEndEvent | null): Promise<Attempt>;
  /** Abort attempts in flight and free sockets. */
  close(): void;
}

const OK: Attempt = { ok: true };

export function httpDelivery(url: string, timeoutMs: number, concurrency: number): Delivery {
  const target = new URL(url);
  const mod = target.protocol === 'https:' ? https : http;
  const agent = new mod.Agent({ keepAlive: true, maxSockets: concurrency });
  const inFlight = new Set<http.ClientRequest>();
  return {
    send(body) {
      return new Promise<Attempt>((resolve) => {
        let done = false;
        const finish = (a: Attempt) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          inFlight.delete(req);
          resolve(a);
        };
        const req = mod.request(target, {
          method: 'POST',
          agent,
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            'User-Agent': `geartrain/${GEARTRAIN_VERSION}`,
          },
        });
        inFlight.add(req);
        // A whole-attempt deadline: a receiver that accepts and never answers must not hold a slot.
        const timer = setTimeout(() => {
          finish({ ok: false, retryable: true, reason: `no answer within ${timeoutMs} ms` });
          req.destroy();
        }, timeoutMs);
        req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, retryable: true, reason: err.code ?? err.message }));
        req.on('response', (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          res.on('end', () => {
            if (status >= 200 && status < 300) finish(OK);
            else finish({ ok: false, retryable: status >= 500 || status === 429 || status === 408, reason: `HTTP ${status}` });
          });
          res.on('error', (err) => finish({ ok: false, retryable: true, reason: err.message }));
        });
        req.end(body);
      });
    },
    close() {
      for (const req of inFlight) req.destroy();
      agent.destroy();
    },
  };
}

/** Bytes of a failing command's stderr kept for the log. */
const STDERR_KEEP = 512;

export function commandDelivery(command: string, timeoutMs: number): Delivery {
  const running = new Set<number>();
  const killGroup = (pid: number) => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  return {
    send(body, event) {
      return new Promise<Attempt>((resolve) => {
        // Its own process group, so a timeout kills a whole pipeline.
        const child = spawn('/bin/sh', ['-c', command], {
          stdio: ['pipe', 'ignore', 'pipe'],
          detached: true,
          env:
            event === null
              ? process.env
              : {
                  ...process.env,
                  GEARTRAIN_HOOK_STATUS: event.status,
                  GEARTRAIN_HOOK_FUNCTION: event.function,
                  GEARTRAIN_HOOK_HANDLE: event.handle,
                  GEARTRAIN_HOOK_UNIQUE: event.unique,
                },
        });
        let stderr = '';
        let done = false;
        const pid = child.pid;
        if (pid !== undefined) running.add(pid);
        const finish = (a: Attempt) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (pid !== undefined) running.delete(pid);
          resolve(a);
        };
        const timer = setTimeout(() => {
          if (pid !== undefined) killGroup(pid);
          finish({ ok: false, retryable: true, reason: `still running after ${timeoutMs} ms (killed)` });
        }, timeoutMs);
        child.on('error', (err) => finish({ ok: false, retryable: false, reason: err.message }));
        child.stderr!.on('data', (d: Buffer) => {
          if (stderr.length < STDERR_KEEP) stderr += d.toString('utf8', 0, STDERR_KEEP);
        });
        // A command that does not read its stdin closes the pipe: not an error of ours.
        child.stdin!.on('error', () => {});
        child.stdin!.end(body + '\n');
        child.on('close', (code, signal) => {
          if (code === 0) finish(OK);
          else finish({ ok: false, retryable: true, reason: `exit ${code ?? signal}${stderr ? `: ${stderr.trim().slice(0, STDERR_KEEP)}` : ''}` });
        });
      });
    },
    close() {
      for (const pid of running) killGroup(pid);
      running.clear();
    },
  };
}
