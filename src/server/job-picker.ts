import type { Connection } from './connection.ts';
import type { Job } from './job.ts';

/** The server options that decide which job a worker gets. */
export interface PickOrder {
  /** gearmand 1.1's order: the newest CAN_DO first, then that function's highest priority. */
  readonly priorityPerFunction: boolean;
  /** With priorityPerFunction: a function that just gave a job goes to the back. */
  readonly roundRobin: boolean;
}

/**
 * Removes and returns the job a grabbing worker gets, or undefined: by default the highest
 * priority across all its functions, round-robin among the functions at that priority (gearmand
 * 2.0's behaviour); with `priorityPerFunction`, gearmand 1.1's order.
 */
export function takeJobFor(conn: Connection, order: PickOrder): Job | undefined {
  const abilities = conn.abilities;
  const n = abilities.length;
  if (n === 0) return undefined;
  if (order.priorityPerFunction) {
    // gearmand 1.1: newest CAN_DO first, first function with any job, its highest priority.
    for (let i = n - 1; i >= 0; i--) {
      const ability = abilities[i]!;
      for (let p = 0; p < 3; p++) {
        const job = ability.fn.take(p);
        if (job) {
          if (order.roundRobin) {
            abilities.splice(i, 1);
            abilities.unshift(ability);
          }
          return job;
        }
      }
    }
    return undefined;
  }
  // Global priority across the worker's functions, round-robin among them at equal priority.
  const start = conn.rrCursor % n;
  for (let p = 0; p < 3; p++) {
    for (let k = 0; k < n; k++) {
      const idx = (start + k) % n;
      const job = abilities[idx]!.fn.take(p);
      if (job) {
        conn.rrCursor = idx + 1;
        return job;
      }
    }
  }
  return undefined;
}
