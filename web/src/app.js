// app.js — the regional headquarters' page of `celltrace serve`
// (docs/WEB.md). It uses only the HTTP API (docs/API.md), so the API's
// roles and regions decide what it shows. Views, by the address's hash:
//   #/login      a token, kept in this tab only (sessionStorage)
//   #/overview   per-day charts (uPlot) from the report, and the cases
//   #/map        cells, regions, where cases stayed, hotspots (Leaflet)
//   #/case/ID    contacts by level, searchable; a contact's evidence:
//                timeline, places on a map, messages; reveal (audited)
//   #/appeals    the queue against its deadlines, with the decisions
// Every text comes from i18n.js; numbers and dates are Intl's, in the
// chosen language and the data directory's time zone.
import { TEXTS } from './i18n.js';

const state = {
  token: sessionStorage.getItem('ct.token') || '',
  me: null,
  lang: localStorage.getItem('ct.lang') || '',
  maps: [],
  timer: null,
};

// ---- words, numbers, dates ------------------------------------------------------------

function t(key) {
  const lang = TEXTS[state.lang] ? state.lang : 'ru';
  return TEXTS[lang][key] ?? TEXTS.en[key] ?? key;
}

function zone() {
  return (state.me && state.me.timezone) || 'UTC';
}

// Intl formatters are slow to make and quick to use: one per language,
// zone and kind (a case page formats thousands of dates).
const formatters = new Map();
function formatter(kind, make) {
  const key = `${kind}|${state.lang}|${zone()}`;
  if (!formatters.has(key)) formatters.set(key, make());
  return formatters.get(key);
}

function fmtNumber(n, digits) {
  return formatter(`n${digits ?? ''}`, () => new Intl.NumberFormat(state.lang, digits === undefined ? {} :
    { maximumFractionDigits: digits, minimumFractionDigits: 0 })).format(n);
}

function fmtWhen(iso) {
  if (!iso || Number.isNaN(Date.parse(iso))) return '—';
  return formatter('when', () => new Intl.DateTimeFormat(state.lang, {
    timeZone: zone(), year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit',
  })).format(new Date(iso));
}

function fmtDay(iso) {
  if (!iso || Number.isNaN(Date.parse(iso))) return '—';
  return formatter('day', () => new Intl.DateTimeFormat(state.lang, {
    timeZone: zone(), year: 'numeric', month: '2-digit', day: '2-digit',
  })).format(new Date(iso));
}

function fmtDuration(s) {
  s = Math.max(0, Math.round(s));
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d) return `${fmtNumber(d)} ${t('d')} ${h} ${t('h')}`;
  if (h) return `${h} ${t('h')} ${m} ${t('min')}`;
  return `${m} ${t('min')}`;
}

function translatePage() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  document.getElementById('skip').textContent = t('skip');
  document.getElementById('lang').value = state.lang;
}

// ---- the DOM, by hand -----------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Leaflet puts a string tooltip or layer label in the page as HTML: the
// page gives it a text node instead, and escapes labels, so no string
// from the data (a case id, a region, an imported shape's kind) is ever
// read as markup.
function textNode(s) {
  return h('span', { text: s });
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function main() {
  return document.getElementById('main');
}

function showError(message) {
  const box = document.getElementById('error');
  box.textContent = message || '';
  box.hidden = !message;
}

function clearView() {
  for (const m of state.maps) m.remove();
  state.maps = [];
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  showError('');
  main().replaceChildren();
}

// ---- the API --------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}` };
  const reason = document.getElementById('reason').value.trim();
  // a header carries Latin-1 only: the reason goes percent-encoded as UTF-8
  // (the server decodes X-Reason), so a Russian reason works
  headers['X-Reason'] = reason ? encodeURIComponent(`web: ${reason}`) : 'web';
  if (options.body) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method: options.method || 'GET', headers,
      body: options.body ? JSON.stringify(options.body) : undefined });
  } catch (e) {
    throw new ApiError(0, t('error.network'));
  }
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) {
    const words = { 401: t('login.expired'), 403: t('error.forbidden'), 404: t('error.notfound'),
      503: t('error.busy') }[res.status] || `${t('error.generic')} ${res.status}`;
    const err = new ApiError(res.status, body && body.error ? `${words} (${body.error})` : words);
    if (res.status === 401 && !options.login) logout(t('login.expired'));
    throw err;
  }
  return body;
}

function failed(e) {
  if (e instanceof ApiError && e.status === 401) return; // logout() said it
  showError(e.message || String(e));
}

