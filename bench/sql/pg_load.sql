-- PostgreSQL 15 + PostGIS 3: from the raw CSV tables to queryable tables.
-- run.sh has created and COPY'd, as text columns named by each file's header:
--   raw_cells (op, cell_id, lat, lon, radius_m)
--   raw_ev    (op, msisdn, ts, cell_id, lat, lon, accuracy_m)   a view over one table per operator
--   raw_cases (case_id, msisdn, onset, isolated)
\set ON_ERROR_STOP 1

-- Cells. loc numbers cells in bytewise (operator, cell_id) order, the SPEC
-- 4.1 tie order, so ordering events by loc is ordering them by SPEC.
CREATE TABLE cells AS
SELECT (row_number() OVER (ORDER BY op COLLATE "C", cell_id COLLATE "C"))::int AS loc,
       op, cell_id, lat, lon, r, geography(ST_MakePoint(lon, lat)) AS g
FROM (SELECT DISTINCT ON (op, cell_id) op, nullif(cell_id, '') AS cell_id,
             ct_num(nullif(lat, '')) AS lat, ct_num(nullif(lon, '')) AS lon,
             ct_num(nullif(radius_m, '')) AS r
      FROM raw_cells ORDER BY op, cell_id) c
WHERE cell_id ~ '^[-A-Za-z0-9._:]{1,64}$' AND lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180
  AND r > 0 AND r <= 100000;
CREATE UNIQUE INDEX cells_key ON cells (op, cell_id);
CREATE INDEX cells_g ON cells USING gist (g);

-- Events: parse, reject what SPEC 3.2 rejects, look cells up.
CREATE UNLOGGED TABLE ev AS
SELECT p.sub, p.t, c.loc, NULL::text AS pop, NULL::float8 AS lat, NULL::float8 AS lon, NULL::float8 AS acc
FROM (SELECT op, ct_msisdn(nullif(msisdn, '')) AS sub, ct_time(nullif(ts, ''), false) AS t, cell_id
      FROM raw_ev WHERE cell_id <> '') p
JOIN cells c ON c.op = p.op AND c.cell_id = p.cell_id
WHERE p.sub IS NOT NULL AND p.t BETWEEN 0 AND 253402300799
UNION ALL
SELECT sub, t, NULL, op, lat, lon, acc
FROM (SELECT op, ct_msisdn(nullif(msisdn, '')) AS sub, ct_time(nullif(ts, ''), false) AS t,
             ct_num(nullif(lat, '')) AS lat, ct_num(nullif(lon, '')) AS lon,
             CASE WHEN nullif(accuracy_m, '') IS NULL THEN 50 ELSE ct_num(accuracy_m) END AS acc
      FROM raw_ev WHERE nullif(cell_id, '') IS NULL) p
WHERE sub IS NOT NULL AND t BETWEEN 0 AND 253402300799
  AND lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180 AND acc > 0 AND acc <= 100000;

CREATE TABLE load_counts AS
SELECT (SELECT count(*) FROM raw_ev) AS rows_read, (SELECT count(*) FROM ev) AS rows_good;

-- Presence (SPEC 4.1-4.2): duplicates removed (same number, second,
-- operator and place: a cell's loc names its operator), then LEAD over the
-- subscriber's events in SPEC order: cells first by loc, then points by
-- (lat, lon, accuracy). t_next is kept uncapped: max_presence is a query
-- parameter.
CREATE UNLOGGED TABLE pres AS
SELECT sub, t, lead(t) OVER (PARTITION BY sub ORDER BY t, loc NULLS LAST, lat, lon, acc) AS t_next,
       loc, lat, lon, acc
FROM (SELECT DISTINCT sub, t, loc, pop, lat, lon, acc FROM ev) d;
DROP TABLE ev;

CREATE TABLE pres_cell AS
SELECT sub, t, t_next, loc FROM pres WHERE loc IS NOT NULL ORDER BY loc, t;
-- Points in a projected, metric CRS (the UTM zone of their mean position):
-- the GiST pre-filter on planar geometry is cheaper than on geography.
-- Within a zone and its neighbours UTM's scale is 1 +- 0.4 %, so the
-- queries widen the pre-filter by 1 % + 1 m; the exact test stays ct_dist.
CREATE TABLE proj AS
SELECT CASE WHEN coalesce(avg(lat), 0) >= 0 THEN 32600 ELSE 32700 END
       + least(60, greatest(1, floor((coalesce(avg(lon), 0) + 180) / 6)::int + 1)) AS srid
FROM pres WHERE loc IS NULL;
CREATE TABLE pres_pt AS
SELECT sub, t, t_next, lat, lon, acc,
       ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), (SELECT srid FROM proj)) AS gp
FROM pres WHERE loc IS NULL ORDER BY sub, t;
DROP TABLE pres;

-- Indexes: cell events by (cell, start) for the candidates and by
-- (subscriber, start) for the case's own events, both covering; point
-- events by a GiST on (projected position, start) (btree_gist for the bigint).
CREATE INDEX pres_cell_loc ON pres_cell (loc, t) INCLUDE (sub, t_next);
CREATE INDEX pres_cell_sub ON pres_cell (sub, t) INCLUDE (t_next, loc);
CREATE INDEX pres_pt_gp ON pres_pt USING gist (gp, t);
CREATE INDEX pres_pt_sub ON pres_pt (sub, t);

-- Cases (SPEC 3.3) with their infectious window (SPEC 4.5, defaults).
CREATE TABLE cases AS
SELECT case_id, sub, onset - 172800 AS w0, coalesce(iso, onset + 864000) AS w1
FROM (SELECT nullif(case_id, '') AS case_id, ct_msisdn(nullif(msisdn, '')) AS sub,
             ct_time(nullif(onset, ''), true) AS onset, ct_time(nullif(isolated, ''), true) AS iso,
             nullif(isolated, '') IS NOT NULL AS has_iso
      FROM raw_cases) c
WHERE case_id IS NOT NULL AND sub IS NOT NULL AND onset BETWEEN 0 AND 253402300799
  AND (NOT has_iso OR iso BETWEEN 0 AND 253402300799);
CREATE UNIQUE INDEX cases_id ON cases (case_id);

-- The largest disks, for the index pre-filters' reach.
CREATE TABLE reach AS
SELECT (SELECT coalesce(max(r), 0) FROM cells) AS max_cell_r,
       (SELECT coalesce(max(acc), 0) FROM pres_pt) AS max_acc;

ANALYZE cells; ANALYZE pres_cell; ANALYZE pres_pt; ANALYZE cases; ANALYZE reach; ANALYZE proj;
