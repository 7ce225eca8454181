-- The contacts of case $1 by SPEC 4 (defaults: max_presence 3600 s,
-- D = 2 m, T = 900 s), prepared once per session (run.sh then times
-- EXECUTE ct_trace('<case>')). Output: case_id, msisdn, exposure_s,
-- first (epoch s), last (epoch s), min_radius (float8, full precision).
-- As a PostgreSQL engineer would write it (bench/README.md): the case's
-- touching intervals at one place merged into stays, the exact overlap
-- test in the join, points pre-filtered on projected geometry.
PREPARE ct_trace(text) AS
WITH c AS (
  SELECT case_id, sub, w0, w1 FROM cases WHERE case_id = $1
),
-- the case's presence intervals, cut to its infectious window W
ci AS (
  SELECT greatest(p.t, c.w0) AS s, least(p.t_next, p.t + 3600, c.w1) AS e,
         cl.loc, cl.lat, cl.lon, cl.r
  FROM c JOIN pres_cell p ON p.sub = c.sub AND p.t > c.w0 - 3600 AND p.t < c.w1
  JOIN cells cl ON cl.loc = p.loc
  UNION ALL
  SELECT greatest(p.t, c.w0), least(p.t_next, p.t + 3600, c.w1), NULL, p.lat, p.lon, p.acc
  FROM c JOIN pres_pt p ON p.sub = c.sub AND p.t > c.w0 - 3600 AND p.t < c.w1
),
-- stays: a case's intervals never overlap, so ordered by start, one that
-- begins where the one before ended, at the same place, continues it.
-- Overlaps add up the same over a stay as over its parts.
marked AS (
  SELECT *, CASE WHEN s = lag(e) OVER w AND loc IS NOT DISTINCT FROM lag(loc) OVER w
                      AND lat = lag(lat) OVER w AND lon = lag(lon) OVER w AND r = lag(r) OVER w
                 THEN 0 ELSE 1 END AS fresh
  FROM ci WHERE e > s
  WINDOW w AS (ORDER BY s)
),
civ AS MATERIALIZED (
  SELECT min(s) AS s, max(e) AS e, min(loc) AS loc, min(lat) AS lat, min(lon) AS lon, min(r) AS r,
         geography(ST_MakePoint(min(lon), min(lat))) AS g,
         ST_Transform(ST_SetSRID(ST_MakePoint(min(lon), min(lat)), 4326), (SELECT srid FROM proj)) AS gp
  FROM (SELECT *, sum(fresh) OVER (ORDER BY s) AS stay FROM marked) m
  GROUP BY stay
),
-- cells co-located with each case stay: GiST pre-filter, exact test
near AS (
  SELECT civ.s, civ.e, civ.r + cl.r AS rr, cl.loc
  FROM civ JOIN cells cl
    ON ST_DWithin(cl.g, civ.g, civ.r + (SELECT max_cell_r FROM reach) + 2 + 1, false)
  WHERE ct_dist(civ.lat, civ.lon, cl.lat, cl.lon) <= civ.r + cl.r + 2
),
hits AS (
  -- cell events in those cells that started in (s - 3600, e) and last past s
  SELECT p.sub, greatest(p.t, n.s) AS a, least(p.t_next, p.t + 3600, n.e) AS b, n.rr
  FROM near n JOIN pres_cell p ON p.loc = n.loc AND p.t > n.s - 3600 AND p.t < n.e
                              AND least(p.t_next, p.t + 3600) > n.s
  UNION ALL
  -- point events: GiST on (projected position, start), then the exact test
  SELECT p.sub, greatest(p.t, civ.s), least(p.t_next, p.t + 3600, civ.e), civ.r + p.acc
  FROM civ JOIN pres_pt p
    ON ST_DWithin(p.gp, civ.gp, (civ.r + (SELECT max_acc FROM reach) + 2) * 1.01 + 1)
   AND p.t > civ.s - 3600 AND p.t < civ.e AND least(p.t_next, p.t + 3600) > civ.s
  WHERE ct_dist(civ.lat, civ.lon, p.lat, p.lon) <= civ.r + p.acc + 2
)
SELECT c.case_id, h.sub::text AS msisdn, sum(h.b - h.a) AS exposure_s,
       min(h.a) AS first_t, max(h.b) AS last_t, min(h.rr) AS min_radius
FROM hits h CROSS JOIN c
WHERE h.b > h.a AND h.sub <> c.sub
GROUP BY c.case_id, h.sub
HAVING sum(h.b - h.a) >= 900
ORDER BY exposure_s DESC, h.sub::text COLLATE "C";
