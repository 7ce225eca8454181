// report.mjs — medians and ratios of run.sh's measurements: writes the
// results table (markdown) and latest.json with exactly the fields of
// issue 5. Called by run.sh; see bench/README.md for what each figure is.
import fs from 'node:fs';
import path from 'node:path';
import { median } from './stats.mjs';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const ENGINES = ['celltrace', 'duckdb', 'postgres'];
const reps = fs.readdirSync(args.measure).filter((d) => /^rep\d+$/.test(d)).sort();
const read = (rep, f) => fs.readFileSync(path.join(args.measure, rep, f), 'utf8');
const lines = (rep, f) => read(rep, f).split('\n').filter(Boolean).map((l) => l.split(' '));
const exists = (rep, f) => fs.existsSync(path.join(args.measure, rep, f));
const rank = (xs, p) => { // nearest rank
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)];
};
const per = () => Object.fromEntries(ENGINES.map((e) => [e, []]));

const p50 = per(), p99 = per(), ingest = per(), bpe = per(), batch = per(), runs = per();
const rssIngest = per(), rssTrace = per(), rssRun = [], contacts = [], msPerContact = [];
const memcgPeak = per(), oomKills = per(); // run.sh's one memory limit, enforced by a cgroup
const nsPerCandidate = [], candidates = [], inlib = [], floorMs = [], overFloor = [];
const floorP99 = [], floorRun = [], levelP50 = [], levelP99 = [];
const traceFile = { celltrace: 'ct_trace_ms.txt', duckdb: 'duck_trace_ms.txt', postgres: 'pg_trace_ms.txt' };
let events = null;
for (const rep of reps) {
  for (const e of ENGINES) {
    const ms = lines(rep, traceFile[e]).map((l) => Number(l[1]));
    p50[e].push(median(ms));
    p99[e].push(rank(ms, 0.99));
  }
  for (const [e, s] of lines(rep, 'ingest.txt')) ingest[e].push(Number(s));
  const bytes = Object.fromEntries(lines(rep, 'bytes.txt').map((l) => [l[0], l]));
  events = Number(bytes.celltrace[2]);
  for (const e of ENGINES) bpe[e].push(Number(bytes[e][1]) / events);
  for (const [e, s, n] of lines(rep, 'batch.txt')) batch[e].push(Number(n) / Number(s));
  if (exists(rep, 'run.txt')) for (const [e, s, n] of lines(rep, 'run.txt')) runs[e].push(Number(n) / Number(s));
  const rss = { ingest: per(), trace: per(), run: per() };
  for (const l of lines(rep, 'rss.txt')) // /usr/bin/time also writes "Command exited with ..." lines
    if (l.length === 3 && rss[l[1]] && rss[l[1]][l[0]] && /^\d+$/.test(l[2])) rss[l[1]][l[0]].push(Number(l[2]) / 1024);
  for (const e of ENGINES) {
    rssIngest[e].push(Math.max(...rss.ingest[e]));
    rssTrace[e].push(Math.max(...rss.trace[e]));
  }
  if (rss.run.celltrace.length) rssRun.push(Math.max(...rss.run.celltrace));
  if (exists(rep, 'memcg.txt'))
    for (const [e, kb, kills] of lines(rep, 'memcg.txt')) {
      if (/^\d+$/.test(kb)) memcgPeak[e].push(Number(kb) / 1024);
      oomKills[e].push(Number(kills) || 0);
    }
  const cmp = JSON.parse(read(rep, 'compare.json'));
  contacts.push(cmp.contacts);
  const ctTotal = lines(rep, 'ct_trace_ms.txt').reduce((a, l) => a + Number(l[1]), 0);
  msPerContact.push(ctTotal / Math.max(1, cmp.contacts));
  const work = lines(rep, 'ct_work.txt');
  nsPerCandidate.push(median(work.map((l) => Number(l[3])))); // case candidates contacts ns ms
  inlib.push(median(work.map((l) => Number(l[4]))));
  candidates.push(median(work.map((l) => Number(l[1]))));
  if (exists(rep, 'ct_floor.txt')) { // case, kernel ms, trace ms
    const fl = lines(rep, 'ct_floor.txt');
    floorMs.push(median(fl.map((l) => Number(l[1]))));
    overFloor.push(median(fl.map((l) => Number(l[2]) / Number(l[1]))));
    floorP99.push(rank(fl.map((l) => Number(l[1])), 0.99));
    // every case's kernel, back to back on every core: the most cases/s
    // any trace of the SPEC 4 net could give on this machine
    floorRun.push(fl.length / (fl.reduce((a, l) => a + Number(l[1]), 0) / 1e3 / Number(args.cores)));
  }
  if (exists(rep, 'ct_level_test.txt')) { // case, ms in the library
    const lv = lines(rep, 'ct_level_test.txt').map((l) => Number(l[1]));
    levelP50.push(median(lv));
    levelP99.push(rank(lv, 0.99));
  }
}
const med = (o) => Object.fromEntries(ENGINES.map((e) => [e, round(median(o[e]))]));
function round(x) {
  if (x === null || !Number.isFinite(x)) return null;
  return x >= 100 ? Math.round(x * 10) / 10 : Number(x.toPrecision(4));
}
const peak = Object.fromEntries(ENGINES.map((e) => [e, round(Math.max(median(rssIngest[e]), median(rssTrace[e])))]));

