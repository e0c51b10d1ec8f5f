/**
 * Summarise V8 `.cpuprofile` files (from `node --cpu-prof`): self and total time per function and
 * per area (geartrain modules, node internals, GC, idle), summed over several profiles.
 *
 *   node --import tsx bench/cpu-profile.ts FILE.cpuprofile… [--top N]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  readonly name: string;
  readonly selfMs: number;
  readonly totalMs: number;
}

export interface Summary {
  readonly totalMs: number;
  /** Busy time: everything but `(idle)`. */
  readonly busyMs: number;
  readonly functions: Row[];
  readonly areas: Row[];
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function shortUrl(url: string): string {
  if (url.startsWith('file://')) url = fileURLToPath(url);
  if (url.startsWith(ROOT + '/')) return url.slice(ROOT.length + 1);
  return url;
}

/** The area a frame belongs to: a geartrain folder, a node internal module family, or V8's pseudo frames. */
function areaOf(f: CallFrame): string {
  if (f.url === '') return f.functionName.startsWith('(') ? f.functionName : '(native)';
  const u = shortUrl(f.url);
  if (u.startsWith('src/')) return u.split('/').slice(0, 3).join('/');
  if (u.startsWith('bench/')) return u;
  if (u.startsWith('node:internal/streams') || u.startsWith('node:stream')) return 'node: streams';
  if (u.startsWith('node:net') || u.startsWith('node:internal/stream_base_commons') || u.startsWith('node:internal/net')) return 'node: net/socket';
  if (u.startsWith('node:internal/timers') || u.startsWith('node:timers')) return 'node: timers';
  if (u.startsWith('node:internal/process/task_queues') || u.startsWith('node:internal/process/promises')) return 'node: microtasks/promises';
  if (u.startsWith('node:internal/abort_controller') || u.startsWith('node:internal/event_target')) return 'node: AbortSignal/EventTarget';
  if (u.startsWith('node:events')) return 'node: events';
  if (u.startsWith('node:buffer') || u.startsWith('node:internal/buffer')) return 'node: buffer';
  if (u.startsWith('node:')) return 'node: other';
  if (u.includes('node_modules/')) return 'deps: ' + u.split('node_modules/')[1]!.split('/')[0];
  return u;
}

function fnKey(f: CallFrame): string {
  const name = f.functionName || '(anonymous)';
  return f.url ? `${name}  ${shortUrl(f.url)}:${f.lineNumber + 1}` : name;
}

export function summarise(files: string[]): Summary {
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const areaSelf = new Map<string, number>();
  const areaTotal = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  for (const file of files) {
    const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    // A sample stands for the time until the next one (as in DevTools); the first delta is the
    // profiler's own start-up and is not counted.
    for (let i = 0; i < p.samples.length; i++) {
      const ms = (p.timeDeltas[i + 1] ?? 0) / 1000;
      let node = byId.get(p.samples[i]!);
      if (!node) continue;
      totalMs += ms;
      if (node.callFrame.functionName === '(idle)') idleMs += ms;
      const leafKey = fnKey(node.callFrame);
      self.set(leafKey, (self.get(leafKey) ?? 0) + ms);
      const leafArea = areaOf(node.callFrame);
      areaSelf.set(leafArea, (areaSelf.get(leafArea) ?? 0) + ms);
      // Inclusive time: count each function and area once per sample, however deep the recursion.
      const seen = new Set<string>();
      const seenArea = new Set<string>();
      while (node) {
        const k = fnKey(node.callFrame);
        if (!seen.has(k)) {
          seen.add(k);
          total.set(k, (total.get(k) ?? 0) + ms);
        }
        const a = areaOf(node.callFrame);
        if (!seenArea.has(a)) {
          seenArea.add(a);
          areaTotal.set(a, (areaTotal.get(a) ?? 0) + ms);
        }
        const up = parent.get(node.id);
        node = up === undefined ? undefined : byId.get(up);
      }
    }
  }
  const rows = (s: Map<string, number>, t: Map<string, number>) =>
    [...new Set([...s.keys(), ...t.keys()])].map((name) => ({ name, selfMs: s.get(name) ?? 0, totalMs: t.get(name) ?? 0 })).sort((a, b) => b.selfMs - a.selfMs);
  return { totalMs, busyMs: totalMs - idleMs, functions: rows(self, total), areas: rows(areaSelf, areaTotal) };
}

const pct = (ms: number, of: number) => ((100 * ms) / of).toFixed(1).padStart(5) + '%';

/** Text report: areas by self time, then the top functions by self time, as % of busy time. */
export function report(s: Summary, top = 25): string {
  const lines = [`busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled; % of busy time (self / total)`, '', 'by area:'];
  for (const r of s.areas.filter((r) => r.name !== '(idle)').slice(0, 16)) lines.push(`  ${pct(r.selfMs, s.busyMs)} ${pct(r.totalMs, s.busyMs)}  ${r.name}`);
  lines.push('', `top ${top} functions by self time:`);
  for (const r of s.functions.filter((r) => r.name !== '(idle)').slice(0, top)) lines.push(`  ${pct(r.selfMs, s.busyMs)} ${pct(r.totalMs, s.busyMs)}  ${r.name}`);
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--top');
  const top = i >= 0 ? Number(args.splice(i, 2)[1]) : 25;
  console.log(report(summarise(args), top));
}
