/**
 * The multi-host test bed: hosts on a private L2 network of network namespaces
 * (scripts/testbed/netbed.sh makes and removes them), geartrain and other programs started
 * inside them, and links cut and restored while the processes stay alive.
 *
 * Each test file takes a network number of its own (10.213.NET.0/24, bed `gtNET`), so files run
 * in parallel never share addresses or namespaces. The root namespace is not on the network:
 * every byte of a test goes between addresses inside namespaces the test made. Needs root.
 *
 *   const bed = await TestBed.create(t, 3, ['srv', 'web1', 'web2']);
 *   const server = await bed.startServer(t, 'srv');          // geartrain server on 10.213.3.1:4730
 *   await startNode(t, { …, servers: server.address, wrap: bed.wrap('web1') });
 *   await bed.cut('web1'); … await bed.restore('web1');
 *
 * Everything is removed at teardown, and a bed an earlier run left behind (a killed test
 * process) is removed before the new one is made.
 */
import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { runGeartrain, spawnGeartrain, spawnProcess, waitForLine, type Proc } from './cluster.ts';
import { waitFor } from './ports.ts';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/testbed/netbed.sh');
const run = promisify(execFile);

/** The job server port inside a namespace: each namespace has a port space of its own. */
export const BED_PORT = 4730;

export interface BedServer extends Proc {
  /** `ADDRESS:PORT` as the other hosts reach it. */
  readonly address: string;
}

/** Beds not destroyed yet: removed when the test process exits without its teardowns. */
const live = new Set<TestBed>();
let hooked = false;

function removeLiveBeds(): void {
  for (const bed of live) {
    try {
      execFileSync(SCRIPT, ['down', bed.name], { stdio: 'ignore' });
    } catch {
      // the process is exiting; the next run's `up` sweeps what is left
    }
  }
  live.clear();
}

/** On exit, and on the SIGTERM ava sends a test process that timed out. */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', removeLiveBeds);
  process.once('SIGTERM', () => {
    removeLiveBeds();
    process.exit(143);
  });
}

export class TestBed {
  readonly name: string;
  readonly net: number;
  readonly #addresses: ReadonlyMap<string, string>;

  private constructor(net: number, hosts: readonly string[]) {
    this.net = net;
    this.name = `gt${net}`;
    this.#addresses = new Map(hosts.map((h, i) => [h, `10.213.${net}.${i + 1}`]));
  }

  /** Makes hosts `hosts[i]` at 10.213.NET.(i+1); removed at the test's teardown. */
  static async create(t: ExecutionContext, net: number, hosts: readonly string[]): Promise<TestBed> {
    const bed = new TestBed(net, hosts);
    // Registered first, so it runs after the teardowns of the processes started in the bed.
    t.teardown(() => bed.destroy());
    // Also when the test process ends without its teardowns (ava's timeout).
    live.add(bed);
    hookExit();
    await run(SCRIPT, ['up', bed.name, String(net), ...hosts]);
    return bed;
  }

