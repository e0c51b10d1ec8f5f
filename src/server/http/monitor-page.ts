/**
 * The live monitor: one self-contained HTML page (no external script, style or font), readable on
 * a phone. It polls `status` (relative, so it works behind a path prefix) every second, or every
 * `?interval=MS`, and redraws from the JSON with DOM calls (names are never parsed as HTML).
 * Rows and cells carry `data-function` / `data-field` attributes for scripts and tests.
 */

const STYLE = String.raw`
:root { --bg:#fff; --fg:#1b1f24; --muted:#667; --line:#dde1e6; --card:#f6f8fa; --accent:#2f6fdf; --ok:#1f9d55; --bad:#d33; --bar:#2f6fdf; --bar2:#9db7ef; }
@media (prefers-color-scheme: dark) { :root { --bg:#111418; --fg:#e6e8eb; --muted:#98a1ab; --line:#2a3038; --card:#1a1f25; --accent:#6d9cff; --bar:#6d9cff; --bar2:#34507f; } }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; flex-wrap:wrap; gap:.25rem 1rem; align-items:baseline; padding:.75rem 1rem; border-bottom:1px solid var(--line); }
header h1 { font-size:1.1rem; margin:0; }
header .meta { color:var(--muted); font-size:.85rem; }
#state { font-size:.8rem; padding:.1rem .5rem; border-radius:1rem; background:var(--card); }
#state.live::before { content:"● "; color:var(--ok); }
#state.down::before { content:"● "; color:var(--bad); }
main { padding:0 1rem 2rem; max-width:1200px; margin:0 auto; }
.tiles { display:grid; grid-template-columns:repeat(auto-fill,minmax(120px,1fr)); gap:.5rem; margin:1rem 0; }
.tile { background:var(--card); border-radius:.5rem; padding:.5rem .75rem; }
.tile .v { font-size:1.4rem; font-variant-numeric:tabular-nums; }
.tile .k { color:var(--muted); font-size:.8rem; }
h2 { font-size:1rem; margin:1.25rem 0 .5rem; }
h2 small { color:var(--muted); font-weight:normal; }
.scroll { overflow-x:auto; -webkit-overflow-scrolling:touch; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:.3rem .5rem; border-bottom:1px solid var(--line); white-space:nowrap; }
th { color:var(--muted); font-weight:600; font-size:.8rem; }
td.n, th.n { text-align:right; }
td.wrap { white-space:normal; overflow-wrap:anywhere; min-width:10rem; }
.empty { color:var(--muted); padding:.5rem 0; }
svg { width:100%; height:120px; display:block; background:var(--card); border-radius:.5rem; }
.legend { color:var(--muted); font-size:.8rem; margin-top:.25rem; }
.legend b { display:inline-block; width:.7rem; height:.7rem; border-radius:2px; vertical-align:-1px; margin-right:.25rem; }
.progress { position:relative; height:1rem; min-width:8rem; background:var(--card); border-radius:.5rem; overflow:hidden; }
.progress > div { position:absolute; inset:0 auto 0 0; background:var(--accent); }
.progress > span { position:relative; font-size:.75rem; padding-left:.4rem; }
.idle { color:var(--muted); }
`;

