/**
 * The progress bar of a run on a terminal. What the coordinator reports can go backwards (a task
 * retried elsewhere, a speculative copy, a file that grew since planning reports more bytes than
 * planned and is corrected when the task ends); what is drawn never does, never passes 100 %, and
 * the ETA comes from the rate of the last seconds, shown only once there is one.
 *
 * `ProgressMeter` decides what the line says (on an injectable clock, so tests need no terminal);
 * cli-progress draws it: redraws at most 10 times a second and only on change, from the start of
 * the line, cut to the terminal's width, and clears it when the run ends.
 */
import { SingleBar } from 'cli-progress';
import type { RunProgress } from '../mapreduce/coordinator.ts';
import { formatBytes, formatDuration } from '../report/format.ts';

/** The rate behind the ETA is measured over this much of the recent past. */
const RATE_WINDOW_MS = 10_000;
/** No ETA before the rate has been measured over this long. */
const MIN_RATE_SPAN_MS = 1_000;
const WIDTH = 24;

export class ProgressMeter {
  readonly #now: () => number;
  #bytes = 0;
  #fraction = 0;
  #samples: { t: number; bytes: number }[] = [];

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The line that shows this report, given after the ones before it. */
  line(p: RunProgress): string {
    const now = this.#now();
    const total = Math.max(0, p.bytesTotal);
    this.#bytes = Math.max(this.#bytes, Math.min(total, Math.max(0, p.bytesDone)));
    const reported = p.phase === 'plan' ? 0 : p.phase !== 'map' ? 1 : total > 0 ? this.#bytes / total : p.tasksTotal > 0 ? p.tasksDone / p.tasksTotal : 0;
    this.#fraction = Math.min(1, Math.max(this.#fraction, reported));
    if (p.phase === 'map') this.#sample(now);
    const filled = Math.round(this.#fraction * WIDTH);
    const eta = p.phase === 'map' ? this.#eta(total, now) : null;
    // What matters most comes first: a narrow terminal cuts the end of the line.
    return (
      `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${`${Math.floor(this.#fraction * 100)}%`.padStart(4)} ${p.phase}` +
      `${total > 0 ? ` ${formatBytes(this.#bytes)}/${formatBytes(total)}` : ''}${eta !== null ? ` ETA ${formatDuration(eta)}` : ''}` +
      `, tasks ${Math.min(p.tasksDone, p.tasksTotal)}/${p.tasksTotal} (${p.tasksRunning} running${p.retries ? `, ${p.retries} retried` : ''})`
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

/** The meter's line on a terminal, from the first report until `stop()`. */
export class ProgressBar {
  readonly #meter = new ProgressMeter();
  readonly #bar: SingleBar;
  #started = false;

  constructor(stream: NodeJS.WritableStream) {
    this.#bar = new SingleBar({
      stream,
      fps: 10,
      // The meter made the whole line; cli-progress draws it (its own value, total and ETA are unused).
      format: (_options, _params, payload: { line: string }) => payload.line,
      clearOnComplete: true,
      hideCursor: false,
      // Cut to the terminal's width by cli-progress, rather than autowrap turned off and back on.
      linewrap: true,
    });
  }

  update(p: RunProgress): void {
    const payload = { line: this.#meter.line(p) };
    if (this.#started) this.#bar.update(0, payload);
    else {
      this.#started = true;
      this.#bar.start(1, 0, payload);
    }
  }

  /** Clears the line and stops redrawing. */
  stop(): void {
    if (this.#started) this.#bar.stop();
  }
}
