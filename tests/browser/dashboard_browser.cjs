'use strict';
/* Browser half of tests/browser/dashboard_test.sh (which starts the stack, gets status
 * documents published and sets the environment below). Prints one "PASS what" / "FAIL what"
 * line per check on stdout (the harness counts them), diagnostics on stderr. Every wait has
 * a deadline; nothing sleeps a fixed time.
 *
 * Expected numbers are never constants here: they are the retained status documents read
 * at the broker with a bridge-* service certificate (GS_READER_*), before and after the
 * harness's "more visits" hook (GS_MORE: the real device adds visits and syncs, or, with
 * the made-up tree, the harness publishes the update). The broker is re-read on every poll
 * of the page: the collector republishes time-driven numbers (care due, overdue, active
 * devices) on its own timer, so the page is compared with what the broker holds now.
 *
 * Env: GS_DASH_URL GS_DASH_USER GS_DASH_PASS GS_MQTT_PORT GS_WS_PORT GS_PKI (ca.crt)
 *      GS_READER_CRT GS_READER_KEY GS_READER_ID   status reader (bridge-test)
 *      GS_COLLECTOR_CRT GS_COLLECTOR_KEY           observer in the "cannot publish" part
 *      GS_ORGS     every org unit, comma separated (the retained documents to expect)
 *      GS_CITY     the root; GS_CHAIN  the drill-down path below it (…,grid), comma separated
 *      GS_MORE     command: more visits for the last unit of GS_CHAIN
 *      GS_MORE_VISITS  how many visits GS_MORE adds (visits_today grows by that much)
 *      GS_BEFORE_DENY  optional command run before the "cannot publish" part
 *      GS_CHROMIUM GS_PROFILE GS_ARTIFACTS; NODE_PATH has playwright-core, mqtt.
 */
const fs = require('fs');
const path = require('path');
const cp = require('child_process');
const { chromium } = require('playwright-core');
const mqtt = require('mqtt');

const env = process.env;
const MULT = Number(env.GS_TIMEOUT_MULT || 1);
const T = (ms) => ms * MULT;
let failures = 0;