const SCRIPT = String.raw`
(function () {
  var params = new URLSearchParams(location.search);
  var interval = Math.max(100, Number(params.get('interval')) || 1000);
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'class') e.className = attrs[k];
      else if (k === 'text') e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    if (children) children.forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function cell(text, field, numeric) {
    var a = { text: String(text) };
    if (field) a['data-field'] = field;
    if (numeric) a['class'] = 'n';
    return el('td', a);
  }
  function num(n) { return Number(n).toLocaleString('en-US'); }
  function bytes(n) {
    if (n === null || n === undefined) return '–';
    var u = ['B', 'KB', 'MB', 'GB', 'TB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)) + ' ' + u[i];
  }
  function dur(ms) {
    if (ms === null || ms === undefined) return '–';
    var s = Math.round(ms / 1000);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }
  function table(head, rows, empty) {
    if (rows.length === 0) return el('div', { class: 'empty', text: empty });
    var tr = el('tr', null, head.map(function (h) {
      return el('th', { text: h.replace(/^#/, ''), class: h.charAt(0) === '#' ? 'n' : '' });
    }));
    return el('div', { class: 'scroll' }, [el('table', null, [el('thead', null, [tr]), el('tbody', null, rows)])]);
  }
  function replace(id, node) { var box = $(id); box.textContent = ''; box.appendChild(node); }

  function tiles(s) {
    var per = s.throughput.completed.slice(-10);
    var rate = per.length ? per.reduce(function (a, b) { return a + b; }, 0) / per.length : 0;
    var items = [
      ['queued', s.totals.queued, 'queued'], ['running', s.totals.running, 'running'],
      ['scheduled', s.totals.scheduled, 'scheduled'], ['workers', s.totals.workers, 'workers'],
      ['clients', s.totals.clients, 'clients'], ['done/s (10 s)', rate.toFixed(rate >= 100 ? 0 : 1), 'rate'],
      ['done (1 min)', num(s.throughput.completedLastMinute), 'completedLastMinute'],
      ['failed (1 min)', num(s.throughput.failedLastMinute), 'failedLastMinute'],
      ['heap after GC', bytes(s.memory.heapUsedAfterLastGc), 'heapAfterGc'], ['rss', bytes(s.memory.rss), 'rss']
    ];
    replace('tiles', el('div', { class: 'tiles' }, items.map(function (i) {
      return el('div', { class: 'tile', 'data-tile': i[2] }, [el('div', { class: 'v', text: String(i[1]) }), el('div', { class: 'k', text: i[0] })]);
    })));
  }

  function chart(s) {
    // Two minutes per second while the server is young, then ten minutes per 5 s.
    var t = s.throughput, bucket = t.completed.length <= 120 ? 1 : 5, n = 120, W = 600, H = 120;
    var done = t.completed, sub = t.submitted, pad = n * bucket - done.length;
    var sums = [], subs = [], max = 1;
    for (var b = 0; b < n; b++) {
      var d = 0, q = 0;
      for (var i = b * bucket - pad; i < (b + 1) * bucket - pad; i++) if (i >= 0) { d += done[i]; q += sub[i]; }
      sums.push(d); subs.push(q); max = Math.max(max, d, q);
    }
    var ns = 'http://www.w3.org/2000/svg', svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('preserveAspectRatio', 'none');
    var bw = W / n, pts = [];
    for (var k = 0; k < n; k++) {
      var h = (sums[k] / max) * (H - 8);
      var r = document.createElementNS(ns, 'rect');
      r.setAttribute('x', String(k * bw + 0.5)); r.setAttribute('width', String(Math.max(1, bw - 1)));
      r.setAttribute('y', String(H - h)); r.setAttribute('height', String(h));
      r.setAttribute('style', 'fill:var(--bar)');
      svg.appendChild(r);
      pts.push((k * bw + bw / 2).toFixed(1) + ',' + (H - (subs[k] / max) * (H - 8)).toFixed(1));
    }
    var line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', pts.join(' '));
    line.setAttribute('style', 'fill:none;stroke:var(--bar2);stroke-width:2');
    line.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.appendChild(line);
    var legend = el('div', { class: 'legend' });
    legend.append(el('b', { style: 'background:var(--bar)' }), 'completed ', el('b', { style: 'background:var(--bar2)' }),
      'submitted, per ' + bucket + ' s over the last ' + (n * bucket / 60) + ' min (peak ' + num(max) + ' per ' + bucket + ' s; ' + num(t.completedLastMinute) + ' done, ' +
      num(t.submittedLastMinute) + ' submitted in the last minute)');
    var box = $('chart'); box.textContent = ''; box.appendChild(svg); box.appendChild(legend);
  }

  function functions(s) {
    var rows = s.functions.map(function (f) {
      return el('tr', { 'data-function': f.name }, [
        el('td', { class: 'wrap', text: f.name, 'data-field': 'name' }),
        cell(f.queued.total, 'queued', true), cell(f.queued.high, 'high', true), cell(f.queued.normal, 'normal', true),
        cell(f.queued.low, 'low', true), cell(f.scheduled, 'scheduled', true), cell(f.running, 'running', true),
        cell(f.workers, 'workers', true), cell(num(f.completedLastMinute), 'completedLastMinute', true),
        cell(num(f.completed), 'completed', true), cell(num(f.failed), 'failed', true),
        cell(f.oldestQueuedMs === null ? '–' : dur(f.oldestQueuedMs), 'oldest', true)
      ]);
    });
    $('fn-count').textContent = '(' + s.functions.length + ')';
    replace('functions', table(['function', '#queued', '#high', '#normal', '#low', '#scheduled', '#running', '#workers',
      '#done/min', '#done', '#failed', '#oldest wait'], rows, 'no functions yet'));
  }

  function tasks(c) { return c.queued + ' / ' + c.running + ' / ' + c.done + (c.failed ? ' (' + c.failed + ' failed)' : ''); }
  function runs(s) {
    var rows = s.runs.map(function (r) {
      var pct = r.progress === null ? null : Math.round(r.progress * 1000) / 10;
      var bar = el('div', { class: 'progress', 'data-field': 'progress' }, [
        el('div', { style: 'width:' + (pct === null ? 0 : pct) + '%' }),
        el('span', { text: pct === null ? (r.active ? 'waiting' : 'finished') : pct + '% of ' + bytes(r.bytesTotal) })
      ]);
      return el('tr', { 'data-run': r.runId, class: r.active ? '' : 'idle' }, [
        el('td', { text: r.runId, 'data-field': 'run' }), el('td', { class: 'wrap', text: r.nodes.join(', ') || '–' }),
        cell(tasks(r.map), 'map', true), cell(tasks(r.reduce), 'reduce', true),
        el('td', null, [bar]), cell(dur((r.active ? s.server.now : r.lastSeen) - r.firstSeen), 'duration', true)
      ]);
    });
    replace('runs', table(['run', 'nodes', '#map q/r/done', '#reduce q/r/done', 'progress (running tasks)', '#duration'], rows, 'no map/reduce run on this server'));
  }

  function workers(s) {
    var rows = s.workers.map(function (w) {
      return el('tr', { 'data-worker': String(w.id) }, [
        el('td', { text: w.address + ':' + w.port }), el('td', { text: w.clientId }),
        cell(w.running, 'running', true), el('td', { text: w.running > 0 ? 'busy' : w.sleeping ? 'sleeping' : 'idle' }),
        el('td', { class: 'wrap', text: w.functions.join(' ') }), cell(dur(s.server.now - w.connectedAt), null, true)
      ]);
    });
    $('worker-count').textContent = '(' + s.totals.workers + ')';
    replace('workers', table(['address', 'client id', '#jobs', 'state', 'functions', '#connected'], rows, 'no worker connected'));
  }

  function clients(s) {
    var rows = s.clients.map(function (c) {
      return el('tr', { 'data-client': String(c.id) }, [
        el('td', { text: c.address + ':' + c.port }), el('td', { text: c.clientId }),
        cell(c.waiting, 'waiting', true), cell(dur(s.server.now - c.connectedAt), null, true)
      ]);
    });
    $('client-count').textContent = '(' + s.totals.clients + ')';
    replace('clients', table(['address', 'client id', '#waiting for', '#connected'], rows, 'no client connected'));
  }

  function render(s) {
    var a = s.server.address;
    $('server').textContent = (a ? a.host + ':' + a.port : '') + ' · geartrain ' + s.server.version + ' · ' + s.server.queue +
      ' queue · up ' + dur(s.server.uptimeSeconds * 1000) + (s.server.draining ? ' · shutting down' : '');
    tiles(s); chart(s); functions(s); runs(s); workers(s); clients(s);
    document.body.setAttribute('data-updated', String(s.server.now));
  }

  var state = $('state');
  function poll() {
    fetch('status', { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (s) {
      render(s);
      state.className = 'live'; state.textContent = 'live';
    }).catch(function (e) {
      state.className = 'down'; state.textContent = 'unreachable (' + e.message + '), retrying';
    }).then(function () { setTimeout(poll, interval); });
  }
  poll();
})();
`;

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>geartrain monitor</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>geartrain monitor</h1><span class="meta" id="server">connecting…</span><span id="state">connecting</span></header>
<main>
<section id="tiles"></section>
<h2>Throughput</h2><div id="chart"></div>
<h2>Functions <small id="fn-count"></small></h2><div id="functions"></div>
<h2>Map/reduce runs</h2><div id="runs"></div>
<h2>Workers <small id="worker-count"></small></h2><div id="workers"></div>
<h2>Clients <small id="client-count"></small></h2><div id="clients"></div>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;

/** The monitor page's HTML. */
export function monitorPage(): string {
  return HTML;
}
