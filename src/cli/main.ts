/**
 * `geartrain <command> [flags]`: one module per sub-command, each exporting
 * `run(argv, io) => Promise<exit code>`. Flags follow gearmand's tools where they exist
 * (shared/DESIGN.md has the table); `-H`/`--help` prints help because `-h` means host.
 */
import { formatCliError, type CliIO, processIO } from './io.ts';

type CommandModule = { run(argv: string[], io: CliIO): Promise<number>; summary: string };

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  server: () => import('./server.ts'),
  job: () => import('./job.ts'),
  admin: () => import('./admin.ts'),
  run: () => import('./run.ts'),
  analyze: () => import('./analyze.ts'),
  report: () => import('./report.ts'),
  node: () => import('./node.ts'),
  ship: () => import('./ship.ts'),
  'gen-logs': () => import('./gen-logs.ts'),
  demo: () => import('./demo.ts'),
  top: () => import('./top.ts'),
  pg: () => import('./pg.ts'),
};

function usage(io: CliIO, summaries: [string, string][]): void {
  io.stdout.write('usage: geartrain <command> [flags]   (geartrain <command> -H for its flags)\n\ncommands:\n');
  for (const [name, summary] of summaries) io.stdout.write(`  ${name.padEnd(10)} ${summary}\n`);
}

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-H' || name === '--help' || name === 'help') {
    const summaries: [string, string][] = [];
    for (const [n, load] of Object.entries(COMMANDS)) {
      try {
        summaries.push([n, (await load()).summary]);
      } catch {
        // a command whose module is not built yet is simply not listed
      }
    }
    usage(io, summaries);
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr.write(`geartrain: unknown command '${name}' (try: geartrain --help)\n`);
    return 2;
  }
  try {
    const mod = await load();
    return await mod.run(rest, io);
  } catch (err) {
    io.stderr.write(formatCliError(`geartrain ${name}`, err) + '\n');
    return 1;
  }
}
