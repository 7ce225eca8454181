// places_compare.mjs — are the engines' area answers identical?
//
//   node places_compare.mjs QUERIES CT_DIR NAME=DIR ...
//
// CT_DIR holds celltrace's `area --reveal --format csv` output, one
// <id>.csv per query. A peer's folder holds rows msisdn,present_s,first_t,
// last_t,min_radius,expected_inside_s (epoch seconds, full precision). The
// first five columns are written the way celltrace writes them and compared
// as text, row by row, order included; expected_inside_s, which celltrace
// prints with one decimal and the peers compute with another lens formula,
// must agree to 0.05 s. Prints one JSON object; exit 1 when anything differs.
import fs from 'node:fs';
import path from 'node:path';
import { isoTime, radius } from './format.mjs';

const HEADER = 'msisdn,present_s,first_seen,last_seen,min_radius_m,expected_inside_s';
const [queriesFile, ctDir, ...peers] = process.argv.slice(2);
const ids = fs.readFileSync(queriesFile, 'utf8').split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0]);
const result = { identical: true, queries: ids.length, rows: 0, max_inside_diff: 0, peers: {} };
const ct = new Map();
for (const id of ids) {
  const lines = fs.readFileSync(path.join(ctDir, id + '.csv'), 'utf8').split('\n').filter(Boolean);
  if (lines[0] !== HEADER) throw new Error(`${id}: unexpected header in celltrace output`);
  ct.set(id, lines.slice(1).map((l) => l.split(',')));
  result.rows += lines.length - 1;
}
for (const spec of peers) {
  const [name, dir] = spec.split('=');
  const r = { identical: true, differing_queries: [], first_difference: null };
  for (const id of ids) {
    const a = ct.get(id);
    const f = path.join(dir, id + '.csv');
    const b = fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => l.split(',')) : [];
    let diff = null;
    for (let i = 0; i < Math.max(a.length, b.length) && !diff; i++) {
      const x = a[i], y = b[i];
      const yText = y && [y[0], y[1], isoTime(y[2]), isoTime(y[3]), radius(y[4])].join(',');
      const d = x && y ? Math.abs(Number(x[5]) - Number(y[5])) : Infinity;
      if (x && y && Number.isFinite(d)) result.max_inside_diff = Math.max(result.max_inside_diff, d);
      if (!x || !y || x.slice(0, 5).join(',') !== yText || !(d <= 0.05 + 1e-6 + 1e-9 * Number(y[5])))
        diff = { query: id, row: i + 1, celltrace: x ? x.join(',') : null, [name]: y ? y.join(',') : null };
    }
    if (diff) {
      r.identical = false;
      r.differing_queries.push(id);
      if (!r.first_difference) r.first_difference = diff;
    }
  }
  result.peers[name] = r;
  if (!r.identical) result.identical = false;
}
console.log(JSON.stringify(result));
process.exit(result.identical ? 0 : 1);
