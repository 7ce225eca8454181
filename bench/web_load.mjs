// web_load.mjs — bench/web_load.sh's browser side: each view of the
// headquarters' page five times in headless chromium, the time until its
// data is in and drawn (the view's own `data-ready`, or the case page's
// `data-fetch-ms` and `data-load-ms`, from its first request until the
// data is in and until the table is drawn),
// median and worst, as a Markdown report on stdout.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import os from 'node:os';

const env = process.env;
const { chromium } = createRequire(join(env.CT_WEB, 'package.json'))('playwright-core');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'en' });
const page = await context.newPage();
await page.addInitScript(() => localStorage.setItem('ct.lang', 'en'));
await page.goto(env.CT_URL + '/');
await page.fill('#token', env.CT_TOKEN);
await page.press('#token', 'Enter');
await page.waitForSelector('#main[data-ready="#/overview"]');

async function timed(hash, ready) {
  const t0 = Date.now();
  await page.evaluate((h) => { delete document.querySelector('#main').dataset.ready; location.hash = h; }, hash);
  await page.waitForSelector(ready, { timeout: 120000 });
  return Date.now() - t0;
}
const stats = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], worst: s[s.length - 1] };
};
const rows = [];
async function measure(name, hash, ready, extra) {
  const times = [], inner = [];
  for (let i = 0; i < 5; i++) {
    await page.evaluate(() => { location.hash = '#/none'; });
    times.push(await timed(hash, ready));
    if (extra) inner.push(await extra());
  }
  rows.push({ name, ...stats(times), fetch: inner.length ? stats(inner.map((x) => x[0])) : null,
    drawn: inner.length ? stats(inner.map((x) => x[1])) : null });
}
const caseHash = `#/case/${encodeURIComponent(env.CT_CASE)}`;
await measure('overview (report, cases, 3 charts)', '#/overview', '#main[data-ready="#/overview"] #chart-appeals canvas');
await page.screenshot({ path: join(env.CT_SHOTS, 'overview.png'), fullPage: true });
await measure('map (cells, every case\'s stays, hotspots)', '#/map', '#map-summary[data-markers]');
await page.screenshot({ path: join(env.CT_SHOTS, 'map.png') });
await measure(`case ${env.CT_CASE}: its first 1 000 of ${env.CT_CASE_CONTACTS} contacts`, caseHash,
  `#main[data-ready="${caseHash}"] #contacts tbody tr`,
  async () => [Number(await page.getAttribute('#main', 'data-fetch-ms')),
    Number(await page.getAttribute('#main', 'data-load-ms'))]);
const shown = await page.$$eval('#contacts tbody tr', (r) => r.length);
const t0 = Date.now();
await page.click('#contacts tbody tr:first-child button.evidence-open');
await page.waitForSelector('#ev-number', { timeout: 120000 });
const evidenceMs = Date.now() - t0;
await page.screenshot({ path: join(env.CT_SHOTS, 'case-evidence.png'), fullPage: true });
await measure('appeals queue', '#/appeals', '#appeal-list[data-count]');
await page.screenshot({ path: join(env.CT_SHOTS, 'appeals.png'), fullPage: true });
await browser.close();

console.log(`# The headquarters' page on the ${env.CT_SIZE} city (${new Date().toISOString().slice(0, 10)})\n`);
console.log(`Machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; commit ${env.CT_COMMIT}.`);
console.log('`bench/web_load.sh`: `celltrace serve` (4 workers) and headless chromium on the same machine;');
console.log('each view opened 5 times, the time from the address change until its data is drawn.\n');
console.log('| view | median ms | worst ms | case page: data in, median / worst ms | case page: table drawn, median / worst ms |');
console.log('|---|---:|---:|---:|---:|');
const pair = (x) => (x ? `${x.median} / ${x.worst}` : '');
for (const r of rows) console.log(`| ${r.name} | ${r.median} | ${r.worst} | ${pair(r.fetch)} | ${pair(r.drawn)} |`);
console.log(`\nRows in the case's table: ${shown}. One contact's evidence (a trace of the case, ct_explain): ${evidenceMs} ms.`);
console.log('\nTarget (issue 13): the data of a case with 1 000 contacts in under 200 ms.');
