/**
 * The verdict of a proof script: named checks, summary tables, and the closing line
 * `proof: N passed, N failed` that .ci/run adds to its total. Exit status 1 when any check failed
 * or the script itself broke; a watchdog ends a script that overruns its time budget.
 */

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export type Row = readonly (string | number)[];

/** Aligned plain-text table; numbers right-aligned. */
export function formatTable(columns: readonly string[], rows: readonly Row[]): string {
  const cells = [columns.map(String), ...rows.map((r) => r.map(String))];
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export class Proof {
  readonly name: string;
  readonly #checks: Check[] = [];
  #finished = false;
  #watchdog: NodeJS.Timeout | undefined;

  constructor(name: string) {
    this.name = name;
  }

  /** Record a check; `detail` says what was measured against what. */
  check(name: string, ok: boolean, detail = ''): boolean {
    this.#checks.push({ name, ok, detail });
    return ok;
  }

  get failed(): number {
    return this.#checks.filter((c) => !c.ok).length;
  }

  /** Print a titled table now (the summary tables come before the verdict). */
  table(title: string, columns: readonly string[], rows: readonly Row[]): void {
    process.stdout.write(`\n${title}\n${formatTable(columns, rows)}\n`);
  }

  log(line: string): void {
    process.stdout.write(`[${this.name} ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  }

  /** Fail the whole script if it is still running after `ms` (scripts must stop by themselves). */
  watchdog(ms: number): void {
    this.#watchdog = setTimeout(() => {
      this.check('finished within its time budget', false, `still running after ${Math.round(ms / 1000)} s`);
      this.finish();
    }, ms);
    this.#watchdog.unref();
  }

  /** Print the checks and the verdict line, then exit. */
  finish(error?: unknown): never {
    if (this.#finished) process.exit(1);
    this.#finished = true;
    if (this.#watchdog) clearTimeout(this.#watchdog);
    if (error !== undefined) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      this.check('script ran to the end', false, message.split('\n').slice(0, 6).join(' | '));
    }
    const rows = this.#checks.map((c) => [c.ok ? 'PASS' : 'FAIL', c.name, c.detail]);
    process.stdout.write(`\n${this.name}: checks\n${formatTable(['result', 'check', 'measured'], rows)}\n`);
    const failed = this.failed;
    const passed = this.#checks.length - failed;
    process.stdout.write(`proof: ${passed} passed, ${failed} failed\n`);
    process.exit(failed > 0 ? 1 : 0);
  }

  /** Run `main`; any throw or unhandled rejection becomes a failed check. */
  run(main: () => Promise<void>): void {
    process.on('uncaughtException', (err) => this.finish(err));
    process.on('unhandledRejection', (err) => this.finish(err));
    main().then(
      () => this.finish(),
      (err: unknown) => this.finish(err),
    );
  }
}

/** Integer from the environment, with a default and a floor; a bad value is a startup error. */
export function envInt(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`${name} must be an integer >= ${min}, got '${raw}'`);
  return Number(raw);
}