// ---- login ----------------------------------------------------------------------------

function logout(message) {
  state.token = '';
  state.me = null;
  sessionStorage.removeItem('ct.token');
  location.hash = '#/login';
  route().then(() => message && showError(message));
}

async function viewLogin() {
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true,
    'aria-describedby': 'token-help' });
  const form = h('form', { class: 'login card', onsubmit: async (ev) => {
    ev.preventDefault();
    state.token = input.value.trim();
    try {
      state.me = await api('/api/v1/me', { login: true });
      sessionStorage.setItem('ct.token', state.token);
      if (!localStorage.getItem('ct.lang')) state.lang = state.me.language === 'en' ? 'en' : 'ru';
      location.hash = '#/overview';
    } catch (e) {
      state.token = '';
      showError(e instanceof ApiError && e.status === 401 ? t('login.bad') : e.message);
    }
  } },
  h('h1', { text: t('login.title') }),
  h('label', { for: 'token', text: t('login.token') }), input,
  h('p', { id: 'token-help', class: 'hint', text: t('login.help') }),
  h('button', { type: 'submit', id: 'login-submit', text: t('login.submit') }));
  main().append(form);
  input.focus();
}

// ---- overview -------------------------------------------------------------------------

const DAY = 86400;

function dayEpoch(day) { // 'YYYY-MM-DD' -> seconds at UTC midnight (uPlot's x)
  return Date.UTC(+day.slice(0, 4), +day.slice(5, 7) - 1, +day.slice(8, 10)) / 1000;
}

function sumByDay(rows, region) {
  const by = new Map();
  for (const r of rows) {
    if (region && r.region !== region) continue;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(r.day || '')) continue; // a row an older writer left without its day
    const x = by.get(r.day) || { day: r.day };
    for (const k of ['cases', 'contacts', 'quarantine', 'test', 'none', 'notified', 'delivered',
      'failed', 'appeals', 'appeals_pending', 'appeals_overdue']) x[k] = (x[k] || 0) + (r[k] || 0);
    by.set(r.day, x);
  }
  return [...by.values()].sort((a, b) => a.day.localeCompare(b.day));
}

