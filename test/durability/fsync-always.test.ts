/**
 * `--fsync always` (commit reaches the disk before JOB_CREATED) works end to end with SQLite and
 * PostgreSQL: jobs submitted with the `gearman` tool survive kill -9 and are run, in priority
 * order, by `gearman -w` after the restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { run, tempDir } from '../store/helpers.ts';
import { waitFor } from '../helpers/ports.ts';
import { makePlace, type StoreKind } from './helpers/places.ts';
import { startServer } from './helpers/server-process.ts';

for (const kind of ['sqlite', 'postgres'] as StoreKind[]) {
  test(`${kind} --fsync always: jobs from gearman -b survive kill -9 and gearman -w runs them high, normal, low`, async (t) => {
    const place = await makePlace(t, kind);
    const args = [...place.args, '--fsync', 'always'];
    const first = await startServer(t, args);
    const gearman = (port: number, flags: string[], input?: string) => run('gearman', ['-h', '127.0.0.1', '-p', String(port), ...flags], input);
    gearman(first.port, ['-b', '-f', 'smoke', '-L'], 'low one');
    gearman(first.port, ['-b', '-f', 'smoke'], 'normal one');
    gearman(first.port, ['-b', '-f', 'smoke', '-I'], 'high one');
    gearman(first.port, ['-b', '-f', 'smoke'], 'normal two');
    t.is((await place.storedUniques()).length, 4);

    await first.kill9();
    const second = await startServer(t, args);
    const out = path.join(tempDir(t), 'ran.txt');
    gearman(second.port, ['-w', '-f', 'smoke', '-c', '4', '--', 'sh', '-c', `cat >> '${out}'; echo >> '${out}'`]);
    t.deepEqual(fs.readFileSync(out, 'utf8').split('\n').slice(0, -1), ['high one', 'normal one', 'normal two', 'low one']);
    await waitFor(async () => (await place.storedUniques()).length === 0, 'the store to be empty');
  });
}
