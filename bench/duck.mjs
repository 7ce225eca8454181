// duck.mjs — the DuckDB peer of the benchmark (bench/README.md).
//
//   node duck.mjs load  DB CITY              CSV files -> DB; prints JSON counts
//   node duck.mjs trace DB OUTDIR CASE...    one query per case, timed; OUTDIR/<case>.csv
//   node duck.mjs batch DB OUTFILE           one set-based query for every case
//   node duck.mjs area  DB OUTDIR QUERIES     area queries (bench/places.sh), timed; OUTDIR/<id>.csv
//   node duck.mjs hotspots DB OUTFILE FROM TO RUNS   hotspots' rows (no score), timed per run
//
// Output rows: case_id,msisdn,exposure_s,first_t,last_t,min_radius (epoch
// seconds; the radius as DuckDB prints a double: shortest round trip).
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

const here = path.dirname(new URL(import.meta.url).pathname);
const sql = (name) => fs.readFileSync(path.join(here, 'sql', name), 'utf8');
const q = (s) => "'" + String(s).replaceAll("'", "''") + "'";
const threads = process.env.BENCH_THREADS || '2';

function headerOf(file) {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(4096);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  fs.closeSync(fd);
  let line = buf.subarray(0, n).toString('utf8').split('\n')[0].replace(/\r$/, '').replace(/^\uFEFF/, '');
  return line.split(',').map((c) => c.replace(/^"|"$/g, ''));
}

// read_csv over files sharing one header; every wanted column as text
// (NULL where the header lacks it), plus the operator as a constant.
function readCsv(files, wanted, op) {
  const cols = headerOf(files[0]);
  const list = '[' + files.map(q).join(', ') + ']';
  const sel = wanted.map((w) => (cols.includes(w) ? `"${w}"` : `CAST(NULL AS VARCHAR) AS "${w}"`));
  if (op !== undefined) sel.unshift(`${q(op)} AS op`);
  return `(SELECT ${sel.join(', ')} FROM read_csv(${list}, header = true, all_varchar = true, ` +
    `delim = ',', quote = '"', escape = '"', strict_mode = false, null_padding = true))`;
}

function groupByHeader(files) {
  const groups = new Map();
  for (const f of files) {
    const key = headerOf(f).join(',');
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(f);
  }
  return [...groups.values()];
}

function cityRelations(city) {
  const ops = fs.readdirSync(city).filter((d) => fs.existsSync(path.join(city, d, 'cells.csv'))).sort();
  const cells = ops.map((op) => readCsv([path.join(city, op, 'cells.csv')], ['cell_id', 'lat', 'lon', 'radius_m'], op));
  const ev = [];
  for (const op of ops) {
    const dir = path.join(city, op, 'events');
    const files = fs.readdirSync(dir).filter((f) => /\.csv(\.gz|\.zst)?$/.test(f)).sort().map((f) => path.join(dir, f));
    for (const g of groupByHeader(files))
      ev.push(readCsv(g, ['msisdn', 'ts', 'cell_id', 'lat', 'lon', 'accuracy_m'], op));
  }
  const cases = readCsv([path.join(city, 'cases.csv')], ['case_id', 'msisdn', 'onset', 'isolated']);
  return {
    RAW_CELLS: '(' + cells.join(' UNION ALL ') + ')',
    RAW_EV: '(' + ev.join(' UNION ALL ') + ')',
    RAW_CASES: cases,
  };
}

const fill = (text, vars) => text.replace(/\{([A-Z_]+)\}/g, (_, k) => vars[k]);

// run.sh's one memory limit (BENCH_DUCK_MEMORY_MB): DuckDB's buffer manager
// keeps to it and spills what does not fit to a folder beside the file.
const memoryMb = process.env.BENCH_DUCK_MEMORY_MB;

async function open(db) {
  const config = { threads };
  if (memoryMb) {
    config.memory_limit = `${memoryMb}MB`;
    config.temp_directory = `${db}.tmp`;
  }
  const inst = await DuckDBInstance.create(db, config);
  return inst.connect();
}

