import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The status page on the admin port: one self-contained HTML document (inline
 * CSS, a little vanilla JS, no external assets, no framework) that polls
 * `/api/status` every second and renders it. Everything from the JSON is
 * inserted with `textContent`/attributes, never as HTML, so a device id or an
 * alarm message cannot inject markup.
 *
 * It reads the shape of `GatewayStatus` (gateway/app/gateway.ts) loosely: a
 * missing section renders as "—" rather than breaking the page, so the page
 * keeps working while the status grows.
 */
export function renderStatusPage(options: { pollMs?: number } = {}): string {
  const pollMs = options.pollMs ?? 1000;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Gatehouse status</title>
<style>${CSS}</style>
</head>
<body>
<header>
  <div>
    <h1 id="gw-name">Gatehouse</h1>
    <div class="sub"><span id="gw-id" data-testid="gateway-id">…</span> · <span id="gw-venue"></span> v<span id="gw-version">…</span> · up <span id="gw-uptime">…</span></div>
  </div>
  <div class="badges">
    <span id="health" class="badge">…</span>
    <span id="clock" class="badge">clock …</span>
    <span id="live" class="badge" data-testid="live">connecting…</span>
  </div>
</header>
<main>
  <section id="alarms-section" class="card wide">
    <h2>Alarms <span id="alarm-count" class="count">0</span></h2>
    <ul id="alarms" data-testid="alarms"><li class="none">No active alarms</li></ul>
  </section>
  <section class="card">
    <h2>Devices</h2>
    <table><thead><tr><th>Device</th><th>State</th><th>Last seen</th><th>Note</th></tr></thead><tbody id="devices" data-testid="devices"></tbody></table>
  </section>
  <section class="card">
    <h2>Sync</h2>
    <dl>
      <dt>Outbox depth</dt><dd id="outbox-depth" data-testid="outbox-depth">—</dd>
      <dt>Central link</dt><dd id="sync-link">—</dd>
      <dt>Last successful sync</dt><dd id="sync-last" data-testid="sync-last">—</dd>
      <dt>Dead letters</dt><dd id="sync-dead">—</dd>
      <dt>Last sync error</dt><dd id="sync-error">—</dd>
      <dt>Entitlements</dt><dd id="entitlements">—</dd>
      <dt>Venue link</dt><dd id="venue-link" data-testid="venue-link">—</dd>
    </dl>
  </section>
  <section class="card wide">
    <h2>Decisions per minute <span class="legend"><i class="g"></i>granted <i class="d"></i>denied</span></h2>
    <div id="chart" data-testid="chart"></div>
  </section>
  <section class="card wide">
    <h2>Lanes <span class="hint">last decisions, pseudonymous holder refs only</span></h2>
    <div id="lanes" class="lanes" data-testid="lanes"></div>
  </section>
</main>
<footer>Gatehouse admin · <a href="/metrics" id="metrics-link">/metrics</a> · <a href="/api/status" id="json-link">/api/status</a> · <a href="/healthz">/healthz</a></footer>
<script>${script(pollMs)}</script>
</body>
</html>
`;
}

const CSS = `
:root{--bg:#f4f5f7;--card:#fff;--ink:#1d2433;--mute:#6b7385;--ok:#1f9d55;--warn:#d98e04;--fail:#d64545;--line:#e3e6ec}
@media (prefers-color-scheme:dark){:root{--bg:#14171d;--card:#1d2129;--ink:#e7e9ee;--mute:#9aa3b5;--line:#2d323d}}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--ink)}
header{display:flex;justify-content:space-between;align-items:center;gap:1rem;padding:.8rem 1.2rem;background:var(--card);border-bottom:1px solid var(--line);flex-wrap:wrap}
h1{margin:0;font-size:1.3rem}h2{margin:0 0 .6rem;font-size:1rem}.sub,.hint{color:var(--mute);font-size:.85rem}.hint{font-weight:normal;margin-left:.4rem}
.badges{display:flex;gap:.4rem;flex-wrap:wrap}.badge{padding:.15rem .55rem;border-radius:1rem;background:var(--line);font-size:.8rem;white-space:nowrap}
.badge.ok{background:var(--ok);color:#fff}.badge.warn{background:var(--warn);color:#fff}.badge.fail{background:var(--fail);color:#fff}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:1rem;padding:1rem 1.2rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.8rem 1rem;min-width:0}.wide{grid-column:1/-1}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid var(--line);vertical-align:top}th{color:var(--mute);font-weight:600;font-size:.8rem}
.dot{display:inline-block;width:.6rem;height:.6rem;border-radius:50%;margin-right:.35rem;background:var(--mute)}.dot.online{background:var(--ok)}.dot.starting{background:var(--warn)}
.dot.offline,.dot.failed,.dot.unavailable{background:var(--fail)}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem;margin:0}dt{color:var(--mute)}dd{margin:0;font-variant-numeric:tabular-nums}
#alarms{list-style:none;margin:0;padding:0}#alarms li{padding:.35rem .5rem;border-left:4px solid var(--fail);margin-bottom:.3rem;background:rgba(214,69,69,.08)}
#alarms li.warn{border-color:var(--warn);background:rgba(217,142,4,.08)}#alarms li.none{border-color:var(--ok);background:none}
#alarms b{margin-right:.4rem}.count{display:inline-block;min-width:1.4rem;text-align:center;border-radius:1rem;background:var(--line);font-size:.8rem}
#alarms-section.active .count{background:var(--fail);color:#fff}
.lanes{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:.8rem}.lane h3{margin:0 0 .3rem;font-size:.9rem}
.granted{color:var(--ok)}td.mono{white-space:nowrap}.denied{color:var(--fail)}.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem}
.legend{font-weight:normal;font-size:.8rem;color:var(--mute);margin-left:.5rem}.legend i{display:inline-block;width:.7rem;height:.7rem;margin:0 .2rem 0 .6rem;vertical-align:-1px}
.legend .g,svg .g{background:var(--ok);fill:var(--ok)}.legend .d,svg .d{background:var(--fail);fill:var(--fail)}svg text{fill:var(--mute);font-size:10px}svg .axis{stroke:var(--line)}
footer{padding:.5rem 1.2rem 1.5rem;color:var(--mute);font-size:.8rem}footer a{color:inherit}
.none{color:var(--mute)}
`;

/** The page's script. Plain ES2019 in a string: it runs in the browser, not in Node. */
function script(pollMs: number): string {
  return `
'use strict';
(function () {
  var POLL_MS = ${pollMs};
  var token = new URLSearchParams(location.search).get('token');
  var $ = function (id) { return document.getElementById(id); };
  if (token) {
    ['metrics-link', 'json-link'].forEach(function (id) { var a = $(id); a.href = a.getAttribute('href') + '?token=' + encodeURIComponent(token); });
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { if (attrs[k] !== undefined && attrs[k] !== null) node.setAttribute(k, String(attrs[k])); });
    (children || []).forEach(function (c) { node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return node;
  }
  function setText(id, text) { $(id).textContent = text; }
  function fill(node, children) { while (node.firstChild) node.removeChild(node.firstChild); children.forEach(function (c) { node.appendChild(c); }); }
  function ago(ms, now) {
    if (typeof ms !== 'number') return '—';
    var s = Math.max(0, Math.round((now - ms) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }
  function duration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return d > 0 ? d + 'd ' + h + 'h' : h > 0 ? h + 'h ' + m + 'm' : m + 'm ' + (s % 60) + 's';
  }
  function clock(ms) { return typeof ms === 'number' ? new Date(ms).toLocaleTimeString() : '—'; }
  function badge(id, level, text) { var b = $(id); b.className = 'badge ' + level; b.textContent = text; }

  function deviceKey(d) { return d.reader === undefined || d.reader === null || d.reader === '' ? d.deviceId : d.deviceId + '/' + d.reader; }

  /** Active alarms, plus one per device that is not online (a reader going offline is an alarm at the gate). */
  function alarmsOf(s) {
    var list = (s.alarms || []).filter(function (a) { return a.active !== false; }).map(function (a) {
      return { kind: a.kind, source: a.source, message: a.message, at: a.at, level: a.kind === 'clock_unsynced' ? 'warn' : 'fail' };
    });
    (s.devices || []).forEach(function (d) {
      if (d.state === 'online' || d.state === 'starting' || d.state === 'stopped') return;
      var key = deviceKey(d);
      if (list.some(function (a) { return a.source === key || a.source === d.deviceId && a.kind === 'reader_offline'; })) return;
      list.push({ kind: d.state === 'offline' ? 'reader_offline' : 'device_' + d.state, source: key, message: key + ' is ' + d.state + (d.reason ? ': ' + d.reason : ''), at: d.at, level: 'fail' });
    });
    var health = s.health || {};
    (health.failing || []).forEach(function (c) {
      if (list.some(function (a) { return c.component === 'alarm:' + a.kind + '/' + a.source || c.component === 'device:' + a.source; })) return;
      list.push({ kind: 'health', source: c.component, message: c.reason || 'failing', at: c.since, level: 'fail' });
    });
    return list;
  }

  function renderAlarms(s, now) {
    var list = alarmsOf(s);
    setText('alarm-count', String(list.length));
    $('alarms-section').className = 'card wide' + (list.length > 0 ? ' active' : '');
    if (list.length === 0) { fill($('alarms'), [el('li', { class: 'none' }, ['No active alarms'])]); return; }
    fill($('alarms'), list.map(function (a) {
      return el('li', { class: a.level, 'data-kind': a.kind, 'data-source': a.source }, [el('b', null, [a.kind]), el('span', { class: 'mono' }, [a.source]), ' — ', a.message || '', el('span', { class: 'sub' }, [' · since ' + clock(a.at) + ' (' + ago(a.at, now) + ')'])]);
    }));
  }

  function renderDevices(s, now) {
    var devices = (s.devices || []).slice().sort(function (a, b) { return deviceKey(a) < deviceKey(b) ? -1 : 1; });
    if (devices.length === 0) { fill($('devices'), [el('tr', null, [el('td', { colspan: 4, class: 'none' }, ['No device has reported yet'])])]); return; }
    fill($('devices'), devices.map(function (d) {
      var key = deviceKey(d);
      return el('tr', { 'data-device': key, 'data-state': d.state }, [
        el('td', { class: 'mono' }, [key]),
        el('td', null, [el('span', { class: 'dot ' + d.state }), d.state]),
        el('td', null, [d.state === 'online' ? 'now' : ago(d.lastSeen, now)]),
        el('td', { class: 'sub' }, [d.reason || '']),
      ]);
    }));
  }

  function renderLanes(s) {
    var lanes = s.lanes || {};
    var ids = Object.keys(lanes).sort();
    if (ids.length === 0) { fill($('lanes'), [el('p', { class: 'none' }, ['No decisions yet'])]); return; }
    fill($('lanes'), ids.map(function (id) {
      var rows = (lanes[id] || []).map(function (d) {
        return el('tr', null, [el('td', null, [clock(d.at)]), el('td', { class: d.result }, [d.result]), el('td', { class: 'mono' }, [d.reason]), el('td', { class: 'mono' }, [d.holderRef || '—'])]);
      });
      return el('div', { class: 'lane', 'data-lane': id }, [el('h3', { class: 'mono' }, [id]), el('table', null, [el('thead', null, [el('tr', null, [el('th', null, ['Time']), el('th', null, ['Result']), el('th', null, ['Reason']), el('th', null, ['Holder'])])]), el('tbody', null, rows)])]);
    }));
  }

  var SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) { var n = document.createElementNS(SVG, tag); Object.keys(attrs).forEach(function (k) { n.setAttribute(k, String(attrs[k])); }); return n; }
  /** Stacked bars for the last hour, one slot per minute placed by its time (granted below, denied on top). */
  function renderChart(s) {
    var W = 720, H = 140, pad = 24, n = 60, bw = (W - pad) / n;
    var points = (s.decisionsPerMinute || []).map(function (m) { return { m: m, t: Math.floor(Date.parse(m.minute) / 60000) }; });
    var last = Math.max(Math.floor(Date.now() / 60000), points.length ? points[points.length - 1].t : 0);
    var data = points.filter(function (p) { return last - p.t < n; });
    var max = Math.max(1, Math.max.apply(null, data.map(function (p) { return p.m.granted + p.m.denied; })));
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + (H + 16), width: '100%', role: 'img', 'aria-label': 'decisions per minute, last hour' });
    root.appendChild(svg('line', { class: 'axis', x1: pad, y1: H, x2: W, y2: H }));
    var top = svg('text', { x: 0, y: 10 }); top.textContent = String(max); root.appendChild(top);
    var zero = svg('text', { x: 0, y: H }); zero.textContent = '0'; root.appendChild(zero);
    var left = svg('text', { x: pad, y: H + 12 }); left.textContent = '-60 min'; root.appendChild(left);
    var right = svg('text', { x: W - 22, y: H + 12 }); right.textContent = 'now'; root.appendChild(right);
    data.forEach(function (p) {
      var m = p.m;
      var x = pad + (n - 1 - (last - p.t)) * bw + 1;
      var gh = (m.granted / max) * (H - 12), dh = (m.denied / max) * (H - 12);
      var g = svg('rect', { class: 'g', x: x, y: H - gh, width: Math.max(1, bw - 2), height: gh, 'data-minute': m.minute });
      var tg = svg('title', {}); tg.textContent = new Date(p.t * 60000).toLocaleTimeString() + ': granted ' + m.granted + ', denied ' + m.denied; g.appendChild(tg);
      root.appendChild(g);
      root.appendChild(svg('rect', { class: 'd', x: x, y: H - gh - dh, width: Math.max(1, bw - 2), height: dh }));
    });
    fill($('chart'), [root]);
  }

  function renderSync(s, now) {
    setText('outbox-depth', s.outbox && typeof s.outbox.depth === 'number' ? String(s.outbox.depth) : '—');
    var sync = s.sync;
    if (!sync) {
      setText('sync-link', 'not configured'); setText('sync-last', '—'); setText('sync-dead', '—'); setText('sync-error', '—');
    } else {
      setText('sync-link', sync.connected ? 'connected' : 'not connected');
      setText('sync-last', sync.lastSuccessAt ? clock(sync.lastSuccessAt) + ' (' + ago(sync.lastSuccessAt, now) + ')' : 'never');
      setText('sync-dead', String(sync.deadLetters || 0));
      setText('sync-error', sync.lastError ? sync.lastError.code + ': ' + sync.lastError.message : 'none');
    }
    var e = s.entitlements;
    setText('entitlements', !e ? '—' : !e.loaded ? 'no snapshot yet (lanes use their fail mode)' : e.holders + ' holders, updated ' + ago(e.appliedAt, now));
    var v = s.venueLink;
    setText('venue-link', !v ? 'single gateway' : !v.connected ? 'down: anti-passback unverified' : !v.verified ? 'catching up with peers' : 'verified with ' + Object.keys(v.peers || {}).length + ' peers' + (v.conflictsReported ? ', ' + v.conflictsReported + ' conflicts reported' : ''));
  }

  function render(s) {
    var now = Date.now();
    var g = s.gateway || {};
    setText('gw-name', g.name || g.id || 'Gatehouse');
    document.title = (g.name || g.id || 'Gatehouse') + ' · status';
    setText('gw-id', g.id || '—');
    setText('gw-venue', g.venue ? 'venue ' + g.venue + ' · ' : '');
    setText('gw-version', g.version || '?');
    setText('gw-uptime', g.startedAt ? duration(now - Date.parse(g.startedAt)) : '—');
    var health = s.health || {};
    var alarms = alarmsOf(s);
    badge('health', health.status === 'degraded' || alarms.length > 0 ? 'fail' : (health.warnings || []).length > 0 ? 'warn' : 'ok', health.status === 'degraded' ? 'degraded' : alarms.length > 0 ? alarms.length + ' alarm' + (alarms.length > 1 ? 's' : '') : 'healthy');
    badge('clock', g.clockSynced === false ? 'warn' : 'ok', g.clockSynced === false ? 'clock not synced' : 'clock synced');
    renderAlarms(s, now);
    renderDevices(s, now);
    renderLanes(s);
    renderChart(s);
    renderSync(s, now);
  }

  var lastOk = 0;
  function poll() {
    var headers = token ? { authorization: 'Bearer ' + token } : {};
    fetch('/api/status', { headers: headers, cache: 'no-store' }).then(function (res) {
      if (res.status === 401) throw new Error('token required: open this page as /?token=…');
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    }).then(function (s) {
      lastOk = Date.now();
      render(s);
      badge('live', 'ok', 'live');
      document.body.setAttribute('data-updated', String(lastOk));
    }).catch(function (err) {
      badge('live', 'fail', lastOk ? 'stale: no answer for ' + Math.round((Date.now() - lastOk) / 1000) + ' s' : String(err.message || err));
    }).then(function () { setTimeout(poll, POLL_MS); });
  }
  poll();
})();
`;
}

export interface StatusRoutesOptions {
  /** Poll interval of the page (ms). */
  pollMs?: number;
}

/**
 * Routes for the admin server's `routes` option: `GET /` and `GET /status`
 * serve the page (HEAD too). The admin server has already checked the token.
 */
export function statusRoutes(options: StatusRoutesOptions = {}): (req: IncomingMessage, res: ServerResponse) => boolean {
  const page = Buffer.from(renderStatusPage(options.pollMs === undefined ? {} : { pollMs: options.pollMs }), 'utf8');
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/' && path !== '/status') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('method not allowed\n');
      return true;
    }
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': page.length,
      'cache-control': 'no-store',
      // Inline script and style only; fetches go back to this origin.
      'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : page);
    return true;
  };
}
