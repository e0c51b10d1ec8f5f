/**
 * renderReport: one self-contained HTML file from a finished analysis. No network at all: CSS,
 * script and SVG charts are inline, the data is embedded as JSON, and a Content-Security-Policy
 * forbids loading anything else. The page works without its script (charts are drawn at render
 * time); the script adds tooltips and a download link for the embedded data.
 */
import { GEARTRAIN_VERSION } from '../version.ts';
import { esc, jsonForScript } from './format.ts';
import { buildPanels, type Panel, type ReportData } from './panels.ts';
import type { ReportInput } from './report-input.ts';
import type { Table } from './table.ts';

export interface RenderReportOptions {
  /** Page title; default from the job and the period. */
  readonly title?: string;
  /** Run facts from the `--json` document or the coordinator's report. */
  readonly counters?: ReportData['counters'];
  readonly stats?: ReportData['stats'];
  readonly nodes?: ReportData['nodes'];
  readonly timings?: ReportData['timings'];
  readonly job?: string;
  readonly partial?: boolean;
  readonly missing?: ReportData['missing'];
  /** Shown in the header; default now. */
  readonly generatedAt?: Date;
  /** The job's own tables (as the terminal shows them), for results without panels of their own. */
  readonly tables?: readonly Table[];
}

const CSS = `
:root{color-scheme:light dark;--bg:#f5f6f8;--fg:#1c2230;--muted:#5b6474;--card:#fff;--line:#e2e5ea;--track:#eef0f3;--bar:#3566d6;--dot:#e8590c;
--c1:#868e96;--c2:#2f9e44;--c3:#1c7ed6;--c4:#f08c00;--c5:#e03131}
@media (prefers-color-scheme:dark){:root{--bg:#12151a;--fg:#e4e8ee;--muted:#9aa3b2;--card:#1b1f26;--line:#2b3039;--track:#262b33;--bar:#5b8def;--dot:#ff8a3d}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;background:var(--bg);color:var(--fg)}
header,main,footer{max-width:1280px;margin:0 auto;padding:12px 16px}
h1{font-size:1.35em;margin:.2em 0}
h2{font-size:1.05em;margin:0 0 .4em}
header .sub,footer,.note,.legend,dl.facts dt{color:var(--muted)}
nav{display:flex;flex-wrap:wrap;gap:4px 10px;margin-top:8px;font-size:.9em}
nav a{color:var(--bar);text-decoration:none}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,460px),1fr));grid-auto-flow:row dense;gap:14px;align-items:start}
section.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;min-width:0}
section.wide{grid-column:1/-1}
.note{margin:.1em 0 .6em;font-size:.9em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,140px),1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 10px;min-width:0}
.card .label{color:var(--muted);font-size:.85em}
.card .value{font-size:1.45em;font-weight:600;overflow-wrap:anywhere}
.card .sub{color:var(--muted);font-size:.85em}
figure.chart{margin:0 0 8px}
svg{display:block;width:100%;height:auto;max-height:320px;overflow:visible}
rect.mark{fill:var(--bar)}
circle.dot{fill:var(--dot);stroke:var(--card);stroke-width:.8}
.grid{stroke:var(--line);stroke-width:1}
text.axis{font-size:13px;fill:var(--muted)}
svg.stack{height:46px;max-height:46px}
rect.c1,.key.c1{fill:var(--c1);background:var(--c1)}
rect.c2,.key.c2{fill:var(--c2);background:var(--c2)}
rect.c3,.key.c3{fill:var(--c3);background:var(--c3)}
rect.c4,.key.c4{fill:var(--c4);background:var(--c4)}
rect.c5,.key.c5{fill:var(--c5);background:var(--c5)}
ul.legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.9em}
p.legend{font-size:.85em;margin:4px 0}
.key{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:baseline}
.key.bars{background:var(--bar)}.key.dots{background:var(--dot);border-radius:50%;margin-left:10px}
table{width:100%;border-collapse:collapse;table-layout:fixed}
th,td{padding:4px 6px;border-bottom:1px solid var(--line);vertical-align:top;text-align:left}
th{font-weight:600;color:var(--muted);font-size:.85em}
th:not(.k),td.n{text-align:right;width:6.2em}
td.n{white-space:nowrap}
th.wide{width:36%}
th{overflow-wrap:anywhere}
td.n .ref{white-space:normal;overflow-wrap:anywhere;text-align:left;display:block}
.kv{overflow-wrap:anywhere;word-break:break-word}
.track{height:6px;background:var(--track);border-radius:3px;margin-top:3px}
.bar{display:block;height:100%;background:var(--bar);border-radius:3px;min-width:2px}
dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(110px,1fr));gap:6px 12px;margin:6px 0 0}
dl.facts dd,dl.defs dd{margin:0;font-weight:600;overflow-wrap:anywhere}
dl.defs{display:grid;grid-template-columns:minmax(0,14em) minmax(0,1fr);gap:4px 14px;margin:0}
dl.defs div{display:contents}
dl.defs dt{color:var(--muted)}
dl.defs dd{font-weight:400}
.empty{color:var(--muted)}
footer a{color:var(--bar)}
#tip{position:fixed;z-index:10;pointer-events:none;background:var(--fg);color:var(--bg);padding:4px 8px;border-radius:4px;font-size:12px;max-width:80vw;overflow-wrap:anywhere}
@media (max-width:520px){header,main,footer{padding:8px 10px}section.panel{padding:10px}
th:not(.k),td.n{width:5.2em;font-size:12px}th{font-size:10.5px}th.wide{width:34%}th:nth-child(3),td:nth-child(3){display:none}
dl.defs{grid-template-columns:minmax(0,1fr)}dl.defs dd{margin-bottom:6px}text.axis{font-size:18px}}
`;