function chart(title, id, days, series) {
  const box = h('figure', { class: 'chart', id },
    h('figcaption', { text: title }), h('div', { class: 'plot' }));
  // x is the day's index: uPlot draws each day at one tick, labelled in the user's locale
  const data = [days.map((d, i) => i), ...series.map((s) => days.map((d) => d[s.key]))];
  const label = (i) => (days[i] ? fmtDay(`${days[i].day}T12:00:00Z`) : '');
  const colours = ['#b3261e', '#e8a317', '#6b7a8f', '#2a6f97', '#2e7d32', '#7b1fa2'];
  requestAnimationFrame(() => {
    const plot = box.querySelector('.plot');
    const u = new uPlot({
      width: Math.max(280, plot.clientWidth), height: 220,
      series: [{ label: t('day'), value: (u, v) => (v == null ? '—' : label(v)) },
        ...series.map((s, i) => ({ label: s.label, stroke: colours[i % colours.length], width: 2,
          points: { show: true, size: 7 }, value: (u, v) => (v == null ? '—' : fmtNumber(v)) }))],
      axes: [{ splits: () => data[0], values: (u, splits) => splits.map(label) },
        { values: (u, vals) => vals.map((v) => fmtNumber(v)), size: 64 }],
      scales: { x: { time: false, range: () => [-0.5, days.length - 0.5] },
        y: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
    }, data, plot);
    box.dataset.points = String(data[0].length);
    box.uplot = u;
  });
  return box;
}

function tile(label, value, cls) {
  return h('div', { class: `tile ${cls || ''}` }, h('span', { class: 'tile-label', text: label }),
    h('span', { class: 'tile-value', text: fmtNumber(value) }));
}

async function viewOverview() {
  const head = h('div', { class: 'view-head' }, h('h1', { text: t('overview.title') }));
  const tiles = h('div', { class: 'tiles', id: 'tiles' });
  const charts = h('div', { class: 'charts', id: 'charts' });
  const cases = h('section', { class: 'card', id: 'cases' }, h('h2', { text: t('cases.title') }),
    h('p', { class: 'placeholder', text: t('loading') }));
  main().append(head, tiles, charts, cases);
  const [report, list] = await Promise.all([api('/api/v1/report'),
    api('/api/v1/cases?per_page=1000')]);
  const regions = [...new Set(report.rows.map((r) => r.region))].sort();
  let region = state.me.role === 'regional' ? state.me.region : '';
  if (state.me.role === 'federal' && regions.length > 1) {
    const sel = h('select', { id: 'region', onchange: () => { region = sel.value; draw(); } },
      h('option', { value: '', text: t('overview.all') }),
      regions.map((r) => h('option', { value: r, text: r })));
    head.append(h('label', { class: 'inline' }, t('overview.region'), ' ', sel));
  }
  function draw() {
    const days = sumByDay(report.rows, region);
    const total = (k) => days.reduce((a, d) => a + d[k], 0);
    // a case with contacts in two regions is in two rows of the report: the
    // tile counts the cases themselves (the list), the charts per region and day
    tiles.replaceChildren(tile(t('overview.cases'), region && state.me.role === 'federal'
      ? list.cases.filter((c) => c.region === region).length : list.total),
      tile(t('overview.contacts'), total('contacts')),
      tile(t('overview.quarantine'), total('quarantine'), 'q'),
      tile(t('overview.test'), total('test'), 't'),
      tile(t('overview.notified'), total('notified')),
      tile(t('overview.delivered'), total('delivered')),
      tile(t('overview.appeals'), total('appeals')),
      tile(t('overview.overdue'), total('appeals_overdue'), total('appeals_overdue') ? 'late' : ''));
    charts.replaceChildren();
    if (!days.length) {
      charts.append(h('p', { class: 'placeholder', text: t('overview.nodata') }));
      return;
    }
    charts.append(
      chart(t('chart.levels'), 'chart-levels', days, [
        { key: 'quarantine', label: t('overview.quarantine') },
        { key: 'test', label: t('overview.test') }, { key: 'none', label: t('overview.none') }]),
      chart(t('chart.sms'), 'chart-sms', days, [
        { key: 'notified', label: t('overview.notified') },
        { key: 'delivered', label: t('overview.delivered') },
        { key: 'failed', label: t('overview.failed') }]),
      chart(t('chart.appeals'), 'chart-appeals', days, [
        { key: 'cases', label: t('overview.cases_day') },
        { key: 'appeals', label: t('overview.appeals') },
        { key: 'appeals_overdue', label: t('overview.overdue') }]));
  }
  draw();
  const rows = list.cases.map((c) => h('tr', { 'data-case': c.case_id },
    h('td', {}, h('a', { href: `#/case/${encodeURIComponent(c.case_id)}`, text: c.case_id })),
    h('td', { class: 'mono', text: c.msisdn || '—' }), h('td', { text: c.region || '—' }),
    h('td', { text: fmtDay(c.onset) }), h('td', { text: c.isolated ? fmtDay(c.isolated) : '—' })));
  cases.replaceChildren(h('h2', { text: `${t('cases.title')} (${fmtNumber(list.total)})` }),
    rows.length ? h('table', { class: 'grid', id: 'case-list' },
      h('thead', {}, h('tr', {}, ['cases.id', 'cases.number', 'cases.region', 'cases.onset',
        'cases.isolated'].map((k) => h('th', { scope: 'col', text: t(k) })))),
      h('tbody', {}, rows)) : h('p', { text: t('cases.none') }));
}

// ---- map ------------------------------------------------------------------------------

const OPERATOR_COLOURS = ['#2a6f97', '#7b1fa2', '#2e7d32', '#a15c00', '#455a64'];

function newMap(el) {
  // no animations: a view left mid-zoom removes its map, which an animation
  // still running would then touch
  const map = L.map(el, { zoomSnap: 0.25, attributionControl: false, preferCanvas: false,
    zoomAnimation: false, fadeAnimation: false, markerZoomAnimation: false });
  state.maps.push(map);
  return map;
}

function convexHull(points) { // monotone chain over [lon, lat]
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [], upper = [];
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], q) <= 0) lower.pop();
    lower.push(q);
  }
  for (const q of p.reverse()) {
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], q) <= 0) upper.pop();
    upper.push(q);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

function placeText(p) {
  if (!p) return '—';
  const what = p.kind === 'point' ? t('ev.point') : `${t('ev.cell')} ${p.operator || ''} ${p.cell_id || ''}`;
  return `${what.trim()} ±${fmtNumber(p.radius_m, 0)} m`;
}

