import type { PoolConfig } from 'pg';
import { InvalidArgumentError } from '../../errors.ts';

/**
 * Connection settings for `pg` from either a `postgres://` / `postgresql://` URL or a libpq
 * keyword/value string as gearmand's `--libpq-conninfo` takes it
 * (`host=db port=5432 dbname=jobs user=gearman password='a b'`). An empty string means libpq's
 * defaults, which `pg` reads from PGHOST, PGUSER, … as well.
 */
export function pgConfigFromConninfo(conninfo: string, field = 'postgresUrl'): PoolConfig {
  const trimmed = conninfo.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) return { connectionString: trimmed };
  const config: PoolConfig = {};
  for (const [key, value] of parseKeywordValues(trimmed, field)) {
    switch (key) {
      case 'host':
      case 'hostaddr':
        config.host = value;
        break;
      case 'port':
        config.port = integer(key, value, field);
        break;
      case 'dbname':
        config.database = value;
        break;
      case 'user':
        config.user = value;
        break;
      case 'password':
        config.password = value;
        break;
      case 'connect_timeout':
        config.connectionTimeoutMillis = integer(key, value, field) * 1000;
        break;
      case 'application_name':
        config.application_name = value;
        break;
      case 'options':
        config.options = value;
        break;
      case 'sslmode':
        if (value === 'disable' || value === 'allow' || value === 'prefer') config.ssl = false;
        else if (value === 'require') config.ssl = { rejectUnauthorized: false };
        else if (value === 'verify-ca' || value === 'verify-full') config.ssl = true;
        else throw new InvalidArgumentError(`invalid ${field}: unknown sslmode '${value}'`, { field });
        break;
      default:
        throw new InvalidArgumentError(`invalid ${field}: unsupported connection keyword '${key}'`, { field });
    }
  }
  return config;
}

/** libpq's syntax: `key = value` pairs separated by spaces; values may be single-quoted with `\` escapes. */
function parseKeywordValues(text: string, field: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  for (skipSpace(); i < text.length; skipSpace()) {
    const keyStart = i;
    while (i < text.length && /[A-Za-z0-9_]/.test(text[i]!)) i++;
    const key = text.slice(keyStart, i);
    skipSpace();
    if (key === '' || text[i] !== '=') {
      throw new InvalidArgumentError(`invalid ${field}: expected 'keyword=value' at '${text.slice(keyStart)}'`, { field });
    }
    i++;
    skipSpace();
    let value = '';
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= text.length) throw new InvalidArgumentError(`invalid ${field}: unterminated quoted value for '${key}'`, { field });
        const ch = text[i++]!;
        if (ch === "'") break;
        value += ch === '\\' && i < text.length ? text[i++]! : ch;
      }
    } else {
      while (i < text.length && !/\s/.test(text[i]!)) {
        const ch = text[i++]!;
        value += ch === '\\' && i < text.length ? text[i++]! : ch;
      }
    }
    pairs.push([key, value]);
  }
  return pairs;
}

function integer(key: string, value: string, field: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`invalid ${field}: ${key} must be a number, got '${value}'`, { field });
  return Number(value);
}
