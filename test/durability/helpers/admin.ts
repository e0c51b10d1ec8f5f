/** Admin-protocol views of a running server, parsed with a plain tab split. */
import { adminRequest } from '../../helpers/gearmand.ts';

function rows(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l !== '' && l !== '.')
    .map((l) => l.split('\t'));
}

/** `status` for one function as { total, running } (zeros when the server does not list it). */
export async function functionStatus(port: number, fn: string): Promise<{ total: number; running: number }> {
  const row = rows(await adminRequest(port, 'status')).find((r) => r[0] === fn);
  return { total: Number(row?.[1] ?? 0), running: Number(row?.[2] ?? 0) };
}

/** `prioritystatus` for one function as [high, normal, low]. */
export async function priorityCounts(port: number, fn: string): Promise<number[]> {
  const row = rows(await adminRequest(port, 'prioritystatus')).find((r) => r[0] === fn);
  return row ? [Number(row[1]), Number(row[2]), Number(row[3])] : [0, 0, 0];
}

/** `show unique jobs`, sorted. */
export async function liveUniques(port: number): Promise<string[]> {
  return rows(await adminRequest(port, 'show unique jobs'))
    .map((r) => r[0]!)
    .sort();
}
