-- The contacts of case :'cid' by SPEC 4 (defaults: max_presence 3600 s,
-- D = 2 m, T = 900 s). Output: case_id, msisdn, exposure_s,
-- first (epoch s), last (epoch s), min_radius (float8, full precision).
WITH c AS (
  SELECT case_id, sub, w0, w1 FROM cases WHERE case_id = :'cid'
),
-- the case's presence intervals, cut to its infectious window W
ci AS (
  SELECT greatest(p.t, c.w0) AS s, least(p.t_next, p.t + 3600, c.w1) AS e,
         cl.loc, cl.lat, cl.lon, cl.r, cl.g
  FROM c JOIN pres_cell p ON p.sub = c.sub AND p.t > c.w0 - 3600 AND p.t < c.w1
  JOIN cells cl ON cl.loc = p.loc
  UNION ALL
  SELECT greatest(p.t, c.w0), least(p.t_next, p.t + 3600, c.w1), NULL, p.lat, p.lon, p.acc, p.g
  FROM c JOIN pres_pt p ON p.sub = c.sub AND p.t > c.w0 - 3600 AND p.t < c.w1
),
civ AS MATERIALIZED (SELECT * FROM ci WHERE e > s),
-- cells co-located with each case interval: GiST pre-filter, exact test
near AS (
  SELECT civ.s, civ.e, civ.r + cl.r AS rr, cl.loc
  FROM civ JOIN cells cl
    ON ST_DWithin(cl.g, civ.g, civ.r + (SELECT max_cell_r FROM reach) + 2 + 1, false)
  WHERE ct_dist(civ.lat, civ.lon, cl.lat, cl.lon) <= civ.r + cl.r + 2
),
hits AS (
  -- cell events in those cells that started in (s - 3600, e)
  SELECT p.sub, greatest(p.t, n.s) AS a, least(p.t_next, p.t + 3600, n.e) AS b, n.rr
  FROM near n JOIN pres_cell p ON p.loc = n.loc AND p.t > n.s - 3600 AND p.t < n.e
  UNION ALL
  -- point events: GiST on (position, start), then the exact test
  SELECT p.sub, greatest(p.t, civ.s), least(p.t_next, p.t + 3600, civ.e), civ.r + p.acc
  FROM civ JOIN pres_pt p
    ON ST_DWithin(p.g, civ.g, civ.r + (SELECT max_acc FROM reach) + 2 + 1, false)
   AND p.t > civ.s - 3600 AND p.t < civ.e
  WHERE ct_dist(civ.lat, civ.lon, p.lat, p.lon) <= civ.r + p.acc + 2
)
SELECT c.case_id, h.sub::text AS msisdn, sum(h.b - h.a) AS exposure_s,
       min(h.a) AS first_t, max(h.b) AS last_t, min(h.rr) AS min_radius
FROM hits h CROSS JOIN c
WHERE h.b > h.a AND h.sub <> c.sub
GROUP BY c.case_id, h.sub
HAVING sum(h.b - h.a) >= 900
ORDER BY exposure_s DESC, h.sub::text COLLATE "C"
;
