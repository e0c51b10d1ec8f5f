/**
 * The README is executable: every `sh` and `ts` block of README.md runs here, in order, and what
 * it prints is checked; every other block has a marker saying what is checked instead
 * (test/helpers/readme-blocks.ts lists the markers).
 *
 * The README uses the default port 4730 and example addresses (a job server on 10.0.0.5). They
 * run as written, with no substitution, inside network namespaces this test makes
 * (test/helpers/netns.ts): hosts `local` (the one-machine examples), `srv` (10.0.0.5), `web1`
 * (10.0.0.11) and `coord` (10.0.0.20) on a private bridge. Each namespace has its own loopback and
 * ports, so 4730 inside one is never the machine's 4730, and no byte leaves the namespaces.
 *
 * Blocks on one host are one shell session, with the README's paths (/var/log/apache2/…) real
 * files of the test (test/helpers/doc-hosts.ts). `geartrain` is this checkout's command;
 * `import … from 'geartrain'` in a TypeScript block is its sources (the package's tsconfig paths).
 * Services (`service` marker) are stopped when their `##` section ends. Needs root (run by .ci/run with test/multihost).
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/cluster.ts';
import { awkStatusClasses, DocHosts, makeLogs, shownStatusClasses } from '../helpers/doc-hosts.ts';
import { TestBed } from '../helpers/netns.ts';
import { waitFor } from '../helpers/ports.ts';
import { readmeBlocks, type Block, type Directive } from '../helpers/readme-blocks.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const TSX = fileURLToPath(import.meta.resolve('tsx'));

/** The README's hosts and the addresses it names. */
const HOSTS = ['local', 'srv', 'web1', 'coord'] as const;
const ADDRESSES: Readonly<Record<string, string>> = { srv: '10.0.0.5/24', web1: '10.0.0.11/24', coord: '10.0.0.20/24' };

function directive<K extends Directive['kind']>(b: Block, kind: K): Extract<Directive, { kind: K }> | undefined {
  return b.directives?.find((d): d is Extract<Directive, { kind: K }> => d.kind === kind);
}

function all<K extends Directive['kind']>(b: Block, kind: K): Extract<Directive, { kind: K }>[] {
  return (b.directives ?? []).filter((d): d is Extract<Directive, { kind: K }> => d.kind === kind);
}

test('every shell and TypeScript block of the README runs as written, and prints what it should', async (t) => {
  t.timeout(20 * 60_000);
  const blocks = readmeBlocks(README);
  const unmarked = blocks.filter((b) => b.directives === undefined && b.lang !== 'sh' && b.lang !== 'ts');
  t.deepEqual(unmarked.map((b) => `line ${b.line} (${b.lang || 'plain'})`), [], 'a block that is neither sh nor ts needs a test marker');

  const bed = await TestBed.create(t, 5, [...HOSTS]);
  for (const [host, cidr] of Object.entries(ADDRESSES)) await bed.addAddress(host, cidr);
  const hosts = new DocHosts(bed, [...HOSTS], tempDir(t, 'geartrain-readme-'));
  const logs = await makeLogs(hosts.path('web1', '/var/log'));
  const reference = awkStatusClasses(logs);

  let section = '';
  let n = 0;
  for (const b of blocks) {
    const where = `README line ${b.line}`;
    if (b.section !== section) {
      await hosts.stopAll();
      section = b.section;
    }
    const skip = directive(b, 'skip');
    if (skip) {
      for (const file of skip.reason.match(/test\/[\w/.-]+\.ts/g) ?? []) t.true(fs.existsSync(path.join(ROOT, file)), `${where}: ${file} (named by its marker) exists`);
      continue;
    }
    if (directive(b, 'layout')) {
      for (const line of b.code.trim().split('\n')) t.true(fs.existsSync(path.join(ROOT, line.split(/\s+/)[0]!)), `${where}: ${line.split(/\s+/)[0]} exists`);
      continue;
    }
    const host = directive(b, 'on')?.host ?? 'local';
    const file = directive(b, 'file');
    if (file) {
      fs.writeFileSync(path.join(hosts.path(host, 'work'), file.name), b.code);
      continue;
    }
    let script: string;
    if (directive(b, 'ship-pipe')) {
      // An Apache config line: its piped command, fed a few lines by the test (Apache has no
      // GEARMAN_SERVERS; the job server of the cluster is named in the environment instead).
      const piped = /"\|([^"]+)"/.exec(b.code)?.[1];
      t.truthy(piped, `${where}: a CustomLog line with a piped command`);
      script = `head -n 3 /var/log/apache2/access.log | GEARMAN_SERVERS=10.0.0.5:4730 ${piped!.replace(/^\S*\/geartrain /, 'geartrain ')}\n`;
    } else if (b.lang === 'ts') {
      const name = `block-${++n}.mts`;
      fs.writeFileSync(path.join(hosts.path(host, 'work'), name), b.code);
      script = `'${process.execPath}' --import '${TSX}' ${name}`;
    } else if (b.lang === 'sh') {
      script = b.code;
    } else {
      t.fail(`${where}: a ${b.lang || 'plain'} block with a marker that does not run it`);
      continue;
    }
    const p = hosts.start(t, host, script, ++n);
    const output = () => `${p.stdoutText()}\n${p.stderrText()}`;
    const service = directive(b, 'service');
    if (service) {
      await waitFor(
        () => {
          if (service.ready.test(p.stdoutText())) return true;
          if (p.exitCode !== null) throw new Error(`${where}: exited ${p.exitCode} before it was ready:\n${output()}`);
          return undefined;
        },
        `${where} ready`,
        120_000,
      );
      continue;
    }
    const code = await p.exited();
    if (process.env.README_TEST_DUMP) fs.writeFileSync(path.join(process.env.README_TEST_DUMP, `line-${b.line}.txt`), output());
    t.log(`${where} on ${host}: exit ${code}, ${p.stdoutText().split('\n').length - 1} line(s) out, ${p.stderrText().split('\n').length - 1} on stderr`);
    t.is(code, directive(b, 'exit')?.status ?? 0, `${where} on ${host} exits as expected:\n${output()}`);
    for (const e of all(b, 'expect')) t.regex(output(), e.re, `${where} on ${host}`);
    if (directive(b, 'status-classes')) t.deepEqual(shownStatusClasses(p.stdoutText()), reference, `${where}: the status classes are awk's`);
  }
  await hosts.stopAll();
});
