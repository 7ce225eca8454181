-- An area query (docs/AREA.md) with the defaults (max_presence 3600 s):
-- everyone whose presences meet the disk (:lat, :lon, :r) during
-- [:t0, :t1) for at least :minstay s. Same output as duck_area.sql.
WITH q AS (
  SELECT :lat::float8 AS lat, :lon::float8 AS lon, :r::float8 AS r, :t0::bigint AS t0,
         :t1::bigint AS t1, geography(ST_MakePoint(:lon::float8, :lat::float8)) AS g,
         ST_Transform(ST_SetSRID(ST_MakePoint(:lon::float8, :lat::float8), 4326),
                      (SELECT srid FROM proj)) AS gp
),
-- cells whose disk meets the area: GiST pre-filter, exact test
near AS (
  SELECT cl.loc, cl.r, ct_dist(q.lat, q.lon, cl.lat, cl.lon) AS d
  FROM q JOIN cells cl ON ST_DWithin(cl.g, q.g, q.r + (SELECT max_cell_r FROM reach) + 1, false)
  WHERE ct_dist(q.lat, q.lon, cl.lat, cl.lon) <= q.r + cl.r
),
hits AS (
  SELECT p.sub, greatest(p.t, q.t0) AS a, least(p.t_next, p.t + 3600, q.t1) AS b, n.r AS rr, n.d
  FROM near n CROSS JOIN q JOIN pres_cell p ON p.loc = n.loc AND p.t > q.t0 - 3600 AND p.t < q.t1
  UNION ALL
  SELECT p.sub, greatest(p.t, q.t0), least(p.t_next, p.t + 3600, q.t1), p.acc,
         ct_dist(q.lat, q.lon, p.lat, p.lon)
  FROM q JOIN pres_pt p
    ON ST_DWithin(p.gp, q.gp, (q.r + (SELECT max_acc FROM reach)) * 1.01 + 1)
   AND p.t > q.t0 - 3600 AND p.t < q.t1
  WHERE ct_dist(q.lat, q.lon, p.lat, p.lon) <= q.r + p.acc
)
SELECT h.sub::text AS msisdn, sum(h.b - h.a) AS present_s, min(h.a) AS first_t, max(h.b) AS last_t,
       min(h.rr) AS min_radius, sum((h.b - h.a) * ct_share(q.r, h.rr, h.d)) AS expected_inside_s
FROM hits h CROSS JOIN q
WHERE h.b > h.a
GROUP BY h.sub
HAVING sum(h.b - h.a) >= :minstay
ORDER BY present_s DESC, h.sub::text COLLATE "C"
;
