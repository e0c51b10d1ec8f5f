/**
 * clicks: click analytics over every node's logs — sessions, pages per session, session length,
 * entry and exit pages, click paths (page → next page) and an ordered funnel.
 *
 * A keyed job: each click is shuffled to the reducer of its visitor (hash of the visitor key), which
 * gets all of that visitor's clicks from every node in time order and cuts them into sessions. The
 * per-partition summaries are exact counts (maps and histograms), merged by adding, so any merge
 * order, any R and any split of the input over nodes give the same result.
 *
 * Definitions (also stated in the result's `definitions`):
 * - click (page view): a request whose method is in `--methods` (GET,POST), whose status is in
 *   `--status` (2xx,304: AWStats' ValidHTTPCodes idea; a redirect is left out because the page it
 *   leads to is a click of its own), whose path is not a static file (the extensions of analyze),
 *   and whose User-Agent is not a crawler or tool (`--crawlers include` keeps them);
 * - page: the path without the query string (`--page-key path+query` keeps it);
 * - visitor: a distinct (client address %h, User-Agent) pair, or `--visitor ip`; the shuffle key is
 *   a 96-bit hash of it, so two visitors collide with probability ~n²/2⁹⁷. In a format without a
 *   User-Agent (common) the visitor is the address and no request is known to be a crawler's;
 * - session: a visitor's clicks in time order, ending where the gap to the next click is more than
 *   `--timeout` minutes (30, as Webalizer; AWStats uses 60). Clicks with the same time are ordered
 *   by page, so the result does not depend on which node logged which;
 * - session day, duration: a session belongs to the day (`--timezone`, UTC by default) of its first
 *   click, even if it runs past midnight; its duration is last click − first click (0 for one page);
 *   a bounce is a one-page session;
 * - click path: two consecutive clicks of one session (repeats such as a reload count as A → A);
 * - funnel (`--funnel '/,/product/*,/cart'`): a session reaches step k when it visits steps 1..k in
 *   that order, other pages in between allowed; steps are globs over the page (`*` any characters,
 *   `/` included; `?` one character).
 */
import type { FieldName } from '../src/logs/index.ts';
import { defineJob } from '../src/mapreduce/job-definition.ts';
import type { ClicksResult } from '../src/report/analysis-result.ts';
import { configOf, funnelSteps, params, type Params } from './clicks/config.ts';
import { mapClick, type Rec } from './clicks/map.ts';
import { finalizeState, renderResult } from './clicks/result.ts';
import { ClicksState, reduceVisitor } from './clicks/sessions.ts';

export { ClicksState };

export default defineJob<Params, ClicksState, ClicksResult>({
  kind: 'keyed',
  name: 'clicks',
  description: 'click analytics: sessions, pages per session, session length, entry/exit pages, click paths, funnel',
  params,
  cli: {
    flags: {
      timeout: { param: 'timeout', type: 'number' },
      visitor: { param: 'visitor', type: 'string' },
      methods: { param: 'methods', type: 'string' },
      status: { param: 'status', type: 'string' },
      crawlers: { param: 'crawlers', type: 'string' },
      'static-ext': { param: 'staticExtensions', type: 'string' },
      'page-key': { param: 'pageKey', type: 'string' },
      timezone: { param: 'timezone', type: 'string', alias: 'tz' },
      funnel: { param: 'funnel', type: 'string' },
      limit: { param: 'limit', type: 'number' },
    },
    usage:
      "clicks [--timeout MIN] [--funnel '/,/product/*,/cart,/checkout'] [--visitor ip+agent|ip] [--methods GET,POST|*] [--status 2xx,304] " +
      '[--crawlers exclude|include] [--static-ext css,js,…] [--page-key path|path+query] [--timezone UTC|±HH:MM] [--limit N]',
  },
  input: (p) => {
    const fields: FieldName[] = ['host', 'time', 'method', 'path', 'status', 'userAgent'];
    if (p.pageKey === 'path+query') fields.push('query');
    return { records: fields };
  },
  mapKeyed(record, emit, ctx) {
    mapClick(record as Rec, emit, (name) => ctx.count(name), configOf(ctx.params));
  },
  create: (p) => new ClicksState(funnelSteps(p).length),
  reduceGroup(state, _key, values, p) {
    reduceVisitor(state, values, configOf(p));
  },
  merge: (into, other) => into.mergeFrom(other),
  encode: (state) => state.encode(),
  decode: (data, p) => ClicksState.decode(data, funnelSteps(p).length),
  finalize: (state, p, run) => finalizeState(state, p, run),
  render: (result) => renderResult(result),
});
