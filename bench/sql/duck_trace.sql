-- The contacts of the cases that {CASES} selects (one, or all for the
-- batch) by SPEC 4 with the defaults. Same output as pg_trace.sql.
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
civ AS (SELECT * FROM ci WHERE e > s),
-- cells co-located with each distinct case disk: box pre-filter, exact test
disks AS (SELECT DISTINCT lat, lon, r FROM civ),
near_disk AS (
  SELECT d.lat, d.lon, d.r, cl.loc, d.r + cl.r AS rr
  FROM disks d, cells cl, reach
  WHERE abs(cl.lat - d.lat) <= (d.r + reach.max_cell_r + 3) / 111000.0
    AND ct_dist(d.lat, d.lon, cl.lat, cl.lon) <= d.r + cl.r + 2
),
near AS (
  SELECT civ.case_id, civ.s, civ.e, n.loc, n.rr
  FROM civ JOIN near_disk n ON n.lat = civ.lat AND n.lon = civ.lon AND n.r = civ.r
),
-- the grid buckets each case interval's reach touches
reachb AS (
  SELECT civ.*, (civ.r + reach.max_acc + 3) / 111194.9 AS dlat FROM civ, reach
),
buckets AS (
  SELECT case_id, s, e, lat, lon, r, gx, gy
  FROM (SELECT *, dlat / cos(radians(least(abs(lat) + dlat, 89.9))) * 1.01 AS dlon FROM reachb),
       range(CAST(floor((lat - dlat) / 0.001) AS INTEGER), CAST(floor((lat + dlat) / 0.001) AS INTEGER) + 1) AS x(gx),
       range(CAST(floor((lon - dlon) / 0.002) AS INTEGER), CAST(floor((lon + dlon) / 0.002) AS INTEGER) + 1) AS y(gy)
),
hits AS (
  SELECT n.case_id, p.sub, greatest(p.t, n.s) AS a,
         least(coalesce(p.t_next, p.t + 3600), p.t + 3600, n.e) AS b, n.rr
  FROM near n JOIN pres_cell p ON p.loc = n.loc AND p.t > n.s - 3600 AND p.t < n.e
  UNION ALL
  SELECT b.case_id, p.sub, greatest(p.t, b.s), least(coalesce(p.t_next, p.t + 3600), p.t + 3600, b.e), b.r + p.acc
  FROM buckets b JOIN pres_pt p ON p.gx = b.gx AND p.gy = b.gy AND p.t > b.s - 3600 AND p.t < b.e
  WHERE ct_dist(b.lat, b.lon, p.lat, p.lon) <= b.r + p.acc + 2
)
SELECT h.case_id, CAST(h.sub AS VARCHAR) AS msisdn, sum(h.b - h.a) AS exposure_s,
       min(h.a) AS first_t, max(h.b) AS last_t, min(h.rr) AS min_radius
FROM hits h JOIN c ON c.case_id = h.case_id
WHERE h.b > h.a AND h.sub <> c.sub
GROUP BY h.case_id, h.sub
HAVING sum(h.b - h.a) >= 900
ORDER BY h.case_id, exposure_s DESC, msisdn
