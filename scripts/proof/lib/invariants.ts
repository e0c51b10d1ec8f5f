/**
 * Consistency of an in-process server's state after a run: the per-function counters that
 * `status` prints agree with the job table, and no job points at a connection that is gone.
 * Returns the violations found (empty when consistent), at most `limit` of them.
 */
import type { ServerCore } from '../../../src/server/index.ts';

export function stateViolations(core: ServerCore, limit = 10): string[] {
  const out: string[] = [];
  const add = (v: string) => {
    if (out.length < limit) out.push(v);
  };
  const counts = new Map<unknown, { queued: [number, number, number]; running: number; waiting: number }>();
  for (const fn of core.functions.values()) counts.set(fn, { queued: [0, 0, 0], running: 0, waiting: 0 });
  for (const [handle, job] of core.jobs) {
    if (job.handle !== handle) add(`job ${handle} is filed under another handle (${job.handle})`);
    if (job.state === 'done') add(`job ${handle} is done but still in the job table`);
    const c = counts.get(job.fn);
    if (!c) {
      add(`job ${handle} belongs to function ${JSON.stringify(job.fn.name)}, which the server no longer lists`);
      continue;
    }
    if (job.state === 'queued') c.queued[job.priority]++;
    else if (job.state === 'running') c.running++;
    else if (job.state === 'scheduled' || job.state === 'storing') c.waiting++;
    if (job.state === 'running' && (!job.worker || !core.connections.has(job.worker))) add(`running job ${handle} has no live worker`);
    for (const client of job.clients) if (!core.connections.has(client)) add(`job ${handle} waits on a client that is gone`);
    if (!job.background && job.clients.length === 0 && job.state !== 'running' && !job.ignore) add(`foreground job ${handle} has no client but is kept`);
  }
  for (const fn of core.functions.values()) {
    const c = counts.get(fn)!;
    const name = JSON.stringify(fn.name).slice(0, 40);
    for (let p = 0; p < 3; p++) if (fn.queued[p] !== c.queued[p]) add(`${name}: queued[${p}] says ${fn.queued[p]}, the job table has ${c.queued[p]}`);
    if (fn.running !== c.running) add(`${name}: running says ${fn.running}, the job table has ${c.running}`);
    if (fn.waiting !== c.waiting) add(`${name}: waiting says ${fn.waiting}, the job table has ${c.waiting}`);
    for (const w of fn.workers) if (!core.connections.has(w)) add(`${name}: lists a worker connection that is gone`);
    for (const w of fn.sleepers) if (!core.connections.has(w)) add(`${name}: lists a sleeping worker that is gone`);
  }
  return out;
}
