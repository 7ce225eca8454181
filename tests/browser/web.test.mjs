// web.test.mjs — the regional headquarters' page in a real browser
// (Debian's chromium, headless, driven by playwright-core from
// web/node_modules; no browser download). Started by
// tests/golden/web.sh, which prepares the data and the server and passes:
//   CT_URL, CT_FED, CT_MOSCOW (regional RU-MOW), CT_PETERSBURG (RU-SPE),
//   CT_A, CT_C (contacts of case K1), CT_CHROMIUM, CT_WEB, CT_SCREENSHOTS
// Each test logs in as a user would (token typed, Enter pressed) and
// leaves a screenshot of its view in CT_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const env = process.env;
const require = createRequire(join(env.CT_WEB, 'package.json'));
const { chromium } = require('playwright-core');

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: env.CT_CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});
after(async () => { await browser?.close(); });

// A fresh page at laptop size, with every console error and failed
// request collected: a page that logs errors fails its test.
async function open(lang = 'en') {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: lang });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  await page.addInitScript((l) => localStorage.setItem('ct.lang', l), lang);
  await page.goto(env.CT_URL + '/');
  return page;
}

async function login(page, token) {
  await page.waitForSelector('#token');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'token', 'the token field has the focus');
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#main[data-ready="#/overview"]');
}

async function shot(page, name) {
  await page.screenshot({ path: join(env.CT_SCREENSHOTS, `${name}.png`), fullPage: true });
}

// A 404 in the console is the page asking for a case's places the API
// keeps from this user (another region's case): expected, and shown as none.
function noProblems(page) {
  assert.deepEqual(page.problems.filter((p) => !/status of 404/.test(p)), []);
}

async function api(path, token) {
  const res = await fetch(env.CT_URL + path, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, path);
  return res.json();
}

test('a wrong token is refused in words; the login view is Russian by default', async () => {
  const page = await open('ru');
  await page.waitForSelector('#token');
  assert.equal(await page.textContent('#login-submit'), 'Войти');
  await shot(page, 'login');
  await page.fill('#token', 'ctk_not-a-token');
  await page.click('#login-submit');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /Токен не подошёл/);
  await page.context().close();
});

test('a regional user sees only their region\'s cases', async () => {
  const page = await open();
  await login(page, env.CT_PETERSBURG);
  await page.waitForSelector('#case-list');
  const cases = await page.$$eval('#case-list tbody tr', (rows) => rows.map((r) => r.dataset.case));
  assert.deepEqual(cases, ['K2', 'K3']); // K3's contacts live in RU-MOW: registered here
  // no movements of another region's cases: K3 is theirs, K2 has none
  await page.click('nav a[data-view="map"]');
  await page.waitForSelector('#map-summary[data-markers]');
  assert.equal(await page.getAttribute('#map-summary', 'data-markers'), '1'); // K3 only
  await page.click('nav a[data-view="overview"]');
  assert.match(await page.textContent('#who'), /petersburg .* RU-SPE/);
  noProblems(page);
  await page.context().close();
  const moscow = await open();
  await login(moscow, env.CT_MOSCOW);
  await moscow.waitForSelector('#case-list');
  // RU-MOW's two cases, and RU-SPE's K3 whose contacts live in RU-MOW; the
  // case id that is markup is shown as the text it is
  assert.deepEqual(await moscow.$$eval('#case-list tbody tr', (rows) => rows.map((r) => r.dataset.case)),
    [env.CT_HOSTILE, 'K1', 'K3']);
  assert.equal(await moscow.textContent('#case-list tbody tr:first-child a'), env.CT_HOSTILE);
  await moscow.click('nav a[data-view="map"]');
  await moscow.waitForSelector('#map-summary[data-markers]');
  // the two cases registered in RU-MOW; not RU-SPE's K3, though it is listed;
  // and no hotspot: K1 met only K3, and the markup case is K1's own phone
  assert.equal(await moscow.getAttribute('#map-summary', 'data-markers'), '2');
  assert.equal(await moscow.$$eval('path.hotspot', (h) => h.length), 0);
  // the same through the API: K1 mapped, RU-SPE's K3 and an unknown id left out
  const many = await api(`/api/v1/places?cases=K1,K3,nothing`, env.CT_MOSCOW);
  assert.deepEqual(many.cases.map((c) => c.case_id), ['K1']);
  assert.equal(many.left_out, 2);
  assert.equal(await moscow.$$eval('img', (i) => i.filter((x) => x.getAttribute('src') === 'x').length), 0);
  noProblems(moscow);
  await moscow.context().close();
});