/** Tooltips on chart marks (tap or hover) and a download link for the embedded data. */
const SCRIPT = `
(function(){
  var tip=document.getElementById('tip');
  function show(e){
    var m=e.target.closest&&e.target.closest('.mark');
    if(!m){tip.hidden=true;return;}
    tip.textContent=m.getAttribute('data-label')+': '+m.getAttribute('data-text');
    tip.hidden=false;
    var x=(e.clientX||0)+12,y=(e.clientY||0)+12;
    var w=tip.offsetWidth,h=tip.offsetHeight;
    if(x+w>window.innerWidth-4)x=Math.max(4,window.innerWidth-w-4);
    if(y+h>window.innerHeight-4)y=Math.max(4,(e.clientY||0)-h-8);
    tip.style.left=x+'px';tip.style.top=y+'px';
  }
  document.addEventListener('mousemove',show);
  document.addEventListener('click',show);
  var a=document.getElementById('download');
  if(a&&window.Blob&&window.URL&&URL.createObjectURL){
    var text=document.getElementById('report-data').textContent;
    a.href=URL.createObjectURL(new Blob([text],{type:'application/json'}));
    a.hidden=false;
  }
})();
`;

function defaultTitle(d: ReportData): string {
  const totals = d.result.totals as { firstTime?: string | null; lastTime?: string | null } | undefined;
  const job = d.job ?? (typeof d.result.job === 'string' ? d.result.job : 'result');
  const from = totals?.firstTime?.slice(0, 10);
  const to = totals?.lastTime?.slice(0, 10);
  return `geartrain ${job}${from ? ` — ${from}${to && to !== from ? ` to ${to}` : ''}` : ''}`;
}

function panelHtml(p: Panel): string {
  return `<section class="panel${p.wide ? ' wide' : ''}" id="${esc(p.id.replace(/[^A-Za-z0-9_-]/g, '-'))}"><h2>${esc(p.title)}</h2>${p.note ? `<p class="note">${esc(p.note)}</p>` : ''}${p.html}</section>`;
}

/**
 * The HTML report for a finalized result (`analyze`'s, or any result whose sections the report
 * knows), with the run's facts from `options`. Returns the whole page as a string.
 */
export function renderReport(result: unknown, options: RenderReportOptions = {}): string {
  const data: ReportData = {
    result: result !== null && typeof result === 'object' && !Array.isArray(result) ? (result as Record<string, unknown>) : { value: result },
    ...(options.counters ? { counters: options.counters } : {}),
    ...(options.stats !== undefined ? { stats: options.stats } : {}),
    ...(options.nodes ? { nodes: options.nodes } : {}),
    ...(options.timings ? { timings: options.timings } : {}),
    ...(options.job ? { job: options.job } : {}),
    ...(options.partial !== undefined ? { partial: options.partial } : {}),
    ...(options.missing ? { missing: options.missing } : {}),
  };
  const panels = buildPanels(data, options.tables);
  const title = options.title ?? defaultTitle(data);
  const generated = (options.generatedAt ?? new Date()).toISOString().replace('T', ' ').slice(0, 16);
  const nav = panels.map((p) => `<a href="#${esc(p.id.replace(/[^A-Za-z0-9_-]/g, '-'))}">${esc(p.title)}</a>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; connect-src 'none'">
<meta name="generator" content="geartrain ${esc(GEARTRAIN_VERSION)}">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${esc(title)}</h1><p class="sub">Generated ${esc(generated)} UTC${data.nodes?.length ? ` from ${data.nodes.length} node${data.nodes.length === 1 ? '' : 's'}` : ''}${data.partial ? ' — PARTIAL result, see Run' : ''}</p><nav>${nav}</nav></header>
<main>
${panels.map(panelHtml).join('\n')}
</main>
<footer>geartrain ${esc(GEARTRAIN_VERSION)} · <a id="download" download="geartrain-result.json" hidden>Download the data (JSON)</a></footer>
<div id="tip" role="tooltip" hidden></div>
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** renderReport for a `--json` document of `geartrain run` (already checked with reportInputSchema). */
export function renderReportFromRun(input: ReportInput, options: Omit<RenderReportOptions, 'counters' | 'stats' | 'nodes' | 'timings'> = {}): string {
  return renderReport(input.result, {
    ...options,
    ...(input.counters ? { counters: input.counters } : {}),
    ...(input.stats !== undefined ? { stats: input.stats } : {}),
    ...(input.nodes ? { nodes: input.nodes } : {}),
    ...(input.timings ? { timings: input.timings } : {}),
    ...(input.job && !options.job ? { job: input.job } : {}),
    ...(input.partial !== undefined ? { partial: input.partial } : {}),
    ...(input.missing ? { missing: input.missing } : {}),
  });
}
