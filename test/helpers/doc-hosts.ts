/**
 * Hosts of a namespace bed (test/helpers/netns.ts) on which the test runs what a document says to
 * type (test/multihost/readme.test.ts, deploy.test.ts). Commands on one host are one shell session:
 * they share a working directory, and variables they export carry to the next command there.
 * `geartrain` is this checkout's command (bin/geartrain.js). /var/log, /var/spool and /var/lib are
 * directories of the test, bind-mounted in a private mount namespace of each command, so a
 * document's paths (/var/log/apache2/access.log*) are real files and nothing is written to the
 * machine's.
 */
import type { ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { GEARTRAIN } from '../client/helpers/cli.ts';
import type { Proc } from './cluster.ts';
import type { TestBed } from './netns.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Directories of the machine each host sees as a directory of the test (bind-mounted, private to the host's commands). */
const MOUNTS = ['/var/log', '/var/spool', '/var/lib'] as const;

/** Per host: its session directory (work/, session.env), and the trees bound on MOUNTS. */
export class DocHosts {
  readonly #bed: TestBed;
  readonly #hosts: readonly string[];
  readonly #dir: string;

  constructor(bed: TestBed, hosts: readonly string[], dir: string) {
    this.#bed = bed;
    this.#hosts = hosts;
    this.#dir = dir;
    for (const h of hosts) for (const d of ['work', 'bin', ...MOUNTS]) fs.mkdirSync(this.path(h, d), { recursive: true });
    for (const h of hosts) fs.writeFileSync(this.path(h, 'bin/geartrain'), `#!/bin/sh\nexec '${process.execPath}' '${GEARTRAIN}' "$@"\n`, { mode: 0o755 });
  }

  /** `sub` of `host`'s directory; a path of MOUNTS is the directory bound on it. */
  path(host: string, sub: string): string {
    return path.join(this.#dir, host, sub);
  }

  /** Starts `script` (a bash script) on `host`, in its session, with MOUNTS bound. */
  start(t: ExecutionContext, host: string, script: string, n: number): Proc {
    const file = this.path(host, `block-${n}.sh`);
    const session = this.path(host, 'session.env');
    fs.writeFileSync(
      file,
      [`cd '${this.path(host, 'work')}'`, `[ -f '${session}' ] && . '${session}'`, `export PATH='${this.path(host, 'bin')}':"$PATH"`, 'set -e', script, `export -p > '${session}'`, ''].join('\n'),
    );
    const bind = MOUNTS.map((m) => `mount --bind '${this.path(host, m)}' ${m}`).join(' && ');
    return this.#bed.spawn(t, host, ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${bind} && exec bash "$0"`, file], {
      TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json'),
    });
  }

  async stopAll(): Promise<void> {
    for (const h of this.#hosts) await this.#bed.killAll(h);
  }
}

/** A web server's logs under `varLog` (what it sees as /var/log), as the documents' node globs name them, generated. */
export async function makeLogs(varLog: string, seed = 20): Promise<string[]> {
  const dir = path.join(varLog, 'apache2');
  fs.mkdirSync(dir, { recursive: true });
  const files = [
    ['access.log.2.gz', { lines: 1500, seed: seed + 1, start: '2026-09-28', days: 1 }],
    ['access.log.1', { lines: 1500, seed: seed + 2, start: '2026-09-29', days: 2 }],
    ['access.log', { lines: 2000, seed: seed + 3, start: '2026-10-01', days: 3 }],
    ['other_vhosts_access.log', { lines: 1000, seed: seed + 4, start: '2026-10-01', days: 3, format: 'vhost_combined' as const }],
  ] as const;
  for (const [name, o] of files) await writeLog(path.join(dir, name), { node: 0, invalidRate: 0, oddRate: 0, ...o });
  return files.map(([name]) => path.join(dir, name));
}

/** Status classes by awk over the logs (the status is field 9 of combined, 10 of vhost_combined). */
export function awkStatusClasses(files: readonly string[]): [string, number][] {
  const script = `for f in "$@"; do case "$f" in *vhost*) col=10;; *) col=9;; esac; zcat -f "$f" | awk -v c=$col '{print substr($c,1,1) "xx"}'; done | sort | uniq -c`;
  const out = execFileSync('sh', ['-c', script, 'sh', ...files], { env: { ...process.env, LC_ALL: 'C' } }).toString();
  return out.trim().split('\n').map((l) => l.trim().split(/\s+/)).map(([n, k]) => [k!, Number(n)] as [string, number]).sort();
}

export function shownStatusClasses(output: string): [string, number][] {
  return [...output.matchAll(/^([1-5]xx) +([\d,]+)$/gm)].map((m) => [m[1]!, Number(m[2]!.replace(/,/g, ''))] as [string, number]).sort();
}