function toCsv(rows) {
  return rows.map((r) => r.map((v) => (v === null ? '' : String(v))).join(',') + '\n').join('');
}

async function main() {
  const [cmd, db, ...rest] = process.argv.slice(2);
  if (cmd === 'load') {
    const con = await open(db);
    await con.run(sql('duck_macros.sql'));
    await con.run(fill(sql('duck_load.sql'), cityRelations(rest[0])));
    const r = await con.runAndReadAll('SELECT rows_read, rows_good FROM load_counts');
    const [read, good] = r.getRows()[0];
    console.log(JSON.stringify({ rows_read: Number(read), rows_good: Number(good) }));
    return;
  }
  if (cmd === 'trace' || cmd === 'batch') {
    const con = await open(db);
    const text = sql('duck_trace.sql');
    if (cmd === 'batch') {
      // One query per case in one connection (DuckDB already runs each on
      // every core). One set-based query for all cases (CASES = true) gives
      // the same rows but was slower at 10k: 88 s against about 50 s.
      const t0 = process.hrtime.bigint();
      const ids = (await con.runAndReadAll('SELECT case_id FROM cases ORDER BY case_id')).getRows().map((r) => r[0]);
      const prepared = await con.prepare(fill(text, { CASES: 'case_id = $1' }));
      const out = [];
      for (const id of ids) {
        prepared.bindVarchar(1, id);
        out.push(toCsv((await prepared.runAndReadAll()).getRows()));
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      fs.writeFileSync(rest[0], out.join(''));
      console.log(JSON.stringify({ batch_ms: ms }));
      return;
    }
    const [outdir, ...cases] = rest;
    // prepared once, as an application would; each case binds its id
    const prepared = await con.prepare(fill(text, { CASES: 'case_id = $1' }));
    for (const id of cases) {
      const t0 = process.hrtime.bigint();
      prepared.bindVarchar(1, id);
      const r = await prepared.runAndReadAll();
      const rows = r.getRows();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      fs.writeFileSync(path.join(outdir, id + '.csv'), toCsv(rows));
      console.log(`${id} ${ms.toFixed(3)}`);
    }
    return;
  }
  if (cmd === 'area') {
    // one query per line of QUERIES ("id lat lon r t0 t1 minstay"), timed
    // in one open connection, as the trace queries are
    const [outdir, queries] = rest;
    const con = await open(db);
    const text = sql('duck_area.sql');
    for (const line of fs.readFileSync(queries, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const [id, lat, lon, r, t0, t1, minstay] = line.trim().split(/\s+/);
      const t = process.hrtime.bigint();
      const res = await con.runAndReadAll(fill(text, { LAT: lat, LON: lon, R: r, TFROM: t0, TTO: t1, MINSTAY: minstay }));
      const rows = res.getRows();
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      fs.writeFileSync(path.join(outdir, id + '.csv'), toCsv(rows));
      console.log(`${id} ${ms.toFixed(3)}`);
    }
    return;
  }
  if (cmd === 'hotspots') {
    // the hotspots' rows over [from, to), timed over `runs` runs (the last kept)
    const [outfile, from, to, runs] = rest;
    const con = await open(db);
    const text = fill(sql('duck_hotspots.sql'), { TFROM: from, TTO: to });
    let rows;
    for (let i = 0; i < Number(runs || 1); i++) {
      const t = process.hrtime.bigint();
      rows = (await con.runAndReadAll(text)).getRows();
      console.log((Number(process.hrtime.bigint() - t) / 1e6).toFixed(3));
    }
    fs.writeFileSync(outfile, toCsv(rows));
    return;
  }
  console.error('usage: node duck.mjs load DB CITY | trace DB OUTDIR CASE... | batch DB OUTFILE | area DB OUTDIR QUERIES | hotspots DB OUTFILE FROM TO RUNS');
  process.exit(2);
}

main().catch((e) => {
  console.error('duck.mjs:', e.message || e);
  process.exit(1);
});
