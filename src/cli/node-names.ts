/**
 * The nodes a user says must take part: `--nodes a,b,c`, or `--nodes-file FILE` (names separated
 * by commas, spaces or lines; `#` starts a comment), or `GEARTRAIN_NODES=a,b,c`, the first given.
 */
import fs from 'node:fs';
import { InvalidArgumentError } from '../errors.ts';

const NODE_NAME = /^[^\s,#@]{1,200}$/;

export const NODE_NAMES_HELP = `  --nodes A,B,C          the nodes that must take part: exactly these are expected (default: the
                         nodes this machine remembers for these job servers, and those the servers
                         list); also GEARTRAIN_NODES=A,B,C
  --nodes-file FILE      the same, from a file (names by commas, spaces or lines; # comments)`;

function parseNames(text: string, label: string, field: string): string[] {
  const names = text
    .split('\n')
    .map((line) => line.replace(/#.*/, ''))
    .join(' ')
    .split(/[\s,]+/)
    .filter((n) => n.length > 0);
  for (const n of names) if (!NODE_NAME.test(n)) throw new InvalidArgumentError(`${label}: ${JSON.stringify(n)} is not a node name`, { field });
  if (names.length === 0) throw new InvalidArgumentError(`${label} names no node`, { field });
  return [...new Set(names)];
}

/** The named nodes, or undefined when none were given. */
export function namedNodes(flags: { nodes?: string | undefined; 'nodes-file'?: string | undefined }, env: NodeJS.ProcessEnv): string[] | undefined {
  if (flags.nodes !== undefined && flags['nodes-file'] !== undefined) throw new InvalidArgumentError('use either --nodes or --nodes-file, not both', { field: 'nodes' });
  if (flags.nodes !== undefined) return parseNames(flags.nodes, '--nodes', 'nodes');
  const file = flags['nodes-file'];
  if (file !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new InvalidArgumentError(`--nodes-file ${file}: ${(err as Error).message}`, { field: 'nodes-file' });
    }
    return parseNames(text, `--nodes-file ${file}`, 'nodes-file');
  }
  if (env.GEARTRAIN_NODES !== undefined && env.GEARTRAIN_NODES.trim() !== '') return parseNames(env.GEARTRAIN_NODES, 'GEARTRAIN_NODES', 'GEARTRAIN_NODES');
  return undefined;
}
