/**
 * `geartrain fields`: the field names `count --by`, `top`, `sort --by` and `--where` accept, their
 * types and examples (from logs/fields.ts's FIELD_DOCS); every job's help ends with the same list.
 */
import { compileLogFormat } from '../logs/format.ts';
import { FIELD_DOCS, type FieldDoc } from '../logs/fields.ts';
import { HELP_LINE, parseFlags } from './conventions.ts';
import type { CliIO } from './io.ts';
import { textTable } from '../report/table.ts';

export const summary = 'list the log fields jobs and --where accept, with types and examples';

const HELP = `usage: geartrain fields [--format F] [--json]

Lists every field name \`count --by\`, \`top\`, \`sort --by\` and \`--where\` accept: its type, an
example value, the LogFormat directives (or fields) it comes from, and what it holds. Derived
fields (day, hour, statusClass, browser, os, device, bot) are computed only for jobs that ask.

  --format F             only the fields this LogFormat (nickname or string) provides
  --json                 the list as JSON
${HELP_LINE}
`;

function table(docs: readonly FieldDoc[], withSource: boolean): string {
  return textTable({
    columns: withSource ? ['field', 'type', 'example', 'from', 'what'] : ['field', 'type', 'example', 'what'],
    rows: docs.map((d) => {
      const name = d.derived ? `${d.name} *` : d.name;
      return withSource ? [name, d.type, d.example, d.from, d.about] : [name, d.type, d.example, d.about];
    }),
  });
}

/** The fields section of every job's help. */
export function fieldsHelp(): string {
  return `fields (count --by, top, sort --by, --where; * derived; geartrain fields says where each comes from):\n${table(FIELD_DOCS, false)}`;
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags('geartrain fields', {
    args: argv,
    options: { format: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'H' } },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const format = values.format !== undefined ? compileLogFormat(values.format) : null;
  const docs = format ? FIELD_DOCS.filter((d) => d.name.includes(':') || format.provides(d.name)) : FIELD_DOCS;
  if (values.json) io.stdout.write(JSON.stringify(docs, null, 2) + '\n');
  else io.stdout.write(`${table(docs, true)}\n* derived: computed from the fields in 'from', only for jobs that ask for them\n`);
  return 0;
}
