/**
 * `geartrain report RESULT.json [--out FILE]`: the HTML report of a finished run, from the
 * `--json` output of `geartrain run JOB` (`-` reads it from stdin). One self-contained file: no
 * network is needed to open it.
 */
import fs from 'node:fs';
import { InvalidArgumentError } from '../errors.ts';
import { reportInputSchema } from '../report/report-input.ts';
import { renderReportFromRun } from '../report/render-report.ts';
import { parseFlags } from './conventions.ts';
import type { CliIO } from './io.ts';

export const summary = 'render the HTML report of a run from its --json output';

const HELP = `usage: geartrain report RESULT.json [--out FILE] [--title TEXT]

  RESULT.json      the --json output of 'geartrain run JOB' (analyze gives every panel); - reads stdin
  -o, --out FILE   write the HTML to FILE (default: standard output)
  --title TEXT     the page title (default: the job and the period)
  -H, --help       this help

The report is one HTML file with its styles, script, charts and data inside: it opens offline.
`;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('geartrain report', {
    args: argv,
    options: { out: { type: 'string', short: 'o' }, title: { type: 'string' }, help: { type: 'boolean', short: 'H' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length === 0) {
    io.stderr.write(HELP);
    return 2;
  }
  if (positionals.length > 1) {
    throw new InvalidArgumentError(`give one RESULT.json (the --json output of 'geartrain run JOB'; - reads stdin), got ${positionals.length} (try: geartrain report -H)`, { field: 'RESULT.json' });
  }
  const source = positionals[0]!;
  const text = source === '-' ? await readAll(io.stdin) : fs.readFileSync(source, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`${source} is not JSON (${(err as Error).message}); give the output of 'geartrain run JOB --json'`, { field: 'RESULT.json' });
  }
  const parsed = reportInputSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(root)';
    throw new InvalidArgumentError(`${source}: ${field}: ${issue.message} (expected the output of 'geartrain run JOB --json')`, { field });
  }
  const html = renderReportFromRun(parsed.data, values.title !== undefined ? { title: values.title } : {});
  if (values.out !== undefined) fs.writeFileSync(values.out, html);
  else io.stdout.write(html);
  return 0;
}
