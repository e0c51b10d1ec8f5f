import type { Connection } from './connection.ts';
import type { FunctionEntry } from './function-entry.ts';

/** The server options that decide which job a worker gets. */
export interface PickOrder {
  /** gearmand 1.1's order: the newest CAN_DO first, then that function's highest priority. */
  readonly priorityPerFunction: boolean;
  /** With priorityPerFunction: a function that just gave a job goes to the back. */
  readonly roundRobin: boolean;
}

/** The run queues (the job table): takes a function's oldest job at a priority, by slot, or -1. */
export interface RunQueues {
  take(fn: FunctionEntry, priority: number): number;
}

/**
 * Removes the job a grabbing worker gets and returns its slot, or -1: by default the highest
 * priority across all its functions, round-robin among the functions at that priority (gearmand
 * 2.0's behaviour); with `priorityPerFunction`, gearmand 1.1's order.
 */
export function takeJobFor(conn: Connection, order: PickOrder, queues: RunQueues): number {
  const abilities = conn.abilities;
  const n = abilities.length;
  if (n === 0) return -1;
  if (order.priorityPerFunction) {
    // gearmand 1.1: newest CAN_DO first, first function with any job, its highest priority.
    for (let i = n - 1; i >= 0; i--) {
      const ability = abilities[i]!;
      for (let p = 0; p < 3; p++) {
        const slot = queues.take(ability.fn, p);
        if (slot >= 0) {
          if (order.roundRobin) {
            abilities.splice(i, 1);
            abilities.unshift(ability);
          }
          return slot;
        }
      }
    }
    return -1;
  }
  // Global priority across the worker's functions, round-robin among them at equal priority.
  const start = conn.rrCursor % n;
  for (let p = 0; p < 3; p++) {
    for (let k = 0; k < n; k++) {
      const idx = (start + k) % n;
      const slot = queues.take(abilities[idx]!.fn, p);
      if (slot >= 0) {
        conn.rrCursor = idx + 1;
        return slot;
      }
    }
  }
  return -1;
}
