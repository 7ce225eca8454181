-- Hotspots (docs/AREA.md section 3) with SPEC 4's defaults, without the
-- score: every place and hour where pairs of at least two cases met in
-- [{TFROM}, {TTO}), with the cases. The score weighs each overlap by the
-- exact probability of being within D (an integral, docs/RISK.md 2) and
-- is compared in celltrace only; the rows themselves are compared here.
-- Output: place, hour (epoch s), case_ids joined by ';'.
WITH c AS (
  SELECT case_id, sub, greatest(w0, {TFROM}) AS w0, least(w1, {TTO}) AS w1 FROM cases
  WHERE greatest(w0, {TFROM}) < least(w1, {TTO})
),
-- each case's presences cut to its window and the query's
ci AS (
  SELECT c.case_id, c.sub, greatest(p.t, c.w0) AS s,
         least(coalesce(p.t_next, p.t + 3600), p.t + 3600, c.w1) AS e, cl.loc, cl.lat, cl.lon, cl.r
  FROM c JOIN pres_cell p ON p.sub = c.sub AND p.t > c.w0 - 3600 AND p.t < c.w1
  JOIN cells cl ON cl.loc = p.loc
  UNION ALL
  SELECT c.case_id, c.sub, greatest(p.t, c.w0), least(coalesce(p.t_next, p.t + 3600), p.t + 3600, c.w1),
         NULL, p.lat, p.lon, p.acc
  FROM c JOIN pres_pt p ON p.sub = c.sub AND p.t > c.w0 - 3600 AND p.t < c.w1
),
civ AS (SELECT * FROM ci WHERE e > s),
-- pairs of cases (by case_id) whose presences overlap and are co-located;
-- the place is the smaller disk (a tie: the cell, then the lower loc, which
-- is (operator, cell_id) order; two fixes: the first case's)
pairs AS (
  SELECT x.case_id AS ca, y.case_id AS cb, greatest(x.s, y.s) AS lo, least(x.e, y.e) AS hi,
         CASE WHEN y.r < x.r OR (y.r = x.r AND y.loc IS NOT NULL AND x.loc IS NULL)
                   OR (y.r = x.r AND y.loc < x.loc) THEN y.loc ELSE x.loc END AS loc,
         CASE WHEN y.r < x.r OR (y.r = x.r AND y.loc IS NOT NULL AND x.loc IS NULL)
                   OR (y.r = x.r AND y.loc < x.loc) THEN y.lat ELSE x.lat END AS lat,
         CASE WHEN y.r < x.r OR (y.r = x.r AND y.loc IS NOT NULL AND x.loc IS NULL)
                   OR (y.r = x.r AND y.loc < x.loc) THEN y.lon ELSE x.lon END AS lon
  FROM civ x JOIN civ y ON x.case_id < y.case_id AND x.sub <> y.sub AND x.s < y.e AND y.s < x.e
  WHERE ct_dist(x.lat, x.lon, y.lat, y.lon) <= x.r + y.r + 2
),
-- a fix's grid square of 50 m, as celltrace draws it
squares AS (
  SELECT *, CAST(50 AS DOUBLE) / (CAST('6371008.8' AS DOUBLE) * pi() / 180.0) AS dlat FROM pairs
),
placed AS (
  SELECT ca, cb, lo, hi, loc, lon,
         (floor(lat / dlat) + 0.5) * dlat AS latc, dlat
  FROM squares
),
labelled AS (
  SELECT ca, cb, lo, hi,
         CASE WHEN p.loc IS NOT NULL THEN cl.op || ':' || cl.cell_id
              ELSE printf('grid:%.6f/%.6f', latc,
                          (floor(p.lon / (dlat / greatest(cos(latc * pi() / 180.0), 1e-6))) + 0.5)
                            * (dlat / greatest(cos(latc * pi() / 180.0), 1e-6))) END AS place
  FROM placed p LEFT JOIN cells cl ON cl.loc = p.loc
),
hours AS (
  SELECT place, h, ca, cb FROM labelled,
         range(lo - ((lo % 3600) + 3600) % 3600, hi, 3600) AS r(h)
),
met AS (SELECT place, h, ca AS cid FROM hours UNION SELECT place, h, cb FROM hours)
SELECT place, h AS hour, string_agg(cid, ';' ORDER BY cid) AS case_ids
FROM met GROUP BY place, h HAVING count(*) >= 2
ORDER BY place, hour