const out = {
  size: args.size,
  date: args.date,
  cores: Number(args.cores),
  identical: args.identical === 'true',
  trace_p50_ms: med(p50),
  trace_p99_ms: med(p99),
  // the trace without process start: celltrace's library call (`trace
  // --work`); the peers' figures are queries in an open connection already
  trace_p50_inlib_ms: { celltrace: round(median(inlib)), duckdb: med(p50).duckdb, postgres: med(p50).postgres },
  ingest_s: med(ingest),
  bytes_per_event: med(bpe),
  peak_rss_mb: peak,
  batch_cases_per_s: med(batch),
  // `celltrace run` over every case: scored, stored, SMS queued (the
  // peers have no such step: null)
  batch_run_cases_per_s: Object.fromEntries(ENGINES.map((e) => [e, runs[e].length ? round(median(runs[e])) : null])),
  // `trace --work`: the trace's own time over the candidate events it
  // examined (median over cases); the peers have no such count.
  ns_per_candidate: { celltrace: round(median(nsPerCandidate)), duckdb: null, postgres: null },
  // `trace --work --floor`: the kernel alone (the trace's pairs streamed
  // from memory, overlaps added), median over cases; and the median of
  // each trace's time over its own kernel's
  floor_ms: { celltrace: floorMs.length ? round(median(floorMs)) : null, duckdb: null, postgres: null },
  trace_over_floor: { celltrace: overFloor.length ? round(median(overFloor)) : null, duckdb: null, postgres: null },
  // the kernel's 99th percentile over cases, and the cases per second of
  // all cases' kernels run back to back on every core (no trace can beat it)
  floor_p99_ms: { celltrace: floorP99.length ? round(median(floorP99)) : null, duckdb: null, postgres: null },
  floor_cases_per_s: { celltrace: floorRun.length ? round(median(floorRun)) : null, duckdb: null, postgres: null },
  // `trace --level test --work`, in the library: issue 15's target (the
  // peers do not score)
  trace_level_test_p50_inlib_ms: { celltrace: levelP50.length ? round(median(levelP50)) : null, duckdb: null, postgres: null },
  trace_level_test_p99_inlib_ms: { celltrace: levelP99.length ? round(median(levelP99)) : null, duckdb: null, postgres: null },
  mem_bandwidth_gbs: Number(args.membw),
  // run.sh's one memory limit for every engine (MB; 0: none) and whether a cgroup enforced it
  mem_limit_mb: Number(args['mem-limit'] || 0),
  mem_limit_enforced: args.memcg === 'v1' || args.memcg === 'v2',
};
// measured by bench/deliveries.sh and bench/scale.sh, not by run.sh: kept as they were
try {
  const before = JSON.parse(fs.readFileSync(args.json, 'utf8'));
  if (before.deliveries_ratio) out.deliveries_ratio = before.deliveries_ratio;
  if (before.deliveries_ratio_spool) out.deliveries_ratio_spool = before.deliveries_ratio_spool;
  if (before.ingest_peak_mb_1m) out.ingest_peak_mb_1m = before.ingest_peak_mb_1m;
} catch (e) {
  /* no earlier file */
}
fs.writeFileSync(args.json, JSON.stringify(out, null, 2) + '\n');

