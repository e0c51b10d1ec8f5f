/**
 * Submitting one task as a foreground Gearman job and waiting for it, with an idle timeout: the
 * task fails if neither progress (WORK_STATUS) nor its result arrives for `idleTimeoutMs`, so a
 * long task that keeps reporting is never cut off, and a dead or hung one is noticed.
 */
import type { Client } from '../client/index.ts';
import { AbortError, TimeoutError } from '../errors.ts';

export interface TaskCall {
  readonly fn: string;
  readonly payload: string | Buffer;
  readonly unique: string;
  readonly idleTimeoutMs: number;
  readonly signal?: AbortSignal;
  readonly onStatus?: (numerator: number, denominator: number) => void;
  /** WORK_DATA the task sends while it runs (not part of its result). */
  readonly onData?: (data: Buffer) => void;
  readonly priority?: 'high' | 'normal' | 'low';
}

export async function callTask(client: Client, call: TaskCall): Promise<Buffer> {
  const ac = new AbortController();
  const onOuter = () => ac.abort(call.signal!.reason);
  if (call.signal?.aborted) throw new AbortError('run cancelled');
  call.signal?.addEventListener('abort', onOuter, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(
      () => ac.abort(new TimeoutError(`task ${call.unique} on ${call.fn}: no progress for ${Math.round(call.idleTimeoutMs / 1000)} s`)),
      call.idleTimeoutMs,
    );
  };
  arm();
  const job = client.submit(call.fn, call.payload, { unique: call.unique, signal: ac.signal, priority: call.priority ?? 'normal' });
  try {
    for await (const u of job) {
      if (u.type === 'status') {
        arm();
        call.onStatus?.(u.numerator, u.denominator);
      } else if (u.type === 'data') {
        call.onData?.(u.data);
      }
    }
    return await job.result;
  } catch (err) {
    if (ac.signal.aborted && ac.signal.reason instanceof TimeoutError) throw ac.signal.reason;
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
    call.signal?.removeEventListener('abort', onOuter);
  }
}
