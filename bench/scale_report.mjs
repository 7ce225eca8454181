// scale_report.mjs — the scaling table of scale.sh: celltrace's figures per
// city size, and how much each grew from one size to the next.
import fs from 'node:fs';
import path from 'node:path';
import { median } from './stats.mjs';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const sizes = args.sizes.split(/\s+/).filter(Boolean);
const round = (x) => (x === null || !Number.isFinite(x) ? null : x >= 100 ? Math.round(x) : Number(x.toPrecision(3)));
const read = (size, f) => fs.readFileSync(path.join(args.work, size, 'm', f), 'utf8');
const nums = (size, f) => read(size, f).split('\n').filter(Boolean).map(Number);

const rows = [
  ['subscribers', (s) => s.stats.subscribers],
  ['events stored', (s) => s.stats.events],
  ['ingest, CSV to queryable (s)', (s) => s.ingest],
  ['ingest peak memory (MB)', (s) => s.ingestRss],
  ['bytes on disk per event', (s) => s.stats.total_bytes / s.stats.events],
  ['trace p50, whole process (ms)', (s) => median(s.traces.map((t) => t.ms))],
  ['trace p50, in the library (ms)', (s) => median(s.traces.map((t) => t.libMs))],
  ['trace max (ms)', (s) => Math.max(...s.traces.map((t) => t.ms))],
  ['contacts per case (median)', (s) => median(s.traces.map((t) => t.contacts))],
  ['candidates per trace (median)', (s) => median(s.traces.map((t) => t.candidates))],
  ['candidates per contact (median)', (s) => median(s.traces.map((t) => t.candidates / Math.max(1, t.contacts)))],
  ['ns per candidate (median)', (s) => median(s.traces.map((t) => t.ns))],
  ['trace peak memory (MB)', (s) => s.traceRss],
  ['trace memory at its end, mapped from the store (MB, median)', (s) => median(s.mem.map((m) => m.file))],
  ['trace memory at its end, its own (MB, median)', (s) => median(s.mem.map((m) => m.own))],
  [`batch, --jobs ${args.cores} (cases/s)`, (s) => s.batch],
];

const data = {};
for (const size of sizes) {
  const traces = read(size, 'traces').split('\n').filter(Boolean).map((l) => {
    const [secs, candidates, contacts, ns, libMs] = l.split(' ').map(Number);
    return { ms: secs * 1000, candidates, contacts, ns, libMs };
  });
  data[size] = {
    stats: JSON.parse(read(size, 'stats.json')),
    ingest: nums(size, 'ingest_s')[0],
    ingestRss: Math.max(...nums(size, 'ingest_rss').filter(Number.isFinite)) / 1024,
    traceRss: Math.max(...nums(size, 'trace_rss').filter(Number.isFinite)) / 1024,
    traces,
    mem: read(size, 'trace_mem').split('\n').filter(Boolean).map((l) => {
      const [file, own] = l.split(' ').map(Number);
      return { file, own };
    }),
    batch: traces.length / nums(size, 'batch_s')[0],
  };
}

let md = `# celltrace scaling, ${args.date}\n\n`;
md += `\`bench/scale.sh --sizes "${sizes.join(' ')}" --cases ${args.cases}\`: celltrace alone, cities from `;
md += `\`celltrace simulate --subscribers N --days 14 --seed 1 --cases ${args.cases}\` (default density, so the city's `;
md += `area grows with N), every case traced. ${args.cores} cores. The peers' figures are in run.sh's results.\n\n`;
md += `| figure | ${sizes.join(' | ')} | ${sizes.slice(1).map((s, i) => `${sizes[i]} → ${s}`).join(' | ')} |\n`;
md += `|---|${sizes.map(() => '---:').join('|')}|${sizes.slice(1).map(() => '---:').join('|')}|\n`;
for (const [label, f] of rows) {
  const v = sizes.map((s) => f(data[s]));
  const growth = v.slice(1).map((x, i) => (v[i] ? `${(x / v[i]).toFixed(2)}×` : '—'));
  md += `| ${label} | ${v.map((x) => String(round(x))).join(' | ')} | ${growth.join(' | ')} |\n`;
}
md += `\nA trace's work follows the candidates (presence intervals near the case in space and time): `;
md += `time per trace over candidates per trace is the ns per candidate row, which should stay flat as the city grows. `;
md += `In this simulator the city's area grows with its population and people cross all of it (metro, offices), `;
md += `so the people near a case grow with the city too.\n`;
md += `\nMemory: the ingest's peak is the largest over the three operators' \`ingest --compact now\` processes (each `;
md += `compaction included). A trace's memory at its end splits the pages it maps from the store's segments (shared `;
md += `with the page cache and every other reader, dropped by the kernel under pressure) from its own.\n`;
fs.writeFileSync(args.out, md);
console.log(md);

// issue 15's ingest_peak_mb_1m, beside run.sh's figures (report.mjs keeps it)
if (args.json && data['1m'] && fs.existsSync(args.json)) {
  const j = JSON.parse(fs.readFileSync(args.json, 'utf8'));
  j.ingest_peak_mb_1m = { celltrace: round(data['1m'].ingestRss), duckdb: null, postgres: null };
  fs.writeFileSync(args.json, JSON.stringify(j, null, 2) + '\n');
}
