/** `/metrics`: the `/status` document as Prometheus metrics (names `geartrain_*`, base units). */
import { ExpositionWriter } from './prometheus.ts';
import type { StatusJson } from './status.ts';

export function renderMetrics(s: StatusJson): string {
  const w = new ExpositionWriter();
  const c = s.counters;
  w.single('geartrain_jobs_submitted_total', 'counter', 'Jobs created by SUBMIT_JOB* (coalesced submissions not counted).', c.submitted);
  w.single('geartrain_jobs_completed_total', 'counter', 'Jobs ended with WORK_COMPLETE.', c.completed);
  w.single('geartrain_jobs_failed_total', 'counter', 'Jobs ended with WORK_FAIL or dropped after --job-retries attempts.', c.failed);
  w.single('geartrain_jobs_exceptions_total', 'counter', 'Jobs ended with WORK_EXCEPTION.', c.exceptions);
  w.single('geartrain_jobs_requeued_total', 'counter', 'Jobs taken back from a worker (lost, CANT_DO, timeout) and queued again.', c.requeued);
  w.single('geartrain_connections_accepted_total', 'counter', 'Connections accepted since start.', c.connectionsAccepted);
  w.single('geartrain_http_jobs_submitted_total', 'counter', 'Jobs submitted through HTTP POST /FUNC.', c.httpSubmitted);

  const t = s.totals;
  w.single('geartrain_jobs', 'gauge', 'Jobs the server holds (queued, scheduled or running).', t.jobs);
  w.single('geartrain_functions', 'gauge', 'Function names known to the server.', t.functions);
  w.family('geartrain_connections', 'gauge', 'Open connections: workers (registered a function) and clients (all others).');
  w.sample('geartrain_connections', t.workers, { kind: 'worker' });
  w.sample('geartrain_connections', t.clients, { kind: 'client' });

  w.family('geartrain_function_queued_jobs', 'gauge', 'Runnable jobs waiting for a worker, per function and priority.');
  for (const f of s.functions) {
    w.sample('geartrain_function_queued_jobs', f.queued.high, { function: f.name, priority: 'high' });
    w.sample('geartrain_function_queued_jobs', f.queued.normal, { function: f.name, priority: 'normal' });
    w.sample('geartrain_function_queued_jobs', f.queued.low, { function: f.name, priority: 'low' });
  }
  const perFunction: [string, 'gauge' | 'counter', string, (f: StatusJson['functions'][number]) => number][] = [
    ['geartrain_function_scheduled_jobs', 'gauge', 'Epoch jobs not due yet and jobs waiting for their queue row.', (f) => f.scheduled],
    ['geartrain_function_running_jobs', 'gauge', 'Jobs running on workers.', (f) => f.running],
    ['geartrain_function_workers', 'gauge', 'CAN_DO registrations (the admin status WORKERS column).', (f) => f.workers],
    ['geartrain_function_completed_total', 'counter', 'Jobs of the function ended with WORK_COMPLETE.', (f) => f.completed],
    ['geartrain_function_failed_total', 'counter', 'Jobs of the function ended with WORK_FAIL or WORK_EXCEPTION.', (f) => f.failed],
    ['geartrain_function_oldest_queued_seconds', 'gauge', 'Age of the oldest runnable job (0 when none).', (f) => (f.oldestQueuedMs ?? 0) / 1000],
  ];
  for (const [name, type, help, value] of perFunction) {
    w.family(name, type, help);
    for (const f of s.functions) w.sample(name, value(f), { function: f.name });
  }

  if (s.resultCache) {
    const rc = s.resultCache;
    w.family('geartrain_result_cache_lookups_total', 'counter', 'Submissions of cached functions answered from the cache (hit) or passed to a worker (miss).');
    w.sample('geartrain_result_cache_lookups_total', rc.hits, { result: 'hit' });
    w.sample('geartrain_result_cache_lookups_total', rc.misses, { result: 'miss' });
    w.single('geartrain_result_cache_stores_total', 'counter', 'Results stored in the cache.', rc.stores);
    w.family('geartrain_result_cache_removed_total', 'counter', 'Entries removed: evicted (LRU, for room) or expired (TTL); results too large to keep.');
    w.sample('geartrain_result_cache_removed_total', rc.evictions, { reason: 'evicted' });
    w.sample('geartrain_result_cache_removed_total', rc.expired, { reason: 'expired' });
    w.sample('geartrain_result_cache_removed_total', rc.tooLarge, { reason: 'too_large' });
  }
  if (s.hooks) {
    w.family('geartrain_hook_events_total', 'counter', 'Job-end events per hook: delivered, failed after the last retry, dropped (backlog full).');
    for (const h of s.hooks) {
      w.sample('geartrain_hook_events_total', h.delivered, { target: h.target, outcome: 'delivered' });
      w.sample('geartrain_hook_events_total', h.failed, { target: h.target, outcome: 'failed' });
      w.sample('geartrain_hook_events_total', h.dropped, { target: h.target, outcome: 'dropped' });
    }
    w.family('geartrain_hook_backlog_events', 'gauge', 'Events waiting in a hook\'s backlog.');
    for (const h of s.hooks) w.sample('geartrain_hook_backlog_events', h.queued, { target: h.target });
  }
  if (s.relay) {
    const r = s.relay;
    w.family('geartrain_relay_jobs_total', 'counter', 'Jobs relayed to other servers, by outcome (handed_over: background jobs a remote server acknowledged).');
    w.sample('geartrain_relay_jobs_total', r.relayed, { outcome: 'submitted' });
    w.sample('geartrain_relay_jobs_total', r.completed, { outcome: 'completed' });
    w.sample('geartrain_relay_jobs_total', r.failed, { outcome: 'failed' });
    w.sample('geartrain_relay_jobs_total', r.handedOver, { outcome: 'handed_over' });
    w.single('geartrain_relay_loops_refused_total', 'counter', 'Submissions refused because this server had relayed them already.', r.loopsRefused);
  }

  w.family('geartrain_mapreduce_runs', 'gauge', 'Map/reduce runs with tasks queued or running on this server.');
  w.sample('geartrain_mapreduce_runs', s.runs.filter((r) => r.active).length);
  w.family('geartrain_mapreduce_run_tasks', 'gauge', 'Tasks of active map/reduce runs, by kind and state (done and failed: ended so far).');
  for (const r of s.runs) {
    if (!r.active) continue;
    w.sample('geartrain_mapreduce_run_tasks', r.map.queued, { run: r.runId, kind: 'map', state: 'queued' });
    w.sample('geartrain_mapreduce_run_tasks', r.map.running, { run: r.runId, kind: 'map', state: 'running' });
    w.sample('geartrain_mapreduce_run_tasks', r.reduce.queued, { run: r.runId, kind: 'reduce', state: 'queued' });
    w.sample('geartrain_mapreduce_run_tasks', r.reduce.running, { run: r.runId, kind: 'reduce', state: 'running' });
    w.sample('geartrain_mapreduce_run_tasks', r.map.done, { run: r.runId, kind: 'map', state: 'done' });
    w.sample('geartrain_mapreduce_run_tasks', r.reduce.done, { run: r.runId, kind: 'reduce', state: 'done' });
    w.sample('geartrain_mapreduce_run_tasks', r.map.failed, { run: r.runId, kind: 'map', state: 'failed' });
    w.sample('geartrain_mapreduce_run_tasks', r.reduce.failed, { run: r.runId, kind: 'reduce', state: 'failed' });
  }
  w.family('geartrain_mapreduce_run_bytes', 'gauge', 'WORK_STATUS of running tasks: bytes done and bytes total.');
  for (const r of s.runs) {
    if (!r.active) continue;
    w.sample('geartrain_mapreduce_run_bytes', r.bytesDone, { run: r.runId, of: 'done' });
    w.sample('geartrain_mapreduce_run_bytes', r.bytesTotal, { run: r.runId, of: 'total' });
  }

  const m = s.memory;
  w.single('process_resident_memory_bytes', 'gauge', 'Resident set size.', m.rss);
  w.single('process_start_time_seconds', 'gauge', 'Start time of the server, unix seconds.', Math.floor(s.server.startedAt / 1000));
  w.single('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap size.', m.heapTotal);
  w.single('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap in use now.', m.heapUsed);
  w.single('nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JavaScript (buffers among them).', m.external);
  if (m.heapUsedAfterLastGc !== null) {
    w.single('geartrain_heap_used_after_gc_bytes', 'gauge', 'V8 heap in use just after the last garbage collection.', m.heapUsedAfterLastGc);
  }
  w.family('nodejs_gc_runs_total', 'counter', 'Garbage collections seen since the monitor started, by kind.');
  for (const [kind, n] of Object.entries(m.gcCounts)) w.sample('nodejs_gc_runs_total', n, { kind });
  w.single('nodejs_gc_pause_seconds_total', 'counter', 'Time spent in garbage collection pauses.', m.gcPauseSeconds);
  return w.text();
}
