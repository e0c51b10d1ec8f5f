/**
 * Who a visitor is: a 96-bit hash of its identity (address, or address and User-Agent) is the
 * shuffle key, and what the map side knows of recent agents (crawler or not, visitors' keys by
 * address) saves classifying and hashing long agents at every click.
 */
import { detachString, UserAgentClassifier } from '../../src/logs/index.ts';
import { hashLanes, lanes } from '../../src/sketches/index.ts';

const classifier = new UserAgentClassifier();
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** 96-bit hash of the visitor identity as 16 base64url characters: the shuffle key. */
function visitorKey(identity: string): string {
  hashLanes(identity, 0x9747b28c, 0x5bd1e995);
  const a = lanes.a;
  const b = lanes.b;
  hashLanes(identity, 0x1b873593, 0x68e31da4);
  const c = lanes.a;
  let out = '';
  // The top 30 bits of each word as five characters, then the three low 2-bit pairs as one.
  for (const w of [a, b, c]) {
    out += B64[(w >>> 26) & 63]! + B64[(w >>> 20) & 63]! + B64[(w >>> 14) & 63]! + B64[(w >>> 8) & 63]! + B64[(w >>> 2) & 63]!;
  }
  return out + B64[((a & 3) << 4) | ((b & 3) << 2) | (c & 3)]!;
}

export interface AgentEntry {
  readonly crawler: boolean;
  /** address → shuffle key */
  readonly hosts: Map<string, string>;
}

/**
 * What the map side knows of recent agents: crawler or not, and the shuffle keys of their
 * visitors by address. A visitor clicks many times; one lookup of its agent and one of its address
 * cost less than classifying and hashing 100+ characters of agent each time. One per task
 * configuration, so jobs with another visitor definition never share keys.
 */
export class Agents {
  readonly #byAgent: boolean;
  readonly #agents = new Map<string, AgentEntry>();
  #size = 0;

  constructor(byAgent: boolean) {
    this.#byAgent = byAgent;
  }

  entry(ua: string): AgentEntry {
    let e = this.#agents.get(ua);
    if (e === undefined) {
      if (this.#size >= 100_000) {
        this.#agents.clear();
        this.#size = 0;
      }
      e = { crawler: ua !== '' && ua !== '-' && classifier.classify(ua).crawler, hosts: new Map() };
      this.#agents.set(detachString(ua), e);
      this.#size++;
    }
    return e;
  }

  key(e: AgentEntry, host: string, ua: string): string {
    let key = e.hosts.get(host);
    if (key === undefined) {
      key = visitorKey(this.#byAgent ? `${host} ${ua}` : host);
      e.hosts.set(detachString(host), key);
      if (++this.#size >= 100_000) {
        this.#agents.clear();
        this.#size = 0;
      }
    }
    return key;
  }
}
