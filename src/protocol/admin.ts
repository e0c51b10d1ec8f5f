/**
 * The text admin protocol (gearmand `libgearman-server/text.cc`): one command per line, replies
 * either a single `OK …`/`ERR …` line or a listing that ends with a line holding only `.`.
 * Listings end their lines with `\n`; OK/ERR replies end with `\r\n` (gearmand mixes both).
 */

export interface AdminCommand {
  /** First token, lower-cased. Empty for an empty line. */
  readonly name: string;
  /** All tokens, original case (gearmand splits on spaces, runs collapsed, at most 5 tokens used). */
  readonly tokens: readonly string[];
}

export function parseAdminCommand(line: string): AdminCommand {
  const tokens = line.split(' ').filter((t) => t.length > 0);
  return { name: (tokens[0] ?? '').toLowerCase(), tokens };
}

/** How a command's reply ends, so a client knows when it has read all of it. */
export type ReplyShape = 'listing' | 'line';

export function replyShape(command: string): ReplyShape {
  const { name, tokens } = parseAdminCommand(command);
  if (name === 'status' || name === 'workers' || name === 'prioritystatus') return 'listing';
  if (name === 'show' && tokens.length >= 2) {
    const what = tokens[1]!.toLowerCase();
    if (what === 'jobs') return 'listing';
    if (what === 'unique' && (tokens[2] ?? '').toLowerCase() === 'jobs') return 'listing';
  }
  if (name === 'cache' && (tokens[1] ?? '').toLowerCase() !== 'flush') return 'listing';
  if (name === 'hooks') return 'listing';
  return 'line';
}

export interface FunctionStatus {
  readonly name: string;
  /** Jobs queued or running (gearmand's "total"). */
  readonly total: number;
  readonly running: number;
  /** CAN_DO registrations, idle or busy. */
  readonly workers: number;
}

export interface WorkerInfo {
  readonly fd: number;
  readonly ip: string;
  readonly clientId: string;
  readonly functions: readonly string[];
}

export interface PriorityStatus {
  readonly name: string;
  readonly high: number;
  readonly normal: number;
  readonly low: number;
  readonly workers: number;
}

export interface JobInfo {
  readonly handle: string;
  readonly retries: number;
  readonly ignore: boolean;
  readonly persisted: boolean;
}

/** Lines of a listing reply, without the final `.` line. */
export function listingLines(text: string): string[] {
  const lines = text.split('\n');
  const out: string[] = [];
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '.') break;
    out.push(line);
  }
  return out;
}

export function parseStatus(text: string): FunctionStatus[] {
  return listingLines(text)
    .filter((l) => l.length > 0)
    .map((line) => {
      const [name = '', total = '0', running = '0', workers = '0'] = line.split('\t');
      return { name, total: Number(total), running: Number(running), workers: Number(workers) };
    });
}

export function parsePriorityStatus(text: string): PriorityStatus[] {
  return listingLines(text)
    .filter((l) => l.length > 0)
    .map((line) => {
      const [name = '', high = '0', normal = '0', low = '0', workers = '0'] = line.split('\t');
      return { name, high: Number(high), normal: Number(normal), low: Number(low), workers: Number(workers) };
    });
}

export function parseWorkers(text: string): WorkerInfo[] {
  return listingLines(text)
    .filter((l) => l.length > 0)
    .map((line) => {
      // "FD IP CLIENT_ID : F1 F2"; an IPv6 address contains ':' but no space, so split on spaces.
      const colon = line.indexOf(' :');
      const head = (colon === -1 ? line : line.slice(0, colon)).split(' ');
      const tail = colon === -1 ? '' : line.slice(colon + 2);
      return {
        fd: Number(head[0]),
        ip: head[1] ?? '',
        clientId: head.slice(2).join(' '),
        functions: tail.split(' ').filter((f) => f.length > 0),
      };
    });
}

export function parseShowJobs(text: string): JobInfo[] {
  return listingLines(text)
    .filter((l) => l.length > 0)
    .map((line) => {
      const [handle = '', retries = '0', ignore = '0', persisted = '0'] = line.split('\t');
      return { handle, retries: Number(retries), ignore: ignore === '1', persisted: persisted === '1' };
    });
}

export function parseShowUniqueJobs(text: string): string[] {
  return listingLines(text);
}
