/**
 * analyze's panels in DuckDB SQL, the reference beside geartrain in bench:analyze (issue 17).
 *
 * The files are read by `read_csv` as one VARCHAR column per line (tab as the delimiter, no quote
 * or escape; `ignore_errors` drops the lines that are not UTF-8, binary garbage in the generated
 * logs) and split by one RE2 regular expression for the combined format. A line the expression does not match (garbage, truncated,
 * two records glued together, a non-numeric status or size) is not a request, as in geartrain.
 * The panels: status codes, top paths with bytes, 404 paths, hosts, referrers, user agents,
 * per-day requests / visitors / bytes, unique visitors (host + User-Agent, exact) and size
 * percentiles, all from one parsed temporary table, in one connection using every core.
 */

export interface DuckDbAnalysis {
  seconds: number;
  requests: number;
  /** status code → hits */
  statuses: Map<number, number>;
  visitors: number;
  days: number;
}

/**
 * `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`, quoted fields with backslash escapes.
 * Groups: host, time, request, status, bytes, referrer, agent.
 */
const COMBINED = String.raw`^(\S+) \S+ \S+ \[([^\]]+)\] "((?:[^"\\]|\\.)*)" ([1-9]\d\d) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"\r?$`;

/** The target of `METHOD TARGET PROTOCOL`. */
const TARGET = String.raw`^\S+ (.*?)(?: HTTP/[^ ]*)?$`;

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Runs every panel over `files`; the wall time covers reading, parsing and all the queries. */
export async function duckdbAnalyze(files: readonly string[], limit = 10): Promise<DuckDbAnalysis> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const t0 = process.hrtime.bigint();
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  try {
    const list = `[${files.map(sqlString).join(', ')}]`;
    // Most lines split at their six quotes into the seven pieces of a combined line, checked with
    // cheap string tests; the others (escaped quotes, a quoted user, junk) are matched by the
    // whole-line expression, one field per column. Lines over 64 KiB or with a NUL byte are not
    // records (geartrain's too_long and nul); the time is checked by strptime for all.
    const fast = `len(p) = 7 AND p[5] = ' ' AND (p[7] = '' OR p[7] = '\r') AND NOT contains(line, '\\')
                  AND len(string_split(p[1], ' ')) = 6 AND p[1] LIKE '% % % [% %] ' AND NOT contains(p[1], '\t')
                  AND len(string_split(p[3], ' ')) = 4 AND TRY_CAST(substr(p[3], 2, 3) AS USMALLINT) BETWEEN 100 AND 999
                  AND substr(p[3], 5, 1) = ' ' AND (split_part(p[3], ' ', 3) = '-' OR regexp_full_match(split_part(p[3], ' ', 3), '[0-9]+'))`;
    const field = (name: string, i: number, split: string) => `CASE WHEN fast THEN ${split} ELSE regexp_extract(line, ${sqlString(COMBINED)}, ${i}) END AS ${name}`;
    await db.run(`
      CREATE TEMP TABLE parsed AS
      WITH raw AS (
        SELECT line, p, ${fast} AS fast FROM (
          SELECT line, string_split(line, '"') AS p
          FROM read_csv(${list}, columns = {'line': 'VARCHAR'}, delim = '\t', quote = '', escape = '',
                        header = false, auto_detect = false, ignore_errors = true, strict_mode = false, null_padding = true)
          WHERE line IS NOT NULL AND strlen(line) <= 65536 AND NOT contains(line, chr(0)))
      ), m AS (
        SELECT ${field('host', 1, "split_part(p[1], ' ', 1)")},
               ${field('ts', 2, "split_part(split_part(p[1], '[', 2), ']', 1)")},
               ${field('request', 3, 'p[2]')},
               ${field('status', 4, 'substr(p[3], 2, 3)')},
               ${field('bytes', 5, "split_part(p[3], ' ', 3)")},
               ${field('referer', 6, 'p[4]')},
               ${field('agent', 7, 'p[6]')}
        FROM raw
      )
      SELECT host,
             -- the day as logged (each line in its own offset), as geartrain's default --timezone log
             CAST(try_strptime(substr(ts, 1, 11), '%d/%b/%Y') AS DATE) AS day,
             CAST(status AS INTEGER) AS status,
             coalesce(TRY_CAST(bytes AS BIGINT), 0) AS bytes,
             -- the target of "METHOD TARGET PROTOCOL" without its query string
             split_part(CASE WHEN NOT contains(request, ' ') THEN request WHEN request LIKE '% % HTTP/%' AND len(string_split(request, ' ')) = 3 THEN split_part(request, ' ', 2)
                             ELSE regexp_extract(request, ${sqlString(TARGET)}, 1) END, '?', 1) AS path,
             referer,
             agent
      FROM m WHERE host <> '' AND try_strptime(ts, '%d/%b/%Y:%H:%M:%S %z') IS NOT NULL`);
    const q = async (sql: string) => (await db.runAndReadAll(sql)).getRowObjectsJS();
    const statusRows = await q(`SELECT status, count(*) AS hits, sum(bytes) AS bytes FROM parsed GROUP BY status ORDER BY status`);
    await q(`SELECT path, count(*) AS hits, sum(bytes) AS bytes FROM parsed GROUP BY path ORDER BY hits DESC, path LIMIT ${limit}`);
    await q(`SELECT path, count(*) AS hits FROM parsed WHERE status = 404 GROUP BY path ORDER BY hits DESC, path LIMIT ${limit}`);
    await q(`SELECT host, count(*) AS hits, sum(bytes) AS bytes FROM parsed GROUP BY host ORDER BY hits DESC, host LIMIT ${limit}`);
    await q(`SELECT referer, count(*) AS hits, sum(bytes) AS bytes FROM parsed WHERE referer NOT IN ('-', '') GROUP BY referer ORDER BY hits DESC, referer LIMIT ${limit}`);
    await q(`SELECT agent, count(*) AS hits, sum(bytes) AS bytes FROM parsed GROUP BY agent ORDER BY hits DESC, agent LIMIT ${limit}`);
    const days = await q(`SELECT day, count(*) AS hits, sum(bytes) AS bytes, count(DISTINCT (host, agent)) AS visitors
                          FROM parsed GROUP BY day ORDER BY day`);
    const totals = await q(`SELECT count(*) AS requests, sum(bytes) AS bytes, count(DISTINCT (host, agent)) AS visitors,
                                   quantile_cont(bytes, [0.5, 0.9, 0.95, 0.99]) AS sizes FROM parsed`);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      seconds,
      requests: Number(totals[0]!.requests),
      statuses: new Map(statusRows.map((r) => [Number(r.status), Number(r.hits)])),
      visitors: Number(totals[0]!.visitors),
      days: days.length,
    };
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}
