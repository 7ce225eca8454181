-- DuckDB: from the CSV files to queryable tables. duck.mjs replaces
-- {RAW_CELLS}, {RAW_EV} and {RAW_CASES} with read_csv(...) unions over the
-- city's files (all columns as text, matched by header name; a column a
-- file lacks is NULL), the same relations as PostgreSQL's raw tables.

-- Cells; loc in bytewise (operator, cell_id) order = the SPEC 4.1 tie order.
CREATE TABLE cells AS
SELECT CAST(row_number() OVER (ORDER BY op, cell_id) AS INTEGER) AS loc, op, cell_id, lat, lon, r
FROM (SELECT op, cell_id, ct_num(lat) AS lat, ct_num(lon) AS lon, ct_num(radius_m) AS r
      FROM (SELECT DISTINCT ON (op, cell_id) * FROM {RAW_CELLS}))
WHERE regexp_full_match(cell_id, '[-A-Za-z0-9._:]{1,64}') AND lat BETWEEN -90 AND 90
  AND lon BETWEEN -180 AND 180 AND r > 0 AND r <= 100000;

-- Events: parse, reject what SPEC 3.2 rejects, look cells up; then
-- duplicates removed and presence by LEAD in SPEC 4.1 order, in one pass.
CREATE TEMP TABLE ev AS
WITH p AS (
  SELECT op, ct_msisdn(msisdn) AS sub, ct_time(ts, false) AS t, cell_id,
         ct_num(lat) AS lat, ct_num(lon) AS lon,
         CASE WHEN accuracy_m IS NULL OR accuracy_m = '' THEN 50 ELSE ct_num(accuracy_m) END AS acc
  FROM {RAW_EV}
)
SELECT p.sub, p.t, c.loc, CAST(NULL AS VARCHAR) AS pop, CAST(NULL AS DOUBLE) AS lat,
       CAST(NULL AS DOUBLE) AS lon, CAST(NULL AS DOUBLE) AS acc
FROM p JOIN cells c ON c.op = p.op AND c.cell_id = p.cell_id
WHERE p.cell_id <> '' AND p.sub IS NOT NULL AND p.t BETWEEN 0 AND 253402300799
UNION ALL
SELECT sub, t, NULL, op, lat, lon, acc FROM p
WHERE (cell_id IS NULL OR cell_id = '') AND sub IS NOT NULL AND t BETWEEN 0 AND 253402300799
  AND lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180 AND acc > 0 AND acc <= 100000;

CREATE TABLE load_counts AS
SELECT (SELECT count(*) FROM {RAW_EV}) AS rows_read, (SELECT count(*) FROM ev) AS rows_good;

CREATE TEMP TABLE pres AS
SELECT sub, t, lead(t) OVER (PARTITION BY sub ORDER BY t, loc NULLS LAST, lat, lon, acc) AS t_next,
       loc, lat, lon, acc
FROM (SELECT DISTINCT sub, t, loc, pop, lat, lon, acc FROM ev);
DROP TABLE ev;

-- Cell events in (cell, start) order: zone maps and the join's key filter
-- skip the row groups of cells far from the case. h, the hour of the
-- start, is part of the trace's join key (duck_trace.sql), so a case
-- interval meets only its hours' events of a cell, not all 14 days'.
CREATE TABLE pres_cell AS
SELECT sub, t, t_next, loc, CAST(t // 3600 AS BIGINT) AS h
FROM pres WHERE loc IS NOT NULL ORDER BY loc, t;
-- Point events with their grid bucket (0.001 deg of latitude x 0.002 deg
-- of longitude, about 111 x 125 m in Moscow) and hour, in (bucket, start)
-- order.
CREATE TABLE pres_pt AS
SELECT sub, t, t_next, lat, lon, acc,
       CAST(floor(lat / 0.001) AS INTEGER) AS gx, CAST(floor(lon / 0.002) AS INTEGER) AS gy,
       CAST(t // 3600 AS BIGINT) AS h
FROM pres WHERE loc IS NULL ORDER BY gx, gy, t;
DROP TABLE pres;

CREATE TABLE cases AS
SELECT case_id, sub, onset - 172800 AS w0, coalesce(iso, onset + 864000) AS w1
FROM (SELECT case_id, ct_msisdn(msisdn) AS sub, ct_time(onset, true) AS onset,
             ct_time(isolated, true) AS iso, coalesce(isolated, '') <> '' AS has_iso
      FROM {RAW_CASES})
WHERE coalesce(case_id, '') <> '' AND sub IS NOT NULL AND onset BETWEEN 0 AND 253402300799
  AND (NOT has_iso OR iso BETWEEN 0 AND 253402300799);

CREATE TABLE reach AS
SELECT (SELECT coalesce(max(r), 0) FROM cells) AS max_cell_r,
       (SELECT coalesce(max(acc), 0) FROM pres_pt) AS max_acc;
CHECKPOINT;
