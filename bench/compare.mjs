// compare.mjs — are the three engines' contacts identical?
//
//   node compare.mjs CASES_FILE CT_DIR NAME=DIR|NAME=FILE ...
//
// CT_DIR holds celltrace's `trace --format csv` output, one <case>.csv per
// case. Each peer is a folder of <case>.csv or one file with every case
// (rows case_id,msisdn,exposure_s,first_t,last_t,min_radius: epoch seconds
// and the radius at full precision). A peer's rows are written the way
// celltrace writes them (times as YYYY-MM-DDTHH:MM:SSZ, the radius with at
// most two decimals, C's printf rounding) and compared as text, row by row,
// order included. Prints one JSON object; exit 1 when anything differs.
import fs from 'node:fs';
import path from 'node:path';
import { isoTime, radius } from './format.mjs';

const HEADER = 'case_id,msisdn,exposure_s,first_contact,last_contact,min_radius_m';

function peerRows(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(',');
    const row = [f[0], f[1], f[2], isoTime(f[3]), isoTime(f[4]), radius(f[5])].join(',');
    if (!out.has(f[0])) out.set(f[0], []);
    out.get(f[0]).push(row);
  }
  return out;
}

const [casesFile, ctDir, ...peers] = process.argv.slice(2);
const cases = fs.readFileSync(casesFile, 'utf8').split('\n').filter(Boolean);
const result = { identical: true, cases: cases.length, contacts: 0, peers: {} };
const ct = new Map();
for (const c of cases) {
  const lines = fs.readFileSync(path.join(ctDir, c + '.csv'), 'utf8').split('\n').filter(Boolean);
  if (lines[0] !== HEADER) throw new Error(`${c}: unexpected header in celltrace output`);
  ct.set(c, lines.slice(1));
  result.contacts += lines.length - 1;
}
for (const spec of peers) {
  const [name, where] = spec.split('=');
  let rows;
  if (fs.statSync(where).isDirectory()) {
    rows = new Map();
    for (const c of cases) {
      const f = path.join(where, c + '.csv');
      rows.set(c, fs.existsSync(f) ? peerRows(fs.readFileSync(f, 'utf8')).get(c) || [] : null);
    }
  } else {
    rows = peerRows(fs.readFileSync(where, 'utf8'));
  }
  const r = { identical: true, differing_cases: [], first_difference: null };
  for (const c of cases) {
    const a = ct.get(c), b = rows.get(c) || [];
    const n = Math.max(a.length, b.length);
    let diff = null;
    for (let i = 0; i < n && !diff; i++)
      if (a[i] !== b[i]) diff = { case: c, row: i + 1, celltrace: a[i] ?? null, [name]: b[i] ?? null };
    if (diff) {
      r.identical = false;
      r.differing_cases.push(c);
      if (!r.first_difference) r.first_difference = diff;
    }
  }
  result.peers[name] = r;
  if (!r.identical) result.identical = false;
}
console.log(JSON.stringify(result));
process.exit(result.identical ? 0 : 1);