test('a federal user sees all regions; the charts have data points', async () => {
  const page = await open();
  await login(page, env.CT_FED);
  await page.waitForSelector('#case-list');
  const rows = await page.$$eval('#case-list tbody tr', (r) => r.map((x) => x.children[2].textContent));
  assert.deepEqual([...new Set(rows)].sort(), ['RU-MOW', 'RU-SPE']);
  assert.equal(rows.length, 4);
  await page.waitForFunction(() => document.querySelector('#chart-levels')?.uplot);
  const points = await page.evaluate(() => {
    const u = document.querySelector('#chart-levels').uplot;
    return { days: u.data[0].length, contacts: u.data.slice(1).flat().reduce((a, b) => a + b, 0) };
  });
  const report = await api('/api/v1/report', env.CT_FED);
  const sum = (k) => report.rows.reduce((a, r) => a + r[k], 0);
  assert.ok(points.days >= 1, 'a day on the x axis');
  assert.equal(points.contacts, sum('contacts'), 'every contact of the report, at one level each');
  assert.ok(sum('quarantine') >= 1 && sum('test') >= 1 && sum('none') >= 1);
  assert.ok(await page.$('#chart-levels canvas'), 'drawn');
  assert.match(await page.textContent('#tiles'), new RegExp(`Quarantine\\s*${sum('quarantine')}`));
  await shot(page, 'overview-federal');
  noProblems(page);
  await page.context().close();
});

test('the map has a marker for every case with stays, and the cells', async () => {
  const page = await open();
  await login(page, env.CT_FED);
  // a reason in Russian goes with every request (percent-encoded) into the audit
  await page.fill('#reason', 'контроль карты');
  await page.click('nav a[data-view="map"]');
  await page.waitForSelector('#map-summary[data-markers]');
  const list = await api('/api/v1/cases?per_page=1000', env.CT_FED);
  let expected = 0;
  for (const c of list.cases) {
    const p = await api(`/api/v1/cases/${c.case_id}/places`, env.CT_FED);
    if (p.stays.length) expected++;
  }
  assert.ok(expected >= 1);
  assert.equal(await page.$$eval('path.case-marker', (m) => m.length), expected);
  const cells = await api('/api/v1/cells', env.CT_FED);
  assert.equal(await page.getAttribute('#map-summary', 'data-cells'), String(cells.cells.length));
  assert.ok(await page.$('#map canvas'), 'the cells and stays are drawn on a canvas');
  assert.ok(await page.$$eval('path.region-outline', (m) => m.length) >= 1);
  // hotspots: where K3 (A's phone) met K1 and the markup case, for federal eyes
  const from = '2020-03-01', to = '2020-04-30';
  const hs = await api(`/api/v1/hotspots?from=${from}&to=${to}`, env.CT_FED);
  assert.ok(hs.hotspots.length >= 1 && hs.hotspots.every((x) => x.cases.includes('K3')));
  assert.ok(await page.$$eval('path.hotspot', (h) => h.length) >= 1);
  // tooltips are text: hovering every marker shows the markup case id as text
  let tips = '';
  for (const m of await page.$$('path.case-marker')) { // they overlap: an event each, not a pointer
    await m.dispatchEvent('mouseover');
    tips += await page.$$eval('.leaflet-tooltip', (t) => t.map((x) => x.textContent).join(' | '));
  }
  assert.ok(tips.includes(env.CT_HOSTILE), tips);
  assert.equal(await page.$$eval('img', (i) => i.filter((x) => x.getAttribute('src') === 'x').length), 0);
  // the imported shapes: a district, a metro line, a station
  assert.equal(await page.getAttribute('#map-summary', 'data-shapes'), '3');
  for (const kind of ['district', 'metro', 'station'])
    assert.equal(await page.$$eval(`path.geo-${kind}`, (m) => m.length), 1, kind);
  await shot(page, 'map');
  noProblems(page);
  await page.context().close();
});

