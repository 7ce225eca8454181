// hotspots_compare.mjs — the same hotspots in celltrace and a peer?
//
//   node hotspots_compare.mjs CT_CSV NAME=FILE
//
// CT_CSV is `celltrace hotspots --limit 0 --no-others --format csv`; the
// peer's FILE has rows place,hour (epoch s),case_ids. The sets of (place,
// hour, case_ids) are compared; the score and the ranking, which need the
// exact probability of being within D, are celltrace's alone. Prints one
// JSON object; exit 1 when the sets differ.
import fs from 'node:fs';
import { isoTime } from './format.mjs';

const [ctFile, spec] = process.argv.slice(2);
const [name, file] = spec.split('=');
const lines = fs.readFileSync(ctFile, 'utf8').split('\n').filter(Boolean);
const header = lines[0].split(',');
const col = (n) => header.indexOf(n);
const ct = new Set(lines.slice(1).map((l) => {
  const f = l.split(',');
  return [f[col('place')], f[col('hour')], f[col('case_ids')]].join(',');
}));
const peer = new Set(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
  const [place, hour, ids] = l.split(',');
  return [place, isoTime(hour), ids].join(',');
}));
const onlyCt = [...ct].filter((r) => !peer.has(r)), onlyPeer = [...peer].filter((r) => !ct.has(r));
const result = { identical: onlyCt.length === 0 && onlyPeer.length === 0, rows: ct.size,
  [name + '_rows']: peer.size, only_celltrace: onlyCt.slice(0, 3), ['only_' + name]: onlyPeer.slice(0, 3) };
console.log(JSON.stringify(result));
process.exit(result.identical ? 0 : 1);
