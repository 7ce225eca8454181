-- An area query (docs/AREA.md) with the defaults (max_presence 3600 s):
-- everyone whose presences meet the disk ({LAT}, {LON}, {R}) during
-- [{TFROM}, {TTO}) for at least {MINSTAY} s. Same output as pg_area.sql:
-- msisdn, present_s, first (epoch s), last (epoch s), min_radius (the
-- phone's own), expected_inside_s.
WITH q AS (
  SELECT CAST({LAT} AS DOUBLE) AS lat, CAST({LON} AS DOUBLE) AS lon, CAST({R} AS DOUBLE) AS r,
         CAST({TFROM} AS BIGINT) AS t0, CAST({TTO} AS BIGINT) AS t1
),
-- cells whose disk meets the area: a latitude band, then the exact test
near AS (
  SELECT cl.loc, cl.r, ct_dist(q.lat, q.lon, cl.lat, cl.lon) AS d
  FROM cells cl, q, reach
  WHERE abs(cl.lat - q.lat) <= (q.r + reach.max_cell_r + 1) / 111000.0
    AND ct_dist(q.lat, q.lon, cl.lat, cl.lon) <= q.r + cl.r
),
-- the grid buckets of point events the area's reach touches
reachb AS (SELECT q.*, (q.r + reach.max_acc + 1) / 111194.9 AS dlat FROM q, reach),
buckets AS (
  SELECT gx, gy
  FROM (SELECT *, dlat / cos(radians(least(abs(lat) + dlat, 89.9))) * 1.01 AS dlon FROM reachb),
       range(CAST(floor((lat - dlat) / 0.001) AS INTEGER), CAST(floor((lat + dlat) / 0.001) AS INTEGER) + 1) AS x(gx),
       range(CAST(floor((lon - dlon) / 0.002) AS INTEGER), CAST(floor((lon + dlon) / 0.002) AS INTEGER) + 1) AS y(gy)
),
hits AS (
  SELECT p.sub, greatest(p.t, q.t0) AS a, least(coalesce(p.t_next, p.t + 3600), p.t + 3600, q.t1) AS b,
         n.r AS rr, n.d
  FROM near n JOIN pres_cell p ON p.loc = n.loc, q
  WHERE p.t > q.t0 - 3600 AND p.t < q.t1
  UNION ALL
  SELECT p.sub, greatest(p.t, q.t0), least(coalesce(p.t_next, p.t + 3600), p.t + 3600, q.t1),
         p.acc, ct_dist(q.lat, q.lon, p.lat, p.lon)
  FROM buckets b JOIN pres_pt p ON p.gx = b.gx AND p.gy = b.gy, q
  WHERE p.t > q.t0 - 3600 AND p.t < q.t1 AND ct_dist(q.lat, q.lon, p.lat, p.lon) <= q.r + p.acc
)
SELECT CAST(h.sub AS VARCHAR) AS msisdn, sum(h.b - h.a) AS present_s, min(h.a) AS first_t,
       max(h.b) AS last_t, min(h.rr) AS min_radius,
       sum((h.b - h.a) * ct_share(q.r, h.rr, h.d)) AS expected_inside_s
FROM hits h, q
WHERE h.b > h.a
GROUP BY h.sub
HAVING sum(h.b - h.a) >= {MINSTAY}
ORDER BY present_s DESC, msisdn
