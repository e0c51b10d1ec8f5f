/**
 * The on-disk spool of `geartrain ship`: batches that could not be sent yet, in order, with the
 * unique key each was (or will be) sent with, so a resend is recognised as the same job.
 *
 * A spool is a list of files in the spool directory, read first to last; the sender appends to
 * the last. File `<owner>-<n>.spool` holds records `UNIQUE\tLINES\tBYTES\n` + bytes; `.pos` beside
 * it holds the offset of the first record not sent yet (written after each send; a stale offset
 * only resends batches, which the node recognises by their unique keys). `<owner>.pid` marks the
 * owner alive; a later `ship` takes over the spool files of owners that died, and sends them first.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface SpooledBatch {
  readonly unique: string;
  readonly lines: number;
  readonly data: Buffer;
}

const SPOOL_EXT = '.spool';
const POS_EXT = '.pos';
const PID_EXT = '.pid';

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPos(file: string): number {
  try {
    const n = Number(fs.readFileSync(file + POS_EXT, 'utf8').trim());
    return Number.isInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}

export class Spool {
  readonly dir: string;
  readonly owner: string;
  /** Spool files not finished, oldest first. */
  #files: string[] = [];
  #next = 0;
  /** The file appended to now (the last of #files), if any. */
  #writeFd: number | undefined;
  #readFd: number | undefined;
  #readFile: string | undefined;
  #readPos = 0;
  #batches = 0;
  #lines = 0;

  constructor(dir: string, owner: string) {
    this.dir = path.resolve(dir);
    this.owner = owner;
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(path.join(this.dir, owner + PID_EXT), `${process.pid}\n`);
  }

  /** Takes over the spool files of owners that are gone; returns how many batches they hold. */
  adoptOrphans(): number {
    const entries = fs.readdirSync(this.dir).filter((n) => n.endsWith(SPOOL_EXT));
    const orphans: { file: string; mtime: number }[] = [];
    for (const name of entries) {
      const owner = name.slice(0, -SPOOL_EXT.length).replace(/-\d+$/, '');
      if (owner === this.owner) continue;
      let pid = NaN;
      try {
        pid = Number(fs.readFileSync(path.join(this.dir, owner + PID_EXT), 'utf8').trim());
      } catch {
        // no pid file: its owner is gone
      }
      if (pidAlive(pid)) continue;
      const file = path.join(this.dir, name);
      try {
        orphans.push({ file, mtime: fs.statSync(file).mtimeMs });
      } catch {
        // taken by another ship meanwhile
      }
    }
    orphans.sort((a, b) => a.mtime - b.mtime || (a.file < b.file ? -1 : 1));
    let adopted = 0;
    for (const o of orphans) {
      const mine = path.join(this.dir, `${this.owner}-${this.#next++}${SPOOL_EXT}`);
      try {
        // rename is atomic: of two ships adopting the same file, one gets ENOENT.
        fs.renameSync(o.file, mine);
      } catch {
        continue;
      }
      try {
        fs.renameSync(o.file + POS_EXT, mine + POS_EXT);
      } catch {
        // no position yet: read from the start
      }
      const counted = this.#count(mine);
      this.#batches += counted.batches;
      this.#lines += counted.lines;
      adopted += counted.batches;
      // Adopted files go before our own, which hold newer lines.
      const own = this.#writeFd !== undefined ? this.#files.pop() : undefined;
      this.#files.push(mine);
      if (own !== undefined) this.#files.push(own);
    }
    for (const name of fs.readdirSync(this.dir)) {
      if (!name.endsWith(PID_EXT) || name === this.owner + PID_EXT) continue;
      const owner = name.slice(0, -PID_EXT.length);
      const pid = Number(fs.readFileSync(path.join(this.dir, name), 'utf8').trim());
      if (!pidAlive(pid) && !fs.readdirSync(this.dir).some((n) => n.startsWith(owner + '-') && n.endsWith(SPOOL_EXT))) {
        fs.rmSync(path.join(this.dir, name), { force: true });
      }
    }
    return adopted;
  }

  /** Batches and lines in the spool, not sent yet. */
  get batches(): number {
    return this.#batches;
  }

  get lines(): number {
    return this.#lines;
  }

  get empty(): boolean {
    return this.#batches === 0;
  }

  /** Appends a batch (fdatasync'd: the lines are safe once this returns). */
  append(batch: SpooledBatch): void {
    if (this.#writeFd === undefined) {
      const file = path.join(this.dir, `${this.owner}-${this.#next++}${SPOOL_EXT}`);
      this.#writeFd = fs.openSync(file, 'a');
      this.#files.push(file);
    }
    const head = Buffer.from(`${batch.unique}\t${batch.lines}\t${batch.data.length}\n`);
    fs.writeSync(this.#writeFd, Buffer.concat([head, batch.data]));
    fs.fdatasyncSync(this.#writeFd);
    this.#batches++;
    this.#lines += batch.lines;
  }

  /** The oldest batch not sent, without removing it. */
  peek(): SpooledBatch | undefined {
    while (this.#files.length > 0) {
      const file = this.#files[0]!;
      if (this.#readFile !== file) {
        this.#closeRead();
        this.#readFile = file;
        this.#readFd = fs.openSync(file, 'r');
        this.#readPos = readPos(file);
      }
      const rec = this.#readAt(this.#readFd!, this.#readPos);
      if (rec) return rec.batch;
      if (file === this.#files.at(-1) && this.#writeFd !== undefined) return undefined; // being written
      this.#finishFile(file);
    }
    return undefined;
  }

  /** Removes the batch `peek()` returned (it was sent). */
  shift(): void {
    const fd = this.#readFd;
    if (fd === undefined) return;
    const rec = this.#readAt(fd, this.#readPos);
    if (!rec) return;
    this.#readPos = rec.next;
    this.#batches = Math.max(0, this.#batches - 1);
    this.#lines = Math.max(0, this.#lines - rec.batch.lines);
    fs.writeFileSync(this.#readFile! + POS_EXT, String(this.#readPos));
    if (this.#batches === 0 || this.#readAt(fd, this.#readPos) === undefined) {
      const file = this.#readFile!;
      const writing = file === this.#files.at(-1) && this.#writeFd !== undefined;
      if (!writing) this.#finishFile(file);
      else if (this.#batches === 0) {
        // Everything sent: start the next outage with a fresh file.
        fs.closeSync(this.#writeFd!);
        this.#writeFd = undefined;
        this.#finishFile(file);
      }
    }
  }

  /** Closes the files and removes the pid file (spool files with unsent batches stay). */
  close(): void {
    this.#closeRead();
    if (this.#writeFd !== undefined) fs.closeSync(this.#writeFd);
    this.#writeFd = undefined;
    if (this.#batches === 0) for (const f of this.#files.splice(0)) this.#remove(f);
    fs.rmSync(path.join(this.dir, this.owner + PID_EXT), { force: true });
  }

  #finishFile(file: string): void {
    if (this.#readFile === file) this.#closeRead();
    this.#files = this.#files.filter((f) => f !== file);
    this.#remove(file);
  }

  #remove(file: string): void {
    fs.rmSync(file, { force: true });
    fs.rmSync(file + POS_EXT, { force: true });
  }

  #closeRead(): void {
    if (this.#readFd !== undefined) fs.closeSync(this.#readFd);
    this.#readFd = undefined;
    this.#readFile = undefined;
  }

  /** The record at `pos`, or undefined at the end (or at a torn last record). */
  #readAt(fd: number, pos: number): { batch: SpooledBatch; next: number } | undefined {
    const head = Buffer.alloc(256);
    const n = fs.readSync(fd, head, 0, head.length, pos);
    const nl = head.subarray(0, n).indexOf(10);
    if (nl < 0) return undefined;
    const [unique, lines, bytes] = head.subarray(0, nl).toString('utf8').split('\t');
    const length = Number(bytes);
    if (!unique || !Number.isInteger(length) || length < 0) return undefined;
    const data = Buffer.alloc(length);
    const got = fs.readSync(fd, data, 0, length, pos + nl + 1);
    if (got < length) return undefined;
    return { batch: { unique, lines: Number(lines) || 0, data }, next: pos + nl + 1 + length };
  }

  #count(file: string): { batches: number; lines: number } {
    const fd = fs.openSync(file, 'r');
    try {
      let pos = readPos(file);
      let batches = 0;
      let lines = 0;
      for (let rec = this.#readAt(fd, pos); rec; rec = this.#readAt(fd, pos)) {
        batches++;
        lines += rec.batch.lines;
        pos = rec.next;
      }
      return { batches, lines };
    } finally {
      fs.closeSync(fd);
    }
  }
}
