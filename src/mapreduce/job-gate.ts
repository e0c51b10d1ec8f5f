/**
 * The one gate for what a task's job may make a node do, applied to every task that names a job
 * (map, reduce, key samples) before anything of it runs:
 *
 * - a built-in job (jobs/): any node;
 * - shipped code: only a node started with --allow-code, and only with a valid signature of its
 *   hash (which needs the node's GEARTRAIN_SECRET);
 * - a streaming job: its shell commands (mapper, combiner, reducer — wherever the task would use
 *   them) only on a node started with --allow-exec; a mapper function (a call to any Gearman
 *   function with the node's lines) only on a node that has the cluster secret, since the task
 *   then proved it comes from someone holding it.
 *
 * --allow-exec and --allow-code need the secret at start-up (cli/node.ts), so a node without one
 * runs built-in jobs only.
 */
import { CodeRefusedError, InvalidArgumentError, TaskRefusedError } from '../errors.ts';
import { verifyCodeSignature } from './job-loader.ts';
import type { JobRef } from './wire.ts';

export interface NodePolicy {
  readonly node: string;
  /** The cluster secret (GEARTRAIN_SECRET): the node's tasks were signed with it. */
  readonly secret: string | undefined;
  readonly allowCode: boolean;
  readonly allowExec: boolean;
}

const COMMANDS = ['mapper', 'combiner', 'reducer'] as const;

/** Throws TaskRefusedError (or CodeRefusedError) unless the node may run `job`. */
export function admitJob(job: JobRef, policy: NodePolicy): void {
  if (job.type === 'builtin') return;
  if (job.type === 'code') {
    if (!policy.allowCode) throw new CodeRefusedError(`node ${policy.node} was not started with --allow-code: it runs no shipped code`);
    verifyCodeSignature(job.hash, job.signature, policy.secret);
    return;
  }
  const commands = COMMANDS.filter((c) => job[c] !== undefined);
  if (commands.length > 0 && !policy.allowExec) {
    throw new TaskRefusedError(`node ${policy.node} was not started with --allow-exec: it runs no commands (this task carries a ${commands.join(', a ')})`);
  }
  if (!policy.secret) {
    throw new TaskRefusedError(`node ${policy.node} has no GEARTRAIN_SECRET: it runs built-in jobs only, and no streaming job (mapper function ${job.mapperFunction ?? 'none'})`);
  }
}

/**
 * --allow-exec and --allow-code hand whoever holds the secret a shell (or a code loader) on the
 * node: without a secret, that would be anyone who can reach a job server.
 */
export function checkNodePermissions(o: { readonly allowExec?: boolean; readonly allowCode?: boolean; readonly secret?: string | undefined }): void {
  const flags = [o.allowExec ? '--allow-exec' : '', o.allowCode ? '--allow-code' : ''].filter(Boolean);
  if (flags.length > 0 && !o.secret) {
    throw new InvalidArgumentError(
      `${flags.join(' and ')} need${flags.length === 1 ? 's' : ''} the cluster secret: set GEARTRAIN_SECRET (the same value where geartrain run runs), so that only those who hold it can make this node run commands or code`,
      { field: 'GEARTRAIN_SECRET' },
    );
  }
}
