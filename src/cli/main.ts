/**
 * `geartrain <command> [flags]`: one module per sub-command, each exporting
 * `run(argv, io) => Promise<exit code>`. Flags follow gearmand's tools where they exist
 * (docs/DESIGN.md has the table); `-H`/`--help` prints help because `-h` means host. Exit
 * statuses are the same for every command (conventions.ts, README "Exit statuses").
 */
import { GEARTRAIN_VERSION } from '../version.ts';
import { didYouMean } from '../suggest.ts';
import { EXIT, exitStatusOf } from './conventions.ts';
import { formatCliError, type CliIO, processIO } from './io.ts';

type CommandModule = { run(argv: string[], io: CliIO): Promise<number>; summary: string };

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  server: () => import('./server.ts'),
  job: () => import('./job.ts'),
  admin: () => import('./admin.ts'),
  run: () => import('./run.ts'),
  analyze: () => import('./analyze.ts'),
  fields: () => import('./fields.ts'),
  report: () => import('./report.ts'),
  node: () => import('./node.ts'),
  nodes: () => import('./nodes.ts'),
  ship: () => import('./ship.ts'),
  'gen-logs': () => import('./gen-logs.ts'),
  demo: () => import('./demo.ts'),
  top: () => import('./top.ts'),
  pg: () => import('./pg.ts'),
};

async function usage(out: NodeJS.WritableStream): Promise<void> {
  out.write('usage: geartrain <command> [flags]   (geartrain help <command>, or geartrain <command> -H, for its flags)\n\ncommands:\n');
  for (const [name, load] of Object.entries(COMMANDS)) {
    let summary: string;
    try {
      summary = (await load()).summary;
    } catch {
      continue; // a command whose module is not built yet is simply not listed
    }
    out.write(`  ${name.padEnd(10)} ${summary}\n`);
  }
  out.write('\n  -V, --version        print the version\n  -H, --help           this help\n\nexit status: 0 ok, 1 failure, 2 usage error, 3 incomplete result, 130 interrupted (143 on SIGTERM)\n');
}

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '-V' || name === '--version' || name === 'version') {
    io.stdout.write(`geartrain ${GEARTRAIN_VERSION}\n`);
    return EXIT.OK;
  }
  if (name === 'help' && rest[0] !== undefined && !rest[0].startsWith('-')) return main([rest[0], '-H', ...rest.slice(1)], io);
  if (!name || name === '-H' || name === '--help' || name === 'help') {
    await usage(io.stdout);
    return name ? EXIT.OK : EXIT.USAGE;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr.write(`geartrain: unknown command '${name}'${didYouMean(name, Object.keys(COMMANDS))} (try: geartrain --help)\n`);
    return EXIT.USAGE;
  }
  try {
    const mod = await load();
    return await mod.run(rest, io);
  } catch (err) {
    io.stderr.write(formatCliError(`geartrain ${name}`, err) + '\n');
    return exitStatusOf(err, io.signal);
  }
}