async function viewMap() {
  main().append(h('div', { class: 'view-head' }, h('h1', { text: t('map.title') })),
    h('p', { class: 'hint', text: t('map.note') }),
    h('div', { id: 'map', class: 'map big', role: 'region', 'aria-label': t('map.title') }),
    h('p', { id: 'map-summary', class: 'hint', 'aria-live': 'polite' }));
  const map = newMap(document.getElementById('map'));
  map.setView([55.75, 37.62], 11);
  const many = L.canvas({ padding: 0.3 }); // thousands of disks: one canvas, not an SVG node each
  const [cells, list, geo] = await Promise.all([api('/api/v1/cells'), api('/api/v1/cases?per_page=1000'),
    api('/api/v1/geography')]);
  const overlays = {};
  // imported shapes (celltrace geography import): districts, metro lines and stations, boundaries
  const styles = { district: { color: '#8d99a8', weight: 1, fillOpacity: 0.02, dashArray: '2 3' },
    metro: { color: '#c2185b', weight: 4, opacity: 0.8 }, region: { color: '#333', weight: 2, fill: false } };
  const kindOf = (f) => (['district', 'metro', 'station', 'region'].includes(f.properties?.kind)
    ? f.properties.kind : 'other');
  for (const kind of [...new Set(geo.features.map(kindOf))]) {
    const layer = L.geoJSON({ type: 'FeatureCollection',
      features: geo.features.filter((f) => kindOf(f) === kind) }, {
      style: (f) => ({ ...(styles[kind] || { color: '#555', weight: 1 }), className: `geo-${kind}` }),
      pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 3, color: '#c2185b', weight: 1,
        fillColor: '#fff', fillOpacity: 1, className: `geo-${kind}` }),
      interactive: false });
    overlays[escapeHtml(t(`geo.${kind}`))] = layer.addTo(map);
  }
  const operators = [...new Set(cells.cells.map((c) => c.operator))].sort();
  operators.forEach((op, i) => {
    const layer = L.layerGroup(cells.cells.filter((c) => c.operator === op).map((c) =>
      L.circle([c.lat, c.lon], { radius: c.radius_m, color: OPERATOR_COLOURS[i % OPERATOR_COLOURS.length],
        weight: 1, opacity: 0.25, fill: false, interactive: false, renderer: many })));
    overlays[escapeHtml(`${t('map.cells')} ${op}`)] = layer.addTo(map);
  });
  const byRegion = new Map();
  for (const c of cells.cells) if (c.region) {
    if (!byRegion.has(c.region)) byRegion.set(c.region, []);
    byRegion.get(c.region).push([c.lon, c.lat]);
  }
  const regions = L.layerGroup([...byRegion].map(([code, pts]) => L.polygon(
    convexHull(pts).map(([lon, lat]) => [lat, lon]), { color: '#333', weight: 2, dashArray: '6 4',
      fill: false, className: 'region-outline' }).bindTooltip(textNode(code), { sticky: true })));
  overlays[escapeHtml(t('map.regions'))] = regions.addTo(map);
  const cases = L.layerGroup().addTo(map);
  overlays[escapeHtml(t('map.cases'))] = cases;
  const bounds = [];
  // fifty cases a request, two requests at a time: a thousand cases are
  // twenty requests, within the user's rate limit; a 429 waits and asks
  // again; the cases the user may not map are left out by the API
  const byId = new Map();
  const batches = [];
  for (let i = 0; i < list.cases.length; i += 50) batches.push(list.cases.slice(i, i + 50));
  let next = 0, done = 0;
  const summary0 = document.getElementById('map-summary');
  async function worker() {
    while (next < batches.length) {
      const batch = batches[next++];
      const ids = batch.map((c) => encodeURIComponent(c.case_id)).join(',');
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          const r = await api(`/api/v1/places?cases=${ids}`);
          for (const p of r.cases) byId.set(p.case_id, p);
          break;
        } catch (e) {
          if (!(e instanceof ApiError) || e.status !== 429) { failed(e); break; }
          await new Promise((res) => setTimeout(res, 1000 * (attempt + 1)));
        }
      }
      done += batch.length;
      summary0.textContent = `${t('loading')} ${fmtNumber(done)} / ${fmtNumber(list.cases.length)}`;
    }
  }
  await Promise.all([worker(), worker()]);
  const places = list.cases.map((c) => byId.get(c.case_id) || null);
  let markers = 0;
  places.forEach((p, i) => {
    if (!p || !p.stays.length) return;
    const longest = new Map();
    for (const s of p.stays) {
      const key = `${s.place.lat},${s.place.lon}`;
      const x = longest.get(key) || { place: s.place, seconds: 0 };
      x.seconds += s.seconds;
      longest.set(key, x);
      L.circle([s.place.lat, s.place.lon], { radius: s.place.radius_m, color: '#b3261e', weight: 1,
        fillOpacity: 0.015, opacity: 0.35, interactive: false, renderer: many }).addTo(cases);
      bounds.push([s.place.lat, s.place.lon]);
    }
    const main = [...longest.values()].sort((a, b) => b.seconds - a.seconds)[0];
    L.circleMarker([main.place.lat, main.place.lon], { radius: 8, color: '#7f0000', weight: 2,
      fillColor: '#b3261e', fillOpacity: 0.9, className: 'case-marker' })
      .bindTooltip(textNode(`${t('map.case')} ${list.cases[i].case_id}: ${p.stays.length} ${t('map.stays')}`))
      .on('click', () => { location.hash = `#/case/${encodeURIComponent(list.cases[i].case_id)}`; })
      .addTo(cases);
    markers++;
  });
  if (places.some((p) => p)) { // a regional user's: their own cases' (the API cuts them)
    const from = places.filter((p) => p).map((p) => p.window_from).sort()[0];
    const to = places.filter((p) => p).map((p) => p.window_to).sort().at(-1);
    try {
      const hs = await api(`/api/v1/hotspots?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
      overlays[escapeHtml(t('map.hotspots'))] = L.layerGroup(hs.hotspots.map((x) => L.circle([x.lat, x.lon], {
        radius: Math.max(x.radius_m, 60), color: '#e8a317', weight: 3, fillOpacity: 0.08,
        className: 'hotspot' }).bindTooltip(textNode(`${x.cases.join(', ')} · ${fmtWhen(x.hour)}`)))).addTo(map);
    } catch (e) { failed(e); }
  }
  L.control.layers(null, overlays, { collapsed: false }).addTo(map);
  if (bounds.length) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
  else if (cells.cells.length) map.fitBounds(cells.cells.map((c) => [c.lat, c.lon]));
  const summary = document.getElementById('map-summary');
  summary.textContent = `${t('map.cases')}: ${fmtNumber(markers)} · ${t('map.cells')}: ${fmtNumber(cells.cells.length)}`;
  summary.dataset.markers = String(markers);
  summary.dataset.cells = String(cells.cells.length);
  summary.dataset.shapes = String(geo.features.length);
}

// ---- a case ---------------------------------------------------------------------------

const PAGE = 1000; // the API's largest page: a case's first thousand contacts in one request

async function viewCase(caseId) {
  const back = h('a', { href: '#/overview', text: `← ${t('case.back')}` });
  const info = h('div', { class: 'case-info' }, t('loading'));
  main().append(back, h('div', { class: 'view-head' }, h('h1', { text: `${t('case.title')} ${caseId}` })),
    info);
  const enc = encodeURIComponent(caseId);
  const started = performance.now();
  const [c, q, tst, all] = await Promise.all([api(`/api/v1/cases/${enc}`),
    api(`/api/v1/cases/${enc}/contacts?level=quarantine&per_page=1`),
    api(`/api/v1/cases/${enc}/contacts?level=test&per_page=1`),
    api(`/api/v1/cases/${enc}/contacts?per_page=${PAGE}`)]);
  main().dataset.fetchMs = String(Math.round(performance.now() - started)); // the data is in
  info.replaceChildren(
    h('span', {}, `${t('cases.number')}: `, h('span', { class: 'mono', text: c.msisdn || '—' })),
    h('span', { text: `${t('cases.region')}: ${c.region || '—'}` }),
    h('span', { text: `${t('cases.onset')}: ${fmtDay(c.onset)}` }));
  const counts = { quarantine: q.total, test: tst.total, none: all.total };
  let level = 'none', rows = all.contacts, total = all.total, page = 1, search = '';
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const filter = h('input', { type: 'search', id: 'contact-search', placeholder: t('case.search'),
    'aria-label': t('case.search'), oninput: () => { search = filter.value.replace(/\D/g, ''); render(); } });
  const table = h('table', { class: 'grid', id: 'contacts' });
  const more = h('button', { type: 'button', id: 'more', text: t('case.more'), onclick: async () => {
    page++;
    const next = await api(`/api/v1/cases/${enc}/contacts?level=${level}&per_page=${PAGE}&page=${page}`).catch(failed);
    if (next) { rows = rows.concat(next.contacts); render(); }
  } });
  const shown = h('p', { class: 'hint', id: 'shown' });
  const panel = h('aside', { class: 'evidence card', id: 'evidence', hidden: true, 'aria-live': 'polite' });
  async function load(l) {
    level = l;
    page = 1;
    const r = await api(`/api/v1/cases/${enc}/contacts?level=${l}&per_page=${PAGE}`).catch(failed);
    if (!r) return;
    rows = r.contacts;
    total = r.total;
    render();
  }
  function render() {
    tabs.replaceChildren(...['quarantine', 'test', 'none'].map((l) => h('button', { type: 'button',
      role: 'tab', 'aria-selected': String(l === level), class: l === level ? 'on' : '',
      'data-level': l, onclick: () => load(l) }, `${t(`case.level.${l}`)} (${fmtNumber(counts[l])})`)));
    const visible = search ? rows.filter((r) => (r.msisdn || '').replace(/\D/g, '').includes(search)) : rows;
    table.replaceChildren(h('thead', {}, h('tr', {}, ['cases.number', 'case.level', 'case.p', 'case.exposure',
      'case.first', 'case.last', 'case.home', 'case.evidence'].map((k) => h('th', { scope: 'col', text: t(k) })))),
    h('tbody', {}, visible.map((r) => h('tr', { 'data-ref': r.ref },
      h('td', { class: 'mono', text: r.msisdn }),
      h('td', {}, h('span', { class: `level ${r.level}`, text: t(`level.${r.level}`) })),
      h('td', { class: 'num', text: fmtNumber(r.p_contact, 4) }),
      h('td', { class: 'num', text: fmtDuration(r.exposure_s) }),
      h('td', { text: fmtWhen(r.first_contact) }), h('td', { text: fmtWhen(r.last_contact) }),
      h('td', { text: r.home_region || '—' }),
      h('td', {}, h('button', { type: 'button', class: 'evidence-open', text: t('case.evidence'),
        onclick: () => showEvidence(caseId, r, panel) }))))));
    shown.textContent = `${fmtNumber(visible.length)} ${t('case.shown')} ${t('case.of')} ${fmtNumber(total)}`;
    more.hidden = rows.length >= total;
  }
  render();
  main().dataset.loadMs = String(Math.round(performance.now() - started));
  main().append(h('section', { class: 'card' }, h('h2', { text: t('case.contacts') }), tabs,
    h('div', { class: 'toolbar' }, filter, shown),
    rows.length ? h('div', { class: 'scroll', tabindex: 0, 'aria-label': t('case.contacts') }, table)
      : h('p', { text: t('case.nocontacts') }),
    more), panel);
}

async function showEvidence(caseId, row, panel, reveal) {
  panel.hidden = false;
  panel.replaceChildren(h('p', { text: t('loading') }));
  const enc = encodeURIComponent(caseId);
  let ev;
  try {
    ev = await api(`/api/v1/cases/${enc}/contacts/${encodeURIComponent(row.ref)}/evidence${reveal ? '?reveal=true' : ''}`);
  } catch (e) { panel.replaceChildren(); panel.hidden = true; failed(e); return; }
  const close = h('button', { type: 'button', class: 'close', text: t('ev.close'),
    onclick: () => { panel.hidden = true; panel.replaceChildren(); } });
  const number = h('span', { class: 'mono', id: 'ev-number', text: ev.msisdn });
  const revealBtn = reveal ? h('p', { class: 'hint', text: t('ev.revealed') })
    : h('button', { type: 'button', id: 'reveal', text: t('ev.reveal'),
      onclick: () => showEvidence(caseId, row, panel, true) });
  // timeline: the episodes across the span from the first to the last, coloured by precision
  const eps = ev.episodes || [];
  const t0 = eps.length ? Date.parse(eps[0].start) : 0;
  const t1 = eps.length ? Math.max(...eps.map((e) => Date.parse(e.end))) : 1;
  const span = Math.max(1, t1 - t0);
  const line = h('div', { class: 'timeline', id: 'timeline', role: 'list' }, eps.map((e, i) => {
    const left = ((Date.parse(e.start) - t0) / span) * 100;
    const width = Math.max(0.6, ((Date.parse(e.end) - Date.parse(e.start)) / span) * 100);
    const radius = Math.max(e.case_place.radius_m, e.contact_place.radius_m);
    const precise = radius <= 50 ? 'fine' : radius <= 300 ? 'mid' : 'coarse';
    const bar = h('div', { class: `episode ${precise}`, role: 'listitem', tabindex: 0,
      title: `${fmtWhen(e.start)} – ${fmtWhen(e.end)} · ${placeText(e.case_place)} / ${placeText(e.contact_place)}`,
      'data-episode': i });
    bar.style.left = `${left}%`;
    bar.style.width = `${Math.min(width, 100 - left)}%`;
    return bar;
  }));
  const table = h('table', { class: 'grid small', id: 'episodes' },
    h('thead', {}, h('tr', {}, ['ev.start', 'ev.end', 'ev.overlap', 'ev.case_place', 'ev.contact_place',
      'ev.p_near', 'ev.others'].map((k) => h('th', { scope: 'col', text: t(k) })))),
    h('tbody', {}, eps.map((e) => h('tr', {}, h('td', { text: fmtWhen(e.start) }),
      h('td', { text: fmtWhen(e.end) }), h('td', { class: 'num', text: fmtDuration(e.overlap_s) }),
      h('td', { text: placeText(e.case_place) }), h('td', { text: placeText(e.contact_place) }),
      h('td', { class: 'num', text: fmtNumber(e.p_near * 100, 3) + ' %' }),
      h('td', { class: 'num', text: fmtNumber(e.others) })))));
  const mapBox = h('div', { class: 'map small', id: 'evidence-map', role: 'region', 'aria-label': t('ev.places') });
  const msgs = ev.messages.length ? h('ul', { class: 'messages' }, ev.messages.map((m) =>
    h('li', {}, `${m.kind}: ${m.state} · ${fmtWhen(m.created)}`))) : h('p', { text: t('ev.nomessages') });
  panel.replaceChildren(h('div', { class: 'view-head' }, h('h2', { text: t('ev.title') }), close),
    h('p', {}, number, ' ', h('span', { class: `level ${ev.level}`, text: t(`level.${ev.level}`) }),
      ` · ${t('case.p')} ${fmtNumber(ev.p_contact, 4)} · ${t('case.exposure')} ${fmtDuration(ev.exposure_s)}`),
    revealBtn,
    h('h3', { text: t('ev.timeline') }),
    eps.length ? h('div', {}, h('div', { class: 'timeline-axis' }, h('span', { text: fmtWhen(eps[0].start) }),
      h('span', { text: fmtWhen(new Date(t1).toISOString()) })), line, table) : h('p', { text: t('ev.noepisodes') }),
    h('h3', { text: t('ev.places') }), mapBox,
    h('h3', { text: t('ev.messages') }), msgs);
  panel.scrollIntoView({ block: 'start' });
  if (eps.length) {
    const map = newMap(mapBox);
    map.setView([eps[0].case_place.lat, eps[0].case_place.lon], 14);
    const shared = L.featureGroup().addTo(map);
    for (const e of eps) {
      for (const [p, colour, cls] of [[e.case_place, '#b3261e', 'shared-case'], [e.contact_place, '#2a6f97', 'shared-contact']]) {
        L.circle([p.lat, p.lon], { radius: p.radius_m, color: colour, weight: 2, fillOpacity: 0.08, className: cls })
          .bindTooltip(textNode(placeText(p))).addTo(shared);
      }
    }
    map.fitBounds(shared.getBounds(), { padding: [20, 20], maxZoom: 18 });
  }
}

// ---- appeals --------------------------------------------------------------------------

function countdown(deadline) {
  const left = Date.parse(deadline) - Date.now();
  return left >= 0 ? `${fmtDuration(left / 1000)} ${t('appeals.left')}`
    : `${t('appeals.overdue')} ${fmtDuration(-left / 1000)}`;
}

async function viewAppeals() {
  let which = 'pending';
  const head = h('div', { class: 'view-head' }, h('h1', { text: t('appeals.title') }));
  const sel = h('select', { id: 'appeal-state', onchange: () => { which = sel.value; load(); } },
    ['pending', 'upheld', 'rejected', 'all'].map((s) => h('option', { value: s, text: t(`appeals.${s}`) })));
  head.append(h('label', { class: 'inline' }, t('appeals.state'), ' ', sel));
  const list = h('div', { id: 'appeal-list', class: 'appeals' }, h('p', { text: t('loading') }));
  const status = h('p', { class: 'hint', id: 'appeal-status', 'aria-live': 'polite' });
  main().append(head, status, list);
  async function load() {
    const r = await api(`/api/v1/appeals${which === 'all' ? '' : `?state=${which}`}`).catch(failed);
    if (!r) return;
    const items = (r.appeals || r).slice().sort((a, b) => a.deadline.localeCompare(b.deadline));
    list.replaceChildren(...(items.length ? items.map(card) : [h('p', { text: t('appeals.none') })]));
    list.dataset.count = String(items.length);
  }
  function card(a) {
    const note = h('input', { type: 'text', maxlength: 500, 'aria-label': t('appeals.note'), placeholder: t('appeals.note') });
    const decide = (decision) => async () => {
      const ok = await api(`/api/v1/appeals/${a.id}/decision`, { method: 'POST',
        body: { decision, note: note.value || decision } }).catch(failed);
      if (ok) { status.textContent = `${t('appeals.decided')} #${a.id}`; load(); }
    };
    const clock = h('span', { class: `countdown ${a.overdue ? 'late' : ''}`, 'data-deadline': a.deadline,
      text: a.state === 'pending' ? countdown(a.deadline) : fmtWhen(a.decided_at) });
    const e = a.evidence || {};
    return h('article', { class: `appeal card ${a.overdue ? 'late' : ''}`, 'data-appeal': a.id },
      h('header', {}, h('strong', { text: `#${a.id}` }), ' ',
        h('a', { href: `#/case/${encodeURIComponent(a.case_id)}`, text: `${t('appeals.case')} ${a.case_id}` }),
        ' · ', h('span', { class: 'mono', text: a.msisdn || '—' }), ' · ', a.region, ' · ',
        h('span', { class: `state ${a.state}`, text: t(`appeals.${a.state}`) || a.state })),
      h('p', {}, `${t('appeals.deadline')}: ${fmtWhen(a.deadline)} — `, clock),
      h('p', {}, `${t('appeals.reason')}: `, h('q', { text: a.reason })),
      h('p', { class: 'hint' }, `${t('case.level')}: ${t(`level.${e.level || 'none'}`)} · ${t('case.p')} ${fmtNumber(e.p_contact || 0, 4)}`
        + ` · ${t('case.exposure')} ${fmtDuration(e.exposure_s || 0)} · ${t('case.first')} ${fmtWhen(e.first_contact)}`
        + ` · ${t('case.last')} ${fmtWhen(e.last_contact)} · ±${fmtNumber(e.min_radius_m || 0, 0)} m`),
      a.state === 'pending' && ['federal', 'regional'].includes(state.me.role) ? h('div', { class: 'decide' }, note,
        h('button', { type: 'button', class: 'uphold', onclick: decide('upheld'), text: t('appeals.uphold') }),
        h('button', { type: 'button', class: 'reject', onclick: decide('rejected'), text: t('appeals.reject') }))
        : a.note ? h('p', { class: 'hint', text: a.note }) : null);
  }
  await load();
  state.timer = setInterval(() => {
    for (const el of list.querySelectorAll('.countdown[data-deadline]'))
      if (el.closest('.appeal').querySelector('.decide')) el.textContent = countdown(el.dataset.deadline);
  }, 30000);
}