// ---- the table -------------------------------------------------------------------
const ratio = (a, b, better) => (a && b ? (better === 'low' ? b / a : a / b) : null);
const fmtR = (x) => (x === null ? '—' : x >= 10 ? `${Math.round(x)}×` : `${x.toFixed(2)}×`);
const fmt = (x) => (x === null ? '—' : String(x));
const rows = [
  ['trace p50 (ms)', 'trace_p50_ms', 'low'],
  ['trace p50, in the library / in an open connection (ms)', 'trace_p50_inlib_ms', 'low'],
  ['trace p99 (ms)', 'trace_p99_ms', 'low'],
  ['ingest, CSV to queryable (s)', 'ingest_s', 'low'],
  ['bytes on disk per event', 'bytes_per_event', 'low'],
  ['peak memory (MB)', 'peak_rss_mb', 'low'],
  ['batch of all cases (cases/s)', 'batch_cases_per_s', 'high'],
  ['`run` of all cases: scored, stored, SMS queued (cases/s)', 'batch_run_cases_per_s', 'high'],
];
let md = `# Benchmark ${args.size}, ${args.date}\n\n`;
md += `City: \`celltrace simulate --subscribers ${args.subscribers} --days ${args.days} --seed 1 --cases ${lines(reps[0], 'ct_trace_ms.txt').length}\`; `;
md += `${events} distinct events stored, ${(Number(args['event-bytes']) / 1e9).toFixed(2)} GB of event CSV. `;
md += `${reps.length} run(s) of everything per engine; each figure is the median over runs. `;
md += `${out.cores} cores; memcpy bandwidth ${out.mem_bandwidth_gbs} GB/s (read + write).\n\n`;
const buildf = path.join(args.measure, 'build.txt');
if (fs.existsSync(buildf))
  md += `celltrace build: ${fs.readFileSync(buildf, 'utf8').trim().split('\n').join('; ')}.\n\n`;
const loadf = path.join(args.measure, 'loadavg.txt');
if (fs.existsSync(loadf))
  md += `Load average of the machine (1 min, sampled at each engine's start; other work shares it): ${fs.readFileSync(loadf, 'utf8').trim().split('\n').join(', ')}.\n\n`;
md += `Answers identical in all three (every case, row for row: exposure seconds, first/last contact, min radius): **${out.identical}** `;
md += `(${median(contacts)} contacts over ${lines(reps[0], 'ct_trace_ms.txt').length} cases).\n\n`;
md += '| figure | celltrace | DuckDB | PostgreSQL + PostGIS | vs DuckDB | vs PostgreSQL |\n|---|---:|---:|---:|---:|---:|\n';
for (const [label, key, better] of rows) {
  const v = out[key];
  md += `| ${label} | ${fmt(v.celltrace)} | ${fmt(v.duckdb)} | ${fmt(v.postgres)} | ${fmtR(ratio(v.celltrace, v.duckdb, better))} | ${fmtR(ratio(v.celltrace, v.postgres, better))} |\n`;
}
md += `\nRatios: how many times better celltrace is (above 1× = celltrace better).\n\n`;
md += '| peak memory by phase (MB) | celltrace | DuckDB | PostgreSQL |\n|---|---:|---:|---:|\n';
md += `| ingest | ${ENGINES.map((e) => fmt(round(median(rssIngest[e])))).join(' | ')} |\n`;
md += `| trace (single and batch) | ${ENGINES.map((e) => fmt(round(median(rssTrace[e])))).join(' | ')} |\n`;
if (rssRun.length) md += `| \`run\` | ${fmt(round(median(rssRun)))} | — | — |\n`;
const limit = Number(args['mem-limit'] || 0), enforced = args.memcg === 'v1' || args.memcg === 'v2';
if (limit && enforced && ENGINES.every((e) => memcgPeak[e].length))
  md += `| whole run, charged to its cgroup: RSS and page cache (limit ${limit}) | ${ENGINES.map((e) => fmt(round(median(memcgPeak[e])))).join(' | ')} |\n`;