test('a case page: contacts by level, searchable, and a contact\'s evidence', async () => {
  const page = await open();
  await login(page, env.CT_MOSCOW);
  await page.click('#case-list a[href="#/case/K1"]');
  await page.waitForSelector('#contacts tbody tr');
  assert.equal(await page.$$eval('#contacts tbody tr', (r) => r.length), 3);
  await page.click('button[data-level="quarantine"]');
  await page.waitForFunction(() => document.querySelectorAll('#contacts tbody tr').length === 1);
  await page.click('button[data-level="none"]');
  await page.waitForFunction(() => document.querySelectorAll('#contacts tbody tr').length === 3);
  // numbers are masked; a search by the digits shown finds one
  const masked = await page.$$eval('#contacts tbody td.mono', (c) => c.map((x) => x.textContent));
  assert.ok(masked.every((m) => m.includes('*')), 'masked until revealed');
  await page.fill('#contact-search', env.CT_A.slice(-4));
  await page.waitForFunction(() => document.querySelectorAll('#contacts tbody tr').length === 1);
  await page.fill('#contact-search', '');
  // the evidence of the first contact (A, the most likely), reached with the keyboard
  // alone: Tab until an evidence button has the focus, then Enter
  let tabs = 0;
  while (!(await page.evaluate(() => document.activeElement?.classList.contains('evidence-open')))) {
    assert.ok(++tabs < 60, 'Tab reaches the first contact\'s evidence button');
    await page.keyboard.press('Tab');
  }
  assert.equal(await page.evaluate(() => document.activeElement.closest('tr').rowIndex), 1);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#timeline .episode');
  assert.ok(await page.$$eval('#episodes tbody tr', (r) => r.length) >= 1);
  await page.waitForSelector('#evidence-map path.shared-case');
  assert.ok(await page.$('#evidence-map path.shared-contact'));
  assert.match(await page.textContent('#ev-number'), /\*/);
  await shot(page, 'case-evidence');
  await page.click('#reveal');
  await page.waitForFunction((a) => document.querySelector('#ev-number')?.textContent === a, env.CT_A);
  noProblems(page);
  await page.context().close();
});

test('deciding an appeal updates the queue', async () => {
  const page = await open();
  await login(page, env.CT_MOSCOW);
  await page.click('nav a[data-view="appeals"]');
  await page.waitForSelector('#appeal-list[data-count]');
  assert.equal(await page.getAttribute('#appeal-list', 'data-count'), '1');
  assert.match(await page.textContent('.appeal .countdown'), /left/);
  await shot(page, 'appeals');
  await page.fill('.appeal .decide input', 'the evidence holds');
  await page.click('.appeal button.reject');
  await page.waitForFunction(() => document.querySelector('#appeal-list').dataset.count === '0');
  assert.match(await page.textContent('#appeal-status'), /Decided/);
  await page.selectOption('#appeal-state', 'rejected');
  await page.waitForFunction(() => document.querySelector('#appeal-list').dataset.count === '1');
  noProblems(page);
  await page.context().close();
});

test('English and Russian; logout forgets the token', async () => {
  const page = await open('en');
  await login(page, env.CT_FED);
  assert.equal(await page.textContent('nav a[data-view="overview"]'), 'Overview');
  await page.selectOption('#lang', 'ru');
  await page.waitForFunction(() => document.querySelector('nav a[data-view="overview"]').textContent === 'Обзор');
  await page.click('#logout');
  await page.waitForSelector('#token');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ct.token')), null);
  await page.goto(env.CT_URL + '/#/overview');
  await page.waitForSelector('#token'); // no way back without a token
  await page.context().close();
});