// ---- routing --------------------------------------------------------------------------

async function route() {
  clearView();
  const hash = location.hash || '#/overview';
  const nav = document.getElementById('nav');
  if (!state.token) {
    nav.hidden = true;
    document.getElementById('logout').hidden = true;
    document.getElementById('reason-box').hidden = true;
    document.getElementById('who').textContent = '';
    if (hash !== '#/login') { location.replace('#/login'); return; }
    translatePage();
    return viewLogin();
  }
  try {
    if (!state.me) state.me = await api('/api/v1/me');
  } catch (e) { failed(e); return; }
  if (!state.lang) state.lang = state.me.language === 'en' ? 'en' : 'ru';
  translatePage();
  nav.hidden = false;
  document.getElementById('logout').hidden = false;
  document.getElementById('reason-box').hidden = false;
  document.getElementById('who').textContent =
    `${state.me.name} · ${t(`role.${state.me.role}`)}${state.me.region ? ` ${state.me.region}` : ''}`;
  const [, view, arg] = hash.split('/');
  for (const a of nav.querySelectorAll('a')) a.setAttribute('aria-current', a.dataset.view === view ? 'page' : 'false');
  try {
    if (view === 'map') await viewMap();
    else if (view === 'appeals') await viewAppeals();
    else if (view === 'case' && arg) await viewCase(decodeURIComponent(arg));
    else if (view === 'login') location.replace('#/overview');
    else await viewOverview();
  } catch (e) { failed(e); }
  main().dataset.ready = hash;
}

document.getElementById('lang').addEventListener('change', (ev) => {
  state.lang = ev.target.value;
  localStorage.setItem('ct.lang', state.lang);
  route();
});
document.getElementById('logout').addEventListener('click', () => logout(''));
window.addEventListener('hashchange', route);
if (!state.lang) state.lang = (navigator.language || 'ru').startsWith('en') ? 'en' : 'ru';
route();
