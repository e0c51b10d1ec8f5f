/**
 * The Prometheus text exposition format, version 0.0.4, written by hand (prom-client is not a
 * dependency): per metric family one `# HELP` and one `# TYPE` line, then its samples
 * `name{label="value",…} value`, families never interleaved.
 */
import { InvalidArgumentError } from '../../errors.ts';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge';
export type Labels = Readonly<Record<string, string>>;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export class ExpositionWriter {
  #out = '';
  readonly #families = new Set<string>();

  /** Start a family; its samples follow with `sample()`. A name may be used once. */
  family(name: string, type: MetricType, help: string): this {
    if (!NAME_RE.test(name)) throw new InvalidArgumentError(`bad metric name ${name}`, { field: 'name' });
    if (this.#families.has(name)) throw new InvalidArgumentError(`metric ${name} written twice`, { field: 'name' });
    this.#families.add(name);
    this.#out += `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
    return this;
  }

  sample(name: string, value: number, labels: Labels = {}): this {
    const keys = Object.keys(labels);
    let l = '';
    if (keys.length > 0) {
      const parts: string[] = [];
      for (const k of keys) {
        if (!LABEL_RE.test(k)) throw new InvalidArgumentError(`bad label name ${k}`, { field: 'labels' });
        parts.push(`${k}="${escapeLabel(labels[k]!)}"`);
      }
      l = `{${parts.join(',')}}`;
    }
    this.#out += `${name}${l} ${formatValue(value)}\n`;
    return this;
  }

  /** A family with a single unlabelled sample. */
  single(name: string, type: MetricType, help: string, value: number): this {
    return this.family(name, type, help).sample(name, value);
  }

  text(): string {
    return this.#out;
  }
}
