/**
 * The progress bar of a run on a terminal. What the coordinator reports can go backwards (a task
 * retried elsewhere, a speculative copy, a file that grew since planning reports more bytes than
 * planned and is corrected when the task ends); what is drawn never does, never passes 100 %, and
 * the ETA comes from the rate of the last seconds, shown only once there is one.
 */
import type { RunProgress } from '../mapreduce/coordinator.ts';
import { formatBytes, formatDuration } from '../report/format.ts';

/** The rate behind the ETA is measured over this much of the recent past. */
const RATE_WINDOW_MS = 10_000;
/** No ETA before the rate has been measured over this long. */
const MIN_RATE_SPAN_MS = 1_000;
/** At most one redraw per this many milliseconds within a phase. */
const REDRAW_MS = 100;
const WIDTH = 24;

export class ProgressMeter {
  readonly #now: () => number;
  #bytes = 0;
  #fraction = 0;
  #samples: { t: number; bytes: number }[] = [];
  #phase: RunProgress['phase'] | null = null;
  #drawnAt = -Infinity;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The line to draw for this report (starting with `\r`), or null when it is too soon to redraw. */
  line(p: RunProgress): string | null {
    const now = this.#now();
    const total = Math.max(0, p.bytesTotal);
    this.#bytes = Math.max(this.#bytes, Math.min(total, Math.max(0, p.bytesDone)));
    const reported = p.phase === 'plan' ? 0 : p.phase !== 'map' ? 1 : total > 0 ? this.#bytes / total : p.tasksTotal > 0 ? p.tasksDone / p.tasksTotal : 0;
    this.#fraction = Math.min(1, Math.max(this.#fraction, reported));
    if (p.phase === 'map') this.#sample(now);
    const phaseChanged = p.phase !== this.#phase;
    this.#phase = p.phase;
    if (!phaseChanged && now - this.#drawnAt < REDRAW_MS) return null;
    this.#drawnAt = now;
    const filled = Math.round(this.#fraction * WIDTH);
    const eta = p.phase === 'map' ? this.#eta(total, now) : null;
    return (
      `\r[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${`${Math.floor(this.#fraction * 100)}%`.padStart(4)} ${p.phase}` +
      `${total > 0 ? ` ${formatBytes(this.#bytes)}/${formatBytes(total)}` : ''} tasks ${Math.min(p.tasksDone, p.tasksTotal)}/${p.tasksTotal}` +
      ` (${p.tasksRunning} running${p.retries ? `, ${p.retries} retried` : ''})${eta !== null ? ` ETA ${formatDuration(eta)}` : ''}   `
    );
  }

  #sample(now: number): void {
    this.#samples.push({ t: now, bytes: this.#bytes });
    while (this.#samples.length > 2 && now - this.#samples[1]!.t >= RATE_WINDOW_MS) this.#samples.shift();
  }

  /** Milliseconds left at the recent rate, or null while it is unknown or nothing is left. */
  #eta(total: number, now: number): number | null {
    const first = this.#samples[0];
    if (!first || this.#bytes >= total) return null;
    const span = now - first.t;
    const gained = this.#bytes - first.bytes;
    if (span < MIN_RATE_SPAN_MS || gained <= 0) return null;
    return ((total - this.#bytes) * span) / gained;
  }
}