  get hosts(): string[] {
    return [...this.#addresses.keys()];
  }

  address(host: string): string {
    const a = this.#addresses.get(host);
    if (!a) throw new Error(`no host ${host} in bed ${this.name}`);
    return a;
  }

  /** The command prefix that runs a program inside `host` (for spawnGeartrain and startNode). */
  wrap(host: string): string[] {
    this.address(host);
    return [SCRIPT, 'exec', this.name, host];
  }

  /** `geartrain COMMAND ARGS` inside `host`. */
  geartrain(t: ExecutionContext, host: string, command: string, args: string[], env: Record<string, string> = {}): Proc {
    return spawnGeartrain(t, command, args, env, this.wrap(host));
  }

  /** Any program inside `host`. */
  spawn(t: ExecutionContext, host: string, argv: readonly string[], env: Record<string, string> = {}): Proc {
    return spawnProcess(t, [...this.wrap(host), ...argv], env);
  }

  /** `geartrain COMMAND ARGS` inside `host`, to its end: exit code and output. */
  runGeartrain(t: ExecutionContext, host: string, command: string, args: string[], env: Record<string, string> = {}): ReturnType<typeof runGeartrain> {
    return runGeartrain(t, command, args, env, this.wrap(host));
  }

  /** `geartrain server` listening on `host`'s address, port 4730; resolves at its ready line. */
  async startServer(t: ExecutionContext, host: string, args: string[] = []): Promise<BedServer> {
    const address = `${this.address(host)}:${BED_PORT}`;
    const p = this.geartrain(t, host, 'server', ['-L', this.address(host), '-p', String(BED_PORT), '-q', 'memory', '--verbose', 'ERROR', ...args]);
    await waitForLine(p, new RegExp(`^listening on ${address.replace(/\./g, '\\.')}$`, 'm'), `geartrain server on ${host}`);
    return Object.assign(p, { address });
  }

  /** Debian's gearmand listening on `host`'s address, port 4730; resolves once it answers. */
  async startGearmand(t: ExecutionContext, host: string): Promise<BedServer> {
    const ip = this.address(host);
    const p = this.spawn(t, host, ['gearmand', '--listen', ip, '--port', String(BED_PORT), '--threads', '1', '--log-file', 'stderr', '--verbose', 'ERROR']);
    const address = `${ip}:${BED_PORT}`;
    await waitFor(async () => {
      if (p.exitCode !== null) throw new Error(`gearmand exited (${p.exitCode}): ${p.stderrText()}`);
      return (await this.admin(host, address, 'version').catch(() => '')).startsWith('OK');
    }, `gearmand on ${host}`, 20_000, 100);
    return Object.assign(p, { address });
  }

  /**
   * One admin command (`status`, `workers`…) sent from inside `host` (the test process is not on
   * the network) to the job server at `address`; resolves with the reply text.
   */
  async admin(host: string, address: string, line: string, timeoutMs = 3000): Promise<string> {
    const [ip, port] = address.split(':') as [string, string];
    const { stdout } = await run(SCRIPT, ['exec', this.name, host, process.execPath, '-e', ADMIN, ip, port, line, String(timeoutMs)]);
    return stdout;
  }

  /**
   * Resolves once the reply of the admin `line` sent from inside `host` to `address` matches `re`:
   * one process in the host asks every 20 ms (a process per question, as `admin` starts, would
   * miss a state that lasts a second on a busy machine). Rejects after `timeoutMs`.
   */
  async waitForAdmin(host: string, address: string, line: string, re: RegExp, timeoutMs: number): Promise<void> {
    const [ip, port] = address.split(':') as [string, string];
    try {
      await run(SCRIPT, ['exec', this.name, host, process.execPath, '-e', WATCH_ADMIN, ip, port, line, re.source, String(timeoutMs)]);
    } catch {
      throw new Error(`${host}: the reply to ${JSON.stringify(line)} from ${address} did not match ${re} within ${timeoutMs} ms`);
    }
  }

  /** One more address for `host` (`10.0.0.5/24`): other hosts with an address in its net reach it. */
  async addAddress(host: string, cidr: string): Promise<void> {
    this.address(host);
    await run(SCRIPT, ['addr', this.name, host, cidr]);
  }

  /** Kills every process inside `host` (what its commands left running), keeping the host. */
  async killAll(host: string): Promise<void> {
    this.address(host);
    await run(SCRIPT, ['killall', this.name, host]);
  }

  /** Takes `host`'s port on the bridge down: its processes live on, its packets go nowhere. */
  async cut(host: string): Promise<void> {
    await run(SCRIPT, ['cut', this.name, host]);
  }

  async restore(host: string): Promise<void> {
    await run(SCRIPT, ['restore', this.name, host]);
  }

  /** Kills what runs inside the bed and removes its namespaces and links. */
  async destroy(): Promise<void> {
    live.delete(this);
    await run(SCRIPT, ['down', this.name]);
  }
}

/** Sends one admin line and prints the reply once complete (`OK…`/`ERR…`, or a listing's `.`). */
const ADMIN = `
const [ip, port, line, ms] = process.argv.slice(1);
let text = '';
const s = require('net').connect(Number(port), ip, () => s.write(line + '\\n'));
s.setEncoding('latin1');
s.on('data', (d) => {
  text += d;
  if (/^(OK|ERR)[^\\n]*\\n/.test(text) || /(^|\\n)\\.\\r?\\n$/.test(text)) process.stdout.write(text, () => process.exit(0));
});
s.on('error', () => process.exit(1));
setTimeout(() => process.exit(1), Number(ms));
`;

/** Asks one admin line every 20 ms until the reply matches a pattern (exit 0) or time is up (exit 1). */
const WATCH_ADMIN = `
const [ip, port, line, pattern, ms] = process.argv.slice(1);
const re = new RegExp(pattern);
setTimeout(() => process.exit(1), Number(ms));
const ask = () => {
  let text = '';
  const s = require('net').connect(Number(port), ip, () => s.write(line + '\\n'));
  s.setEncoding('latin1');
  s.on('data', (d) => {
    text += d;
    if (!/^(OK|ERR)[^\\n]*\\n/.test(text) && !/(^|\\n)\\.\\r?\\n$/.test(text)) return;
    s.destroy();
    if (re.test(text)) process.exit(0);
    setTimeout(ask, 20);
  });
  s.on('error', () => setTimeout(ask, 20));
};
ask();
`;
