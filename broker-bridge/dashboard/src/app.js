/* gridsync dashboard: live status of every org unit from retained MQTT messages.
 *
 * Connects with MQTT over WebSocket to the host that served the page (mosquitto's
 * websockets listener with http_dir), as a read-only account, subscribes to
 * gs/v1/status/# and builds the org tree from each document's org/parent/level/name
 * (docs/PROTOCOL.md, "Status"). Everything shown is computed from those documents; the
 * only derived number is the coverage ratio visited_period / households.
 *
 * The document's numbers and the org levels are not spelled here: status_table.js
 * (generated at build time from collector/status/gs_status_fields.h, global
 * `GS_STATUS_TABLE`) lists them, and each count with a `dash` test id gets its
 * number card and its table column (added when index.html has none yet).
 *
 * No framework: plain ES2017 on top of vendor/mqtt.min.js (global `mqtt`). All
 * text from the wire goes into the DOM with textContent, never HTML.
 */
(function () {
  'use strict';

  var TOPIC_PREFIX = 'gs/v1/status/';
  var ORG_RE = /^[A-Za-z0-9_-]{1,64}$/;
  var TABLE = window.GS_STATUS_TABLE || { fields: [], levels: [] };
  var LEVELS = TABLE.levels.map(function (l) { return l.name; });
  var LEVEL_ZH = {}, CHILD_ZH = {};
  TABLE.levels.forEach(function (l) {
    LEVEL_ZH[l.name] = l.label;
    if (l.children) CHILD_ZH[l.name] = l.children;
  });
  /* Counts shown as a number of their own; two are shown inside a composite cell
   * of the units table instead (coverage = visited / households, open reports with
   * their urgency bar). */
  var COUNTS = TABLE.fields.filter(function (f) { return f.kind === 'count' && f.dash; });
  var IN_COMPOSITE = { visited_period: 'coverage', reports_open: 'reports' };
  var ROW_COUNTS = COUNTS.filter(function (f) { return !IN_COMPOSITE[f.key]; });
  var URGENCY_FIELD = TABLE.fields.filter(function (f) { return f.key === 'reports_by_urgency'; })[0];
  /* Stacked bar order: most urgent first (the table lists them least urgent first). */
  var URGENCY = URGENCY_FIELD ? URGENCY_FIELD.subs.slice().reverse() : [];
  var URGENCY_ZH = { critical: '特急', high: '紧急', normal: '一般', low: '较低', other: '未分级' };

  /* org -> { doc, received (Date) } */
  var units = new Map();
  /* org id shown, or null = automatic (the single top unit, or the list of top units). */
  var current = null;
  var newestAsOf = null; /* { ms, text } */
  var lastReceived = null; /* Date */
  var messages = 0;
  var client = null;
  var renderTimer = null;
  var rowsByOrg = new Map();
  var utf8 = new TextDecoder('utf-8');
  var siblingRowsByOrg = new Map();

  function $(sel) { return document.querySelector(sel); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function num(v) {
    return (typeof v === 'number' && isFinite(v) && v >= 0) ? Math.floor(v) : null;
  }
  function fmtNum(v) { return v === null ? '—' : v.toLocaleString('zh-CN'); }
  function setNum(node, v) {
    node.textContent = fmtNum(v);
    if (v === null) node.removeAttribute('data-value'); else node.setAttribute('data-value', String(v));
  }
  function coverage(doc) {
    var h = num(doc.households), v = num(doc.visited_period);
    if (h === null || v === null || h === 0) return null;
    return v / h;
  }
  function fmtPct(r) { return r === null ? '—' : (r * 100).toFixed(1) + '%'; }
  function coverClass(r) {
    if (r === null) return 'cov-none';
    if (r >= 0.85) return 'cov-good';
    if (r >= 0.6) return 'cov-mid';
    return 'cov-low';
  }

  /* as_of is ISO 8601 with an offset. Show its wall time as written (the city's own
   * clock); add the offset only when it differs from the browser's. */
  function fmtAsOf(s) {
    if (typeof s !== 'string') return '—';
    var m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(s);
    if (!m) return s;
    var off = m[3] || '';
    var mine = -new Date(Date.parse(s) || Date.now()).getTimezoneOffset();
    var sign = mine >= 0 ? '+' : '-';
    var a = Math.abs(mine);
    var mineStr = sign + String(Math.floor(a / 60)).padStart(2, '0') + ':' + String(a % 60).padStart(2, '0');
    var offNorm = off === 'Z' ? '+00:00' : (off.length === 5 ? off.slice(0, 3) + ':' + off.slice(3) : off);
    return m[1] + ' ' + m[2] + (off && offNorm !== mineStr ? ' (UTC' + offNorm + ')' : '');
  }
  function fmtClock(d) {
    return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' +
      String(d.getDate()).padStart(2, '0') + ' ' + d.toTimeString().slice(0, 8);
  }
  function fmtAge(d) {
    var s = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
    if (s < 60) return s + ' 秒前';
    if (s < 3600) return Math.floor(s / 60) + ' 分钟前';
    return Math.floor(s / 3600) + ' 小时前';
  }

  function levelIndex(l) { var i = LEVELS.indexOf(l); return i < 0 ? LEVELS.length : i; }
  function displayName(doc) {
    return (typeof doc.name === 'string' && doc.name.trim()) ? doc.name : doc.org;
  }
  function childrenOf(org) {
    var out = [];
    units.forEach(function (u) { if (u.doc.parent === org) out.push(u.doc); });
    return sortDocs(out);
  }
  var collator = (typeof Intl !== 'undefined' && Intl.Collator) ? new Intl.Collator('zh-CN', { numeric: true }) : null;
  function sortDocs(list) {
    return list.sort(function (a, b) {
      var d = levelIndex(a.level) - levelIndex(b.level);
      if (d) return d;
      var an = displayName(a), bn = displayName(b);
      var c = collator ? collator.compare(an, bn) : (an < bn ? -1 : an > bn ? 1 : 0);
      return c || (a.org < b.org ? -1 : a.org > b.org ? 1 : 0);
    });
  }
  /* Top units: those whose parent is not (yet) known; of those, the highest level. */
  function topUnits() {
    var tops = [];
    units.forEach(function (u) {
      var p = u.doc.parent;
      if (typeof p !== 'string' || !p || !units.has(p)) tops.push(u.doc);
    });
    if (!tops.length) return tops;
    var best = Math.min.apply(null, tops.map(function (d) { return levelIndex(d.level); }));
    return sortDocs(tops.filter(function (d) { return levelIndex(d.level) === best; }));
  }
  function pathTo(org) {
    var path = [], seen = new Set(), o = org;
    while (o && !seen.has(o)) {
      seen.add(o);
      var u = units.get(o);
      path.unshift(u ? u.doc : { org: o, name: o, missing: true });
      o = u ? u.doc.parent : null;
    }
    return path;
  }

  /* ---------- message handling ---------- */

  function onMessage(topic, payload) {
    if (topic.indexOf(TOPIC_PREFIX) !== 0) return;
    var org = topic.slice(TOPIC_PREFIX.length);
    if (!ORG_RE.test(org)) return;
    lastReceived = new Date();
    messages++;
    if (!payload || payload.length === 0) { /* retained message cleared: unit removed */
      units.delete(org);
      scheduleRender();
      return;
    }
    var doc;
    try {
      doc = JSON.parse(utf8.decode(payload));
    } catch (e) {
      console.warn('gridsync: ignoring non-JSON status on', topic);
      return;
    }
    if (!doc || typeof doc !== 'object' || doc.v !== 1) {
      console.warn('gridsync: ignoring status with unknown version on', topic);
      return;
    }
    if (doc.org !== undefined && doc.org !== org) {
      console.warn('gridsync: ignoring status whose org', doc.org, 'differs from its topic', topic);
      return;
    }
    doc.org = org;
    if (doc.parent === org) doc.parent = null;
    units.set(org, { doc: doc, received: lastReceived });
    var t = Date.parse(doc.as_of);
    if (!isNaN(t) && (!newestAsOf || t > newestAsOf.ms)) newestAsOf = { ms: t, text: doc.as_of };
    scheduleRender();
  }

  function scheduleRender() {
    /* Coalesce bursts (thousands of retained messages on subscribe). setTimeout, not
     * requestAnimationFrame, so a hidden tab still keeps its state current. */
    if (renderTimer) return;
    renderTimer = setTimeout(function () { renderTimer = null; render(); }, 60);
  }

  /* ---------- rendering ---------- */

  function renderHeader() {
    var a = $('[data-testid="last-as-of"]');
    a.textContent = newestAsOf ? fmtAsOf(newestAsOf.text) : '—';
    if (newestAsOf) a.setAttribute('data-value', newestAsOf.text);
    var r = $('[data-testid="last-received"]');
    r.textContent = lastReceived ? fmtClock(lastReceived) + '（' + fmtAge(lastReceived) + '）' : '—';
    if (lastReceived) r.setAttribute('data-value', lastReceived.toISOString());
    var c = $('[data-testid="unit-count"]');
    c.textContent = '单位 ' + units.size + ' 个 · 已接收消息 ' + messages + ' 条';
    c.setAttribute('data-value', String(units.size));
  }

  function renderCrumbs(viewOrg) {
    var nav = $('[data-testid="breadcrumb"]');
    nav.textContent = '';
    var tops = topUnits();
    var items = [];
    if (tops.length > 1 || viewOrg === null || !units.has(viewOrg)) items.push({ org: '', label: '全部', all: true });
    if (viewOrg !== null) pathTo(viewOrg).forEach(function (d) {
      items.push({ org: d.org, label: displayName(d), level: d.level, missing: d.missing });
    });
    items.forEach(function (it, i) {
      if (i) nav.appendChild(el('span', { 'class': 'sep', 'aria-hidden': 'true' }, '›'));
      var last = i === items.length - 1;
      var node = el(last ? 'span' : 'a', { 'data-testid': 'crumb', 'data-org': it.org, 'class': last ? 'crumb current' : 'crumb' });
      if (!last) node.setAttribute('href', '#/' + it.org);
      if (it.level) node.appendChild(el('small', null, LEVEL_ZH[it.level] || it.level));
      node.appendChild(document.createTextNode(it.label));
      nav.appendChild(node);
    });
  }

  function urgencyParts(doc) {
    var by = (doc.reports_by_urgency && typeof doc.reports_by_urgency === 'object') ? doc.reports_by_urgency : {};
    var parts = URGENCY.map(function (k) { return { k: k, n: num(by[k]) || 0 }; });
    var sum = parts.reduce(function (s, p) { return s + p.n; }, 0);
    var open = num(doc.reports_open);
    if (open !== null && open > sum) parts.push({ k: 'other', n: open - sum });
    return parts;
  }
  function fillUrgencyBar(bar, doc) {
    bar.textContent = '';
    var parts = urgencyParts(doc);
    var total = parts.reduce(function (s, p) { return s + p.n; }, 0);
    if (!total) { bar.classList.add('empty'); bar.setAttribute('title', '无未办结事件'); return parts; }
    bar.classList.remove('empty');
    var tip = [];
    parts.forEach(function (p) {
      tip.push(URGENCY_ZH[p.k] + ' ' + p.n);
      if (!p.n) return;
      var seg = el('div', { 'class': 'seg u-' + p.k, 'data-urgency': p.k, 'data-value': String(p.n) });
      seg.style.width = (100 * p.n / total) + '%';
      if (100 * p.n / total >= 8) seg.textContent = String(p.n);
      bar.appendChild(seg);
    });
    bar.setAttribute('title', tip.join(' · '));
    return parts;
  }

  function renderUnit(doc) {
    var panel = $('#unit');
    panel.hidden = false;
    panel.setAttribute('data-org', doc.org);
    $('[data-testid="unit-level"]').textContent = LEVEL_ZH[doc.level] || doc.level || '';
    $('[data-testid="unit-name"]').textContent = displayName(doc);
    $('[data-testid="unit-org"]').textContent = doc.org;
    $('[data-testid="unit-period"]').textContent = typeof doc.period === 'string' ? doc.period : '—';
    $('[data-testid="unit-as-of"]').textContent = fmtAsOf(doc.as_of);
    var r = coverage(doc);
    var cov = $('[data-testid="coverage"]');
    cov.textContent = fmtPct(r);
    if (r === null) cov.removeAttribute('data-value'); else cov.setAttribute('data-value', r.toFixed(4));
    var bar = $('[data-testid="coverage-bar"]');
    bar.style.width = (r === null ? 0 : Math.min(100, r * 100)) + '%';
    bar.className = 'fill ' + coverClass(r);
    COUNTS.forEach(function (f) { setNum($('#unit [data-testid="' + f.dash + '"]'), num(doc[f.key])); });
    var overdue = num(doc.reports_overdue);
    $('[data-testid="reports-overdue"]').parentNode.classList.toggle('alert', !!overdue);
    var parts = fillUrgencyBar($('[data-testid="urgency-bar"]'), doc);
    var legend = $('[data-testid="urgency-legend"]');
    legend.textContent = '';
    parts.forEach(function (p) {
      if (p.k === 'other' && !p.n) return;
      var item = el('span', { 'class': 'lg', 'data-urgency': p.k, 'data-value': String(p.n) });
      item.appendChild(el('i', { 'class': 'u-' + p.k }));
      item.appendChild(document.createTextNode(URGENCY_ZH[p.k] + ' ' + p.n));
      legend.appendChild(item);
    });
  }

  function cell(tr, col, cls) {
    var td = tr.querySelector('[data-col="' + col + '"]');
    if (!td) { td = el('td', { 'data-col': col, 'class': cls || '' }); tr.appendChild(td); }
    return td;
  }
  function makeRow(doc, testid) {
    var tr = el('tr', { 'data-testid': testid, 'data-org': doc.org, tabindex: '0', role: 'link' });
    tr.addEventListener('click', function () { go(doc.org); });
    tr.addEventListener('keydown', function (e) { if (e.key === 'Enter') go(doc.org); });
    cell(tr, 'name', 'c-name');
    COUNTS.forEach(function (f) {
      var c = IN_COMPOSITE[f.key];
      if (c) cell(tr, c, c === 'coverage' ? 'c-cov' : 'c-urg');
      else cell(tr, f.dash, 'c-num');
    });
    cell(tr, 'as-of', 'c-time');
    return tr;
  }
  function fillRow(tr, doc) {
    tr.setAttribute('data-level', doc.level || '');
    var name = cell(tr, 'name');
    name.textContent = '';
    name.appendChild(el('span', { 'class': 'lvl' }, LEVEL_ZH[doc.level] || doc.level || ''));
    name.appendChild(el('span', { 'class': 'nm' }, displayName(doc)));
    name.appendChild(el('span', { 'class': 'id' }, doc.org));
    ROW_COUNTS.forEach(function (f) { setNum(cell(tr, f.dash), num(doc[f.key])); });
    var r = coverage(doc);
    var cov = cell(tr, 'coverage');
    cov.textContent = '';
    if (r !== null) cov.setAttribute('data-value', r.toFixed(4)); else cov.removeAttribute('data-value');
    var wrap = el('div', { 'class': 'cov-cell' });
    var bar = el('div', { 'class': 'bar mini' });
    var fill = el('div', { 'class': 'fill ' + coverClass(r) });
    fill.style.width = (r === null ? 0 : Math.min(100, r * 100)) + '%';
    bar.appendChild(fill);
    wrap.appendChild(bar);
    wrap.appendChild(el('span', { 'class': 'pct' }, fmtPct(r)));
    wrap.appendChild(el('span', { 'class': 'frac', 'data-col': 'visited', 'data-value': String(num(doc.visited_period) || 0) },
      fmtNum(num(doc.visited_period)) + '/' + fmtNum(num(doc.households))));
    cov.appendChild(wrap);
    var rep = cell(tr, 'reports');
    rep.textContent = '';
    var open = num(doc.reports_open);
    if (open !== null) rep.setAttribute('data-value', String(open));
    var rw = el('div', { 'class': 'urg-cell' });
    rw.appendChild(el('span', { 'class': 'n' }, fmtNum(open)));
    var ub = el('div', { 'class': 'bar urg-bar mini' });
    fillUrgencyBar(ub, doc);
    rw.appendChild(ub);
    rep.appendChild(rw);
    cell(tr, 'reports-overdue').classList.toggle('alert', !!num(doc.reports_overdue));
    cell(tr, 'as-of').textContent = fmtAsOf(doc.as_of);
  }

  /* Keyed rows: existing <tr>s are refilled and moved, so a live update never rebuilds
   * the table under the operator's pointer. */
  function syncRows(tbody, map, list, testid, currentOrg) {
    var keep = new Set();
    list.forEach(function (doc) {
      var tr = map.get(doc.org);
      if (!tr) { tr = makeRow(doc, testid); map.set(doc.org, tr); }
      fillRow(tr, doc);
      if (currentOrg) tr.setAttribute('data-current', String(doc.org === currentOrg));
      tbody.appendChild(tr); /* appends new rows, moves existing ones into sorted order */
      keep.add(doc.org);
    });
    map.forEach(function (tr, org) {
      if (!keep.has(org)) { tr.remove(); map.delete(org); }
    });
  }

  function renderRows(list, title) {
    var sec = $('#children');
    sec.hidden = false;
    $('[data-testid="children-title"]').textContent = title;
    syncRows($('[data-testid="unit-rows"]'), rowsByOrg, list, 'unit-row');
    $('[data-testid="no-children"]').hidden = list.length > 0;
    sec.querySelector('table.units').hidden = list.length === 0;
  }

  /* A grid has no sub-units: show the grids of its community instead, itself marked. */
  function renderSiblings(doc) {
    var t = $('[data-testid="siblings"]'), h = $('[data-testid="siblings-title"]');
    var parent = doc && doc.parent && units.get(doc.parent);
    var list = parent ? childrenOf(doc.parent) : [];
    var show = doc && doc.level === 'grid' && list.length > 0;
    t.hidden = h.hidden = !show;
    if (!show) { syncRows(t.querySelector('tbody'), siblingRowsByOrg, [], 'sibling-row'); return; }
    h.textContent = '同' + (LEVEL_ZH[parent.doc.level] || '上级') + '网格 · ' + displayName(parent.doc) + '（' + list.length + ' 个）';
    syncRows(t.querySelector('tbody'), siblingRowsByOrg, list, 'sibling-row', doc.org);
  }

  function render() {
    renderHeader();
    var loginShown = !$('#login').hidden;
    var tops = topUnits();
    var view = current;
    if (view === null && tops.length === 1) view = tops[0].org;
    var waiting = $('#waiting');
    if (loginShown) {
      $('[data-testid="breadcrumb"]').textContent = '';
      $('#unit').hidden = true; $('#children').hidden = true; waiting.hidden = true;
      return;
    }
    renderCrumbs(view);
    renderSiblings(view !== null && units.get(view) ? units.get(view).doc : null);
    if (view === null) {
      $('#unit').hidden = true;
      waiting.hidden = tops.length > 0;
      if (tops.length) renderRows(tops, '全部单位'); else $('#children').hidden = true;
      document.body.setAttribute('data-view', '');
      return;
    }
    var u = units.get(view);
    document.body.setAttribute('data-view', view);
    if (!u) {
      $('#unit').hidden = true;
      $('#children').hidden = true;
      waiting.hidden = false;
      waiting.querySelector('p').textContent = '正在等待单位 ' + view + ' 的状态数据…';
      return;
    }
    waiting.hidden = true;
    document.title = displayName(u.doc) + ' · 网格化管理实时状态';
    renderUnit(u.doc);
    var kids = childrenOf(view);
    var kidLevel = kids.length ? (LEVEL_ZH[kids[0].level] || '') : '';
    renderRows(kids, (CHILD_ZH[u.doc.level] || '下级单位') + (kids.length ? '（' + kids.length + ' 个' + kidLevel + '）' : ''));
    if (!kids.length) $('[data-testid="children-title"]').textContent = u.doc.level === 'grid' ? '' : '暂无下级单位数据';
  }

  /* ---------- navigation ---------- */

  function go(org) { location.hash = org ? '#/' + org : '#/'; }
  function fromHash() {
    var h = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
    current = ORG_RE.test(h) ? h : null;
    scheduleRender();
  }

  /* ---------- connection ---------- */

  function setConn(state, text) {
    var c = $('[data-testid="connection"]');
    c.setAttribute('data-state', state);
    c.querySelector('.txt').textContent = text;
  }

  function showLogin(msg) {
    $('#login').hidden = false;
    $('[data-testid="login-error"]').textContent = msg || '';
    scheduleRender();
  }

  function connect(user, pass) {
    if (client) { client.end(true); client = null; }
    $('#login').hidden = true;
    var proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    var url = proto + '//' + location.host + '/mqtt';
    setConn('connecting', '连接中…');
    var authFailed = false;
    client = mqtt.connect(url, {
      username: user,
      password: pass,
      clientId: 'gs-dash-' + Math.random().toString(16).slice(2, 10),
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 3000,
      connectTimeout: 10000,
      resubscribe: false /* the connect handler subscribes on every (re)connect */
    });
    client.on('connect', function () {
      setConn('connected', '已连接');
      client.subscribe(TOPIC_PREFIX + '#', { qos: 1 }, function (err, granted) {
        if (err || !granted || !granted.length || granted[0].qos > 2) {
          setConn('error', '订阅被拒绝');
        } else {
          setConn('live', '实时');
        }
      });
    });
    client.on('message', onMessage);
    client.on('reconnect', function () { if (!authFailed) setConn('connecting', '重新连接中…'); });
    client.on('offline', function () { if (!authFailed) setConn('offline', '已断开'); });
    client.on('close', function () { if (!authFailed) setConn('offline', '已断开'); });
    client.on('error', function (err) {
      /* CONNACK 4 = bad user name or password, 5 = not authorized (MQTT 3.1.1). */
      if (err && (err.code === 4 || err.code === 5 || err.code === 134 || err.code === 135)) {
        authFailed = true;
        client.end(true);
        setConn('error', '认证失败');
        try { sessionStorage.removeItem('gs-dash-cred'); } catch (e) { /* ignore */ }
        showLogin('用户名或密码错误 · not authorised');
      } else {
        setConn('error', '连接错误');
      }
    });
  }

  /* A count the table lists and index.html does not show yet: a card in the unit
   * panel and a column in the units table, headed with the table's short name. */
  function addMissingCounts() {
    var kpis = $('#unit .kpis'), head = $('#children table.units thead tr'), asOf = head.querySelector('[data-col="as-of"]');
    COUNTS.forEach(function (f) {
      if (!$('#unit [data-testid="' + f.dash + '"]')) {
        var card = el('div', { 'class': 'kpi' });
        card.appendChild(el('div', { 'class': 'kpi-label' }, f.head));
        card.appendChild(el('div', { 'class': 'big', 'data-testid': f.dash }, '—'));
        kpis.appendChild(card);
      }
      if (!IN_COMPOSITE[f.key] && !head.querySelector('[data-col="' + f.dash + '"]'))
        head.insertBefore(el('th', { 'class': 'c-num', 'data-col': f.dash }, f.head), asOf);
    });
  }

  function start() {
    if (!window.GS_STATUS_TABLE) console.error('gridsync: status_table.js did not load; numbers cannot be shown');
    addMissingCounts();
    $('[data-testid="siblings"] thead').innerHTML = $('#children table.units thead').innerHTML;
    window.addEventListener('hashchange', fromHash);
    fromHash();
    setInterval(renderHeader, 5000); /* keeps "n 秒前" current */
    var q = new URLSearchParams(location.search);
    var user = q.get('user'), pass = q.get('pass');
    if (user !== null && pass !== null) {
      /* Keep the password out of the address bar and history; the session keeps it for reloads. */
      try { sessionStorage.setItem('gs-dash-cred', JSON.stringify({ user: user, pass: pass })); } catch (e) { /* ignore */ }
      q.delete('pass');
      q.delete('user');
      var rest = q.toString();
      history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
    } else {
      try {
        var saved = JSON.parse(sessionStorage.getItem('gs-dash-cred') || 'null');
        if (saved) { user = saved.user; pass = saved.pass; }
      } catch (e) { /* ignore */ }
    }
    $('#login-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var f = e.target;
      var u = f.elements.user.value, p = f.elements.pass.value;
      try { sessionStorage.setItem('gs-dash-cred', JSON.stringify({ user: u, pass: p })); } catch (err) { /* ignore */ }
      connect(u, p);
    });
    if (typeof mqtt === 'undefined') {
      setConn('error', 'mqtt.min.js 未加载');
      return;
    }
    if (user !== null && pass !== null && user !== undefined) connect(user, pass);
    else showLogin('');
    render();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