function pass(what) { console.log('PASS ' + what); }
function fail(what) { console.log('FAIL ' + what); failures++; }
function eq(actual, expected, what) {
  if (String(actual) === String(expected)) pass(what);
  else fail(`${what}: got '${actual}', want '${expected}'`);
}
function log(...a) { console.error('[browser]', ...a); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const ORGS = env.GS_ORGS.split(',').filter(Boolean);
const CITY = env.GS_CITY;
const CHAIN = env.GS_CHAIN.split(',').filter(Boolean);
const GRID = CHAIN[CHAIN.length - 1];
const MORE = Number(env.GS_MORE_VISITS);
const newest = (docs) => [...docs.values()].map((d) => d.as_of).sort().pop();
const childrenOf = (docs, org) => [...docs.values()].filter((d) => d.parent === org).map((d) => d.org).sort();

/* ---- the broker's view: retained status documents, read as a bridge-* service ---- */

const READER_TLS = {
  ca: fs.readFileSync(path.join(env.GS_PKI, 'ca.crt')),
  cert: fs.readFileSync(env.GS_READER_CRT), key: fs.readFileSync(env.GS_READER_KEY),
};

/* Subscribes to gs/v1/status/ORG for every org of `orgs` on a fresh clean session and
 * returns Map org -> document of the retained messages; rejects after the deadline. */
async function readRetained(orgs, ms = 10000) {
  const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${env.GS_MQTT_PORT}`, {
    ...READER_TLS, clientId: env.GS_READER_ID, protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: T(10000),
  });
  const got = new Map();
  try {
    let timer;
    const done = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(
        `retained status of ${orgs.filter((o) => !got.has(o)).join(',')} not received within ${ms} ms`)), T(ms));
      c.on('message', (topic, payload, packet) => {
        const org = topic.split('/').pop();
        if (!packet.retain || got.has(org) || payload.length === 0) return;
        got.set(org, JSON.parse(payload.toString()));
        if (orgs.every((o) => got.has(o))) resolve();
      });
    });
    done.catch(() => {});
    await c.subscribeAsync(orgs.map((o) => `gs/v1/status/${o}`), { qos: 1 });
    await done.finally(() => clearTimeout(timer));
  } finally {
    await c.endAsync(true).catch(() => {});
  }
  return got;
}

/* Re-reads the retained documents until cond(docs) holds (bounded). */
async function waitRetained(cond, what, ms = 30000) {
  const deadline = Date.now() + T(ms);
  let docs;
  for (;;) {
    docs = await readRetained(ORGS);
    if (cond(docs)) { pass(what); return docs; }
    if (Date.now() > deadline) { fail(`${what} (timed out after ${ms} ms)`); return docs; }
    await sleep(200);
  }
}

/* ---- the page ---- */

const sel = (id) => `[data-testid="${id}"]`;
const FIELDS = [ // data-testid in the unit panel -> document field
  ['households', 'households'], ['visited', 'visited_period'], ['visits-today', 'visits_today'],
  ['reports-open', 'reports_open'], ['reports-overdue', 'reports_overdue'],
  ['care-due', 'care_due'], ['devices-active', 'devices_active_24h'],
];
const URG = ['low', 'normal', 'high', 'critical'];

/* What the unit panel must show for a status document (same shape as pageView). */
function wantView(doc) {
  const by = doc.reports_by_urgency || {};
  return {
    org: doc.org, name: doc.name,
    nums: Object.fromEntries(FIELDS.map(([id, f]) => [id, String(doc[f])])),
    coverage: doc.households > 0 ? (doc.visited_period / doc.households).toFixed(4) : null, // computed by the page
    legend: Object.fromEntries(URG.map((k) => [k, String(by[k])])),
    segs: ['critical', 'high', 'normal', 'low'].filter((k) => by[k] > 0).map((k) => [k, String(by[k])]),
  };
}

/* What the unit panel shows (data-value attributes, the name's text). */
async function pageView(page) {
  return page.evaluate(({ fields, urg }) => {
    const p = document.querySelector('[data-testid="unit-panel"]');
    if (!p || p.hidden) return null;
    const q = (id) => p.querySelector(`[data-testid="${id}"]`);
    const val = (e) => (e ? e.getAttribute('data-value') : null);
    return {
      org: p.getAttribute('data-org'),
      name: q('unit-name') ? q('unit-name').textContent : null,
      nums: Object.fromEntries(fields.map((id) => [id, val(q(id))])),
      coverage: val(q('coverage')),
      legend: Object.fromEntries(urg.map((k) => [k, val(p.querySelector(`[data-testid="urgency-legend"] [data-urgency="${k}"]`))])),
      segs: [...p.querySelectorAll('[data-testid="urgency-bar"] .seg')].map((e) => [e.dataset.urgency, e.dataset.value]),
    };
  }, { fields: FIELDS.map((f) => f[0]), urg: URG });
}

/* Waits (bounded) until the unit panel shows `org` exactly as its retained document at
 * the broker, re-reading the broker on every poll: the collector republishes time-driven
 * numbers (care due, overdue, active devices) on its own timer, so a snapshot taken
 * earlier can be stale by the time the page is looked at. `cond(docs)`, when given, must
 * hold for the broker's documents too. With `label`, reports the panel's parts (name,
 * coverage, urgency legend and bar) as checks of their own. Returns the documents matched. */
async function waitUnit(page, org, what, { ms = 15000, label = null, cond = null } = {}) {
  const deadline = Date.now() + T(ms);
  let docs, shown, want;
  for (;;) {
    docs = await readRetained(ORGS);
    want = wantView(docs.get(org));
    shown = await pageView(page);
    const ok = (!cond || cond(docs)) && JSON.stringify(shown) === JSON.stringify(want);
    if (ok || Date.now() > deadline) break;
    await sleep(150);
  }
  const same = (k) => shown && JSON.stringify(shown[k]) === JSON.stringify(want[k]);
  if (same('org') && same('nums') && (!cond || cond(docs))) pass(what);
  else fail(`${what} (page shows ${JSON.stringify(shown && { org: shown.org, nums: shown.nums })}, broker has ${JSON.stringify({ org: want.org, nums: want.nums })})`);
  if (label) {
    const detail = (k, w) => (same(k) ? pass(`${label}: ${w}`)
      : fail(`${label}: ${w}: page ${JSON.stringify(shown && shown[k])}, want ${JSON.stringify(want[k])}`));
    detail('name', 'Chinese name shown');
    detail('coverage', 'coverage ratio computed by the page');
    detail('legend', 'open reports by urgency in the legend');
    detail('segs', 'stacked urgency bar segments');
  }
  return docs;
}

/* Waits (bounded) until "last updated" shows the newest as_of of the broker's documents. */
async function waitNewestAsOf(page, what, ms = 10000) {
  const deadline = Date.now() + T(ms);
  let shown, want;
  for (;;) {
    want = newest(await readRetained(ORGS));
    shown = await page.getAttribute(sel('last-as-of'), 'data-value');
    if (shown === want) { pass(what); return; }
    if (Date.now() > deadline) { fail(`${what}: page '${shown}', broker '${want}'`); return; }
    await sleep(150);
  }
}

async function crumbs(page) {
  return page.$$eval(`${sel('breadcrumb')} ${sel('crumb')}`, (c) => c.map((e) => e.getAttribute('data-org')));
}
async function rowOrgs(page) {
  return (await page.$$eval(sel('unit-row'), (r) => r.map((e) => e.getAttribute('data-org')))).sort();
}

async function browserPart(ctx) {
  const page = ctx.pages()[0] || await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') log('console error:', m.text()); });

  // What the broker holds now (the collector's retained documents).
  const first = await readRetained(ORGS);
  pass(`read ${first.size} retained status documents at the broker as ${env.GS_READER_ID}`);
  log(`city ${CITY} at the broker: ${JSON.stringify(first.get(CITY))}`);

  const url = `${env.GS_DASH_URL}?user=${encodeURIComponent(env.GS_DASH_USER)}&pass=${encodeURIComponent(env.GS_DASH_PASS)}`;
  await page.goto(url, { waitUntil: 'load', timeout: T(15000) });

  const before = await waitUnit(page, CITY, 'city view shows the numbers of the city\'s retained status', { label: 'city' });
  const city = before.get(CITY);
  eq(await page.getAttribute(sel('connection'), 'data-state'), 'live', 'connection state is live');
  eq(page.url().includes('pass='), false, 'password removed from the address bar');
  eq(JSON.stringify(await crumbs(page)), JSON.stringify([CITY]), 'breadcrumb at the city');
  const kids = childrenOf(before, CITY);
  eq(JSON.stringify(await rowOrgs(page)), JSON.stringify(kids), `city lists its ${kids.length} district(s)`);
  eq(await page.getAttribute(`${sel('unit-row')}[data-org="${CHAIN[0]}"] [data-col="households"]`, 'data-value'),
    before.get(CHAIN[0]).households, 'district row shows its households');
  await waitNewestAsOf(page, 'last updated shows the newest as_of');
  const rx1 = await page.getAttribute(sel('last-received'), 'data-value');
  eq(rx1 !== null && !Number.isNaN(Date.parse(rx1)), true, 'last updated shows when the page last received a message');
  await page.screenshot({ path: path.join(env.GS_ARTIFACTS, 'dashboard-city-initial.png'), fullPage: true });

  // Drill down city -> district -> street -> community -> grid by clicking rows.
  await page.evaluate(() => { window.__gsNoReload = 'still-here'; });
  let docs = before;
  for (let i = 0; i < CHAIN.length; i++) {
    const org = CHAIN[i];
    await page.click(`${sel('unit-row')}[data-org="${org}"]`, { timeout: T(10000) });
    docs = await waitUnit(page, org, `drill-down to ${before.get(org).level} ${org}`,
      { label: i === CHAIN.length - 1 ? 'grid' : null });
    eq(JSON.stringify(await crumbs(page)), JSON.stringify([CITY, ...CHAIN.slice(0, i + 1)]), `breadcrumb at ${org}`);
    if (i === CHAIN.length - 2) {
      await page.screenshot({ path: path.join(env.GS_ARTIFACTS, 'dashboard-community.png'), fullPage: true });
    }
  }
  const grid = docs.get(GRID);
  eq(await page.isVisible(sel('no-children')), true, 'grid view says a grid has no sub-units');
  const crumbText = await page.textContent(sel('breadcrumb'));
  const names = [CITY, ...CHAIN].map((o) => before.get(o).name);
  eq(names.every((n) => crumbText.includes(n)), true, `breadcrumb names every level in Chinese (${names.join(' › ')})`);

  // More visits reach the collector; the broker's retained grid and city move; the page follows live.
  const rxBefore = await page.getAttribute(sel('last-received'), 'data-value');
  const t0 = Date.now();
  cp.execFileSync(env.GS_MORE, [], { timeout: T(60000), stdio: ['ignore', 'inherit', 'inherit'] });
  log(`more visits hook took ${Date.now() - t0} ms`);
  const moved = (d) => d.get(GRID).visits_today === grid.visits_today + MORE && d.get(CITY).visits_today === city.visits_today + MORE;
  await waitRetained(moved,
    `retained ${GRID} and ${CITY} count ${MORE} more visits today (${grid.visits_today} -> ${grid.visits_today + MORE})`);
  await waitUnit(page, GRID, 'grid view updates live to the new retained numbers', { label: 'updated grid', cond: moved });
  eq(await page.evaluate(() => window.__gsNoReload), 'still-here', 'updated without a page reload');
  await waitNewestAsOf(page, 'last updated moves to the new as_of');
  const rxAfter = await page.getAttribute(sel('last-received'), 'data-value');
  eq(rxAfter !== rxBefore && Date.parse(rxAfter) >= Date.parse(rxBefore), true, 'last received time advanced');
  await page.screenshot({ path: path.join(env.GS_ARTIFACTS, 'dashboard-grid.png'), fullPage: true });

  // Back up to the city through the breadcrumb: the sums moved too.
  await page.click(`${sel('breadcrumb')} ${sel('crumb')}[data-org="${CITY}"]`);
  const after = await waitUnit(page, CITY, 'city view shows the new retained city totals after navigating back', { cond: moved });
  eq(await page.getAttribute(`${sel('unit-row')}[data-org="${CHAIN[0]}"] [data-col="visits-today"]`, 'data-value'),
    after.get(CHAIN[0]).visits_today, 'district row shows its new visits today');
  eq(await page.evaluate(() => window.__gsNoReload), 'still-here', 'still the same page (no reload)');
  eq(await page.getAttribute(sel('unit-count'), 'data-value'), ORGS.length, 'page knows every org unit once');
  await page.screenshot({ path: path.join(env.GS_ARTIFACTS, 'dashboard.png'), fullPage: true });

  // The login form: no credentials in the URL -> form; a wrong password -> error; right -> data.
  const p2 = await ctx.newPage();
  p2.on('pageerror', (e) => pageErrors.push(String(e)));
  await p2.goto(env.GS_DASH_URL, { waitUntil: 'load', timeout: T(15000) });
  await p2.waitForSelector(sel('login-form'), { state: 'visible', timeout: T(10000) });
  pass('login form shown without credentials in the URL');
  await p2.fill(sel('login-user'), env.GS_DASH_USER);
  await p2.fill(sel('login-pass'), 'wrong-password');
  await p2.click(sel('login-submit'));
  try {
    await p2.waitForFunction(() => {
      const e = document.querySelector('[data-testid="login-error"]');
      const f = document.querySelector('[data-testid="login-form"]');
      return f && !f.hidden && e && e.textContent.trim() !== '';
    }, null, { timeout: T(10000), polling: 100 });
    pass('wrong password is refused and the form says so');
  } catch (e) { fail('wrong password is refused and the form says so'); }
  await p2.screenshot({ path: path.join(env.GS_ARTIFACTS, 'dashboard-login.png') });
  await p2.fill(sel('login-pass'), env.GS_DASH_PASS);
  await p2.click(sel('login-submit'));
  await waitUnit(p2, CITY, 'login form connects with the right password');
  await p2.close();

  eq(pageErrors.length, 0, `no uncaught page errors${pageErrors.length ? ': ' + pageErrors.join('; ') : ''}`);
  return page;
}

/* The dashboard account must not be able to publish: not a status, not a device's upload. */
async function denyPart(page) {
  const pki = env.GS_PKI;
  const seen = [];
  const collector = await mqtt.connectAsync(`mqtts://127.0.0.1:${env.GS_MQTT_PORT}`, {
    ca: fs.readFileSync(path.join(pki, 'ca.crt')),
    cert: fs.readFileSync(env.GS_COLLECTOR_CRT),
    key: fs.readFileSync(env.GS_COLLECTOR_KEY),
    clientId: 'gs-collector', protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: T(10000),
  });
  collector.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await collector.subscribeAsync(['gs/v1/dev/+/up', 'gs/v1/status/g-x', 'gs/v1/status/zz-test-marker'], { qos: 1 });

  const dash = await mqtt.connectAsync(`ws://127.0.0.1:${env.GS_WS_PORT}/mqtt`, {
    username: env.GS_DASH_USER, password: env.GS_DASH_PASS, clientId: 'gs-dash-test-writer',
    protocolVersion: 5, clean: true, reconnectPeriod: 0, connectTimeout: T(10000),
  });
  pass('dashboard account connects over websockets from node');
  const forged = JSON.stringify({ v: 1, org: 'g-x', parent: CHAIN[CHAIN.length - 2], level: 'grid', name: '伪造', households: 1, visited_period: 1 });
  const batch = JSON.stringify({ v: 1, batch: 'b-forged', changes: [] });
  for (const [topic, payload, retain] of [['gs/v1/status/g-x', forged, true], ['gs/v1/dev/x/up', batch, false]]) {
    let outcome;
    try {
      const pkt = await Promise.race([
        dash.publishAsync(topic, payload, { qos: 1, retain }),
        new Promise((_, rej) => setTimeout(() => rej(new Error('no PUBACK within deadline')), T(10000))),
      ]);
      outcome = `PUBACK reason ${pkt && pkt.reasonCode !== undefined ? pkt.reasonCode : 0}`;
    } catch (e) { outcome = `refused: ${e.message}`; }
    log(`dashboard publish to ${topic}: ${outcome}`);
  }
  // Ordering marker: the broker had handled both publishes (PUBACK/refusal) before this one,
  // so anything they forwarded would reach the collector before the marker does.
  await collector.publishAsync('gs/v1/status/zz-test-marker', 'marker', { qos: 1, retain: false });
  const deadline = Date.now() + T(10000);
  while (!seen.some((m) => m.topic === 'gs/v1/status/zz-test-marker') && Date.now() < deadline) {
    await sleep(50);
  }
  eq(seen.some((m) => m.topic === 'gs/v1/status/zz-test-marker'), true, 'collector saw its ordering marker');
  eq(seen.filter((m) => m.topic === 'gs/v1/status/g-x').length, 0, 'dashboard account cannot publish a status (nothing delivered)');
  eq(seen.filter((m) => m.topic === 'gs/v1/dev/x/up').length, 0, 'dashboard account cannot publish a device upload (nothing delivered)');

  // Nothing retained either: subscribe to g-x, then to a known retained topic; mosquitto
  // handles one client's packets in order, so a retained g-x would arrive before the city's.
  seen.length = 0;
  const cityTopic = `gs/v1/status/${CITY}`;
  await collector.unsubscribeAsync(['gs/v1/dev/+/up', 'gs/v1/status/g-x', 'gs/v1/status/zz-test-marker']);
  await collector.subscribeAsync('gs/v1/status/g-x', { qos: 1 });
  await collector.subscribeAsync(cityTopic, { qos: 1 });
  const d2 = Date.now() + T(10000);
  while (!seen.some((m) => m.topic === cityTopic) && Date.now() < d2) {
    await sleep(50);
  }
  eq(seen.some((m) => m.topic === cityTopic && m.retain), true, 'retained city status readable by the collector');
  eq(seen.filter((m) => m.topic === 'gs/v1/status/g-x').length, 0, 'no retained status left behind by the dashboard account');
  eq(await page.$$eval(`${sel('unit-row')}[data-org="g-x"]`, (r) => r.length), 0, 'page shows no forged unit');
  await dash.endAsync(true);
  await collector.endAsync(true);
}

(async () => {
  let ctx;
  const watchdog = setTimeout(() => { fail('browser script overall deadline'); process.exit(1); }, T(100000)); // the harness also bounds it
  try {
    fs.mkdirSync(env.GS_ARTIFACTS, { recursive: true });
    ctx = await chromium.launchPersistentContext(env.GS_PROFILE, {
      executablePath: env.GS_CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1600, height: 900 },
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai', // as on a command-centre screen: as_of offsets match local time
      timeout: T(30000),
    });
    ctx.setDefaultTimeout(T(10000));
    const page = await browserPart(ctx);
    if (env.GS_BEFORE_DENY) {
      // The observer below takes the collector's identity (the only one that may read
      // device uploads); a running collector would be kicked off and kick it back.
      cp.execFileSync(env.GS_BEFORE_DENY, [], { timeout: T(20000), stdio: ['ignore', 'inherit', 'inherit'] });
    }
    await denyPart(page);
  } catch (e) {
    fail(`browser script aborted: ${e && e.stack ? e.stack.split('\n').slice(0, 4).join(' | ') : e}`);
  } finally {
    if (ctx) await ctx.close().catch(() => {});
    clearTimeout(watchdog);
  }
  process.exit(failures ? 1 : 0);
})();