md += '\n';
if (limit) {
  md += `Memory limit: every engine got ${limit} MB. Its own settings came from it (celltrace's ingest buffer ${limit / 4} MB; `;
  md += `DuckDB's memory_limit ${Math.floor(limit * 60 / 100)} MB (60 %: it bounds only its buffer manager), spilling to a temp folder beyond; PostgreSQL's shared_buffers ${limit / 4} MB, `;
  md += `work_mem ${limit / 32} MB, maintenance_work_mem ${limit / 4} MB). `;
  md += enforced
    ? `Each engine ran in a memory cgroup (${args.memcg}) with that limit, swap off; processes the limit killed: ${ENGINES.map((e) => `${e} ${oomKills[e].reduce((a, b) => a + b, 0)}`).join(', ')}. `
      + `A cgroup's charge counts the page cache its reads and writes brought in, which the kernel reclaims first near the limit: it is what the engine was allowed to keep, not what it needed.\n\n`
    : `No memory cgroup could be made on this machine: the limit was configured, not enforced.\n\n`;
}
md += `- Near the machine's limit: a celltrace trace examines a median of ${Math.round(median(candidates))} candidate events (presence intervals `;
md += `on co-located cells and tiles in its window) at ${out.ns_per_candidate.celltrace} ns each (median over cases, \`trace --work\`: `;
md += `the trace itself, not process start or printing). Memory bandwidth on this machine: ${out.mem_bandwidth_gbs} GB/s. `;
md += `Whole-process single-trace time per contact row: ${(median(msPerContact) * 1e6).toFixed(0)} ns.\n`;
if (floorMs.length)
  md += `- The floor (\`trace --work --floor\`): the kernel alone, each trace's own (interval, candidate) pairs streamed from memory and their overlaps added to an empty table, takes a median of ${out.floor_ms.celltrace} ms; a trace in the library takes a median of ${out.trace_over_floor.celltrace} times its kernel's time.\n`;
if (floorP99.length)
  md += `- The floor's 99th percentile over cases is ${out.floor_p99_ms.celltrace} ms. All cases' kernels back to back on ${out.cores} cores would give ${out.floor_cases_per_s.celltrace} cases/s: no trace of the SPEC 4 net, let alone \`run\`, which also scores and stores it, can be faster on this machine.\n`;
if (levelP50.length)
  md += `- \`trace --level test\` (scored; only the contacts at level test or above), in the library: p50 ${out.trace_level_test_p50_inlib_ms.celltrace} ms, p99 ${out.trace_level_test_p99_inlib_ms.celltrace} ms (one process per case; the peers do not score).\n`;
md += `- celltrace times are whole processes (\`celltrace trace\`: start, open the store, trace, print); `;
md += `DuckDB's are the query in an open connection; PostgreSQL's are psql's \`\\timing\` of the query in an open session.\n`;
md += `- Peak memory: celltrace and DuckDB (node) from \`/usr/bin/time -f %M\` (max RSS of the process); `;
md += `PostgreSQL: the largest sum of Pss over the postmaster and all its children, sampled every 0.25 s.\n`;
md += `- Batch: celltrace one process, \`trace CASE... --jobs 2\` (two threads); DuckDB one process, one query per case in one connection (2 threads; one set-based query for all cases was slower: 88 s against about 50 s at 10k); `;
md += `PostgreSQL two sessions, half the cases each.\n\n`;
md += '## Per run\n\n| run | engine | rows read | good rows | ingest s | p50 ms | p99 ms | batch cases/s |\n|---|---|---:|---:|---:|---:|---:|---:|\n';
reps.forEach((rep, i) => {
  const counts = Object.fromEntries(lines(rep, 'counts.txt').map((l) => [l[0], l.slice(1)]));
  for (const e of ENGINES) {
    let read_ = '', good = '';
    if (e === 'celltrace') { read_ = counts.celltrace[1]; good = Number(counts.celltrace[1]) - Number(counts.celltrace[4]); }
    else if (e === 'duckdb') { const j = JSON.parse(counts.duckdb.join(' ')); read_ = j.rows_read; good = j.rows_good; }
    else { [read_, good] = counts.postgres[0].split('|'); }
    md += `| ${i + 1} | ${e} | ${read_} | ${good} | ${ingest[e][i]} | ${round(p50[e][i])} | ${round(p99[e][i])} | ${round(batch[e][i])} |\n`;
  }
});
fs.writeFileSync(args.md, md);
console.log(md);
