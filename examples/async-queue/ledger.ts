/**
 * Append-only text ledgers the example keeps beside the queue, so a run can be checked afterwards:
 * the producer writes one line per job the job server acknowledged, the worker one line per job
 * it carried out. A line is `<function> <unique key>`; each append is one write(2) of a whole
 * line, so a crash never leaves half a line that parses.
 */
import fs from 'node:fs';

export interface Entry {
  readonly fn: string;
  readonly unique: string;
}

export class Ledger {
  readonly #fd: number;

  constructor(readonly file: string) {
    this.#fd = fs.openSync(file, 'a');
  }

  append(entry: Entry): void {
    fs.writeSync(this.#fd, `${entry.fn} ${entry.unique}\n`);
  }

  close(): void {
    fs.closeSync(this.#fd);
  }
}

/** Every complete line of a ledger (a missing file is an empty ledger). */
export function readLedger(file: string): Entry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text
    .split('\n')
    .filter((line) => line.includes(' '))
    .map((line) => {
      const space = line.indexOf(' ');
      return { fn: line.slice(0, space), unique: line.slice(space + 1) };
    });
}

export const keyOf = (e: Entry): string => `${e.fn} ${e.unique}`;
