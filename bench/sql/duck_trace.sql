-- The contacts of the cases that {CASES} selects (one, or all for the
-- batch) by SPEC 4 with the defaults. Same output as pg_trace.sql.
-- Written as a DuckDB engineer would (bench/README.md, "The DuckDB peer"):
-- the case's touching intervals at one place merged into stays, and the
-- hour of an event's start in every join key, so that a case stay meets
-- only the events of its own hours in a cell or grid bucket.
WITH c AS (
  SELECT case_id, sub, w0, w1 FROM cases WHERE {CASES}
),
ci AS (
  SELECT c.case_id, greatest(p.t, c.w0) AS s, least(coalesce(p.t_next, p.t + 3600), p.t + 3600, c.w1) AS e,
         cl.loc, cl.lat, cl.lon, cl.r
  FROM c JOIN pres_cell p ON p.sub = c.sub AND p.t > c.w0 - 3600 AND p.t < c.w1
  JOIN cells cl ON cl.loc = p.loc
  UNION ALL
  SELECT c.case_id, greatest(p.t, c.w0), least(coalesce(p.t_next, p.t + 3600), p.t + 3600, c.w1),
         NULL, p.lat, p.lon, p.acc
  FROM c JOIN pres_pt p ON p.sub = c.sub AND p.t > c.w0 - 3600 AND p.t < c.w1
),
-- stays: a case's intervals never overlap, so ordered by start, one that
-- begins where the one before ended, at the same place, continues it.
-- Overlaps add up the same over a stay as over its parts.
civ0 AS (
  SELECT *, CASE WHEN s = lag(e) OVER w AND loc IS NOT DISTINCT FROM lag(loc) OVER w
                      AND lat = lag(lat) OVER w AND lon = lag(lon) OVER w AND r = lag(r) OVER w
                 THEN 0 ELSE 1 END AS fresh
  FROM ci WHERE e > s
  WINDOW w AS (PARTITION BY case_id ORDER BY s)
),
civ AS (
  SELECT case_id, min(s) AS s, max(e) AS e, any_value(loc) AS loc, any_value(lat) AS lat,
         any_value(lon) AS lon, any_value(r) AS r
  FROM (SELECT *, sum(fresh) OVER (PARTITION BY case_id ORDER BY s) AS stay FROM civ0)
  GROUP BY case_id, stay
),
-- cells co-located with each distinct case disk: box pre-filter, exact test
disks AS (SELECT DISTINCT lat, lon, r FROM civ),
near_disk AS (
  SELECT d.lat, d.lon, d.r, cl.loc, d.r + cl.r AS rr
  FROM disks d, cells cl, reach
  WHERE abs(cl.lat - d.lat) <= (d.r + reach.max_cell_r + 3) / 111000.0
    AND ct_dist(d.lat, d.lon, cl.lat, cl.lon) <= d.r + cl.r + 2
),
-- the hours a stay's candidates can start in: t in (s - 3600, e)
near AS (
  SELECT civ.case_id, civ.s, civ.e, n.loc, n.rr, hr.h
  FROM civ JOIN near_disk n ON n.lat = civ.lat AND n.lon = civ.lon AND n.r = civ.r,
       range((civ.s - 3599) // 3600, (civ.e - 1) // 3600 + 1) AS hr(h)
),
-- the grid buckets and hours each case stay's reach touches
reachb AS (
  SELECT civ.*, (civ.r + reach.max_acc + 3) / 111194.9 AS dlat FROM civ, reach
),
buckets AS (
  SELECT case_id, s, e, lat, lon, r, gx, gy, h
  FROM (SELECT *, dlat / cos(radians(least(abs(lat) + dlat, 89.9))) * 1.01 AS dlon FROM reachb),
       range(CAST(floor((lat - dlat) / 0.001) AS INTEGER), CAST(floor((lat + dlat) / 0.001) AS INTEGER) + 1) AS x(gx),
       range(CAST(floor((lon - dlon) / 0.002) AS INTEGER), CAST(floor((lon + dlon) / 0.002) AS INTEGER) + 1) AS y(gy),
       range((s - 3599) // 3600, (e - 1) // 3600 + 1) AS hr(h)
),
hits AS (
  SELECT n.case_id, p.sub, greatest(p.t, n.s) AS a,
         least(coalesce(p.t_next, p.t + 3600), p.t + 3600, n.e) AS b, n.rr
  FROM near n JOIN pres_cell p ON p.loc = n.loc AND p.h = n.h AND p.t > n.s - 3600 AND p.t < n.e
  UNION ALL
  SELECT b.case_id, p.sub, greatest(p.t, b.s), least(coalesce(p.t_next, p.t + 3600), p.t + 3600, b.e), b.r + p.acc
  FROM buckets b JOIN pres_pt p ON p.gx = b.gx AND p.gy = b.gy AND p.h = b.h AND p.t > b.s - 3600 AND p.t < b.e
  WHERE ct_dist(b.lat, b.lon, p.lat, p.lon) <= b.r + p.acc + 2
)
SELECT h.case_id, CAST(h.sub AS VARCHAR) AS msisdn, sum(h.b - h.a) AS exposure_s,
       min(h.a) AS first_t, max(h.b) AS last_t, min(h.rr) AS min_radius
FROM hits h JOIN c ON c.case_id = h.case_id
WHERE h.b > h.a AND h.sub <> c.sub
GROUP BY h.case_id, h.sub
HAVING sum(h.b - h.a) >= 900
ORDER BY h.case_id, exposure_s DESC, msisdn
