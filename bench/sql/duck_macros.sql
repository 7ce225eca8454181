-- SPEC 2 field parsers and the SPEC distance as DuckDB macros (expanded
-- inline). NULL for a value SPEC rejects; never an error (TRY_CAST, and the
-- calendar arithmetic only runs inside the CASE branch whose checks passed).
CREATE MACRO ct_msisdn(s) AS
  CASE WHEN regexp_full_match(s, '[-. ()]*\+?[-. ()]*[1-9][-. ()0-9]*')
        AND length(translate(s, '+-. ()', '')) BETWEEN 7 AND 15
       THEN TRY_CAST(translate(s, '+-. ()', '') AS BIGINT) END;

CREATE MACRO ct_days_in_month(y, m) AS
  CASE WHEN m = 2 THEN CASE WHEN (y % 4 = 0 AND y % 100 <> 0) OR y % 400 = 0 THEN 29 ELSE 28 END
       WHEN m IN (4, 6, 9, 11) THEN 30 ELSE 31 END;

-- see pg_functions.sql: the same forms, the same checks
CREATE MACRO ct_time(s, allow_date) AS
  CASE
  WHEN regexp_full_match(s, '[0-9]+(\.[0-9]+)?') THEN
    CASE WHEN length(ltrim(split_part(s, '.', 1), '0')) <= 12
         THEN TRY_CAST(split_part(s, '.', 1) AS BIGINT) END
  WHEN regexp_full_match(s, '[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[-+][0-9]{2}:[0-9]{2})| [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?)?')
       AND (allow_date OR length(s) > 10) THEN
    CASE WHEN TRY_CAST(substr(s, 1, 4) AS INTEGER) >= 1969
          AND TRY_CAST(substr(s, 6, 2) AS INTEGER) BETWEEN 1 AND 12
          AND TRY_CAST(substr(s, 9, 2) AS INTEGER) BETWEEN 1 AND
              ct_days_in_month(TRY_CAST(substr(s, 1, 4) AS INTEGER), TRY_CAST(substr(s, 6, 2) AS INTEGER))
          AND (length(s) = 10 OR (TRY_CAST(substr(s, 12, 2) AS INTEGER) <= 23
                                  AND TRY_CAST(substr(s, 15, 2) AS INTEGER) <= 59
                                  AND TRY_CAST(substr(s, 18, 2) AS INTEGER) <= 59))
          AND (substr(s, 11, 1) <> 'T' OR right(s, 1) = 'Z'
               OR (TRY_CAST(substr(right(s, 6), 2, 2) AS INTEGER) <= 23
                   AND TRY_CAST(substr(right(s, 6), 5, 2) AS INTEGER) <= 59))
    THEN CAST(make_date(TRY_CAST(substr(s, 1, 4) AS BIGINT), TRY_CAST(substr(s, 6, 2) AS BIGINT),
                        TRY_CAST(substr(s, 9, 2) AS BIGINT)) - DATE '1970-01-01' AS BIGINT) * 86400
       + CASE WHEN length(s) = 10 THEN 0
              ELSE TRY_CAST(substr(s, 12, 2) AS BIGINT) * 3600 + TRY_CAST(substr(s, 15, 2) AS BIGINT) * 60
                   + TRY_CAST(substr(s, 18, 2) AS BIGINT) END
       - CASE WHEN substr(s, 11, 1) <> 'T' OR right(s, 1) = 'Z' THEN 0
              ELSE (CASE WHEN substr(right(s, 6), 1, 1) = '-' THEN -1 ELSE 1 END)
                   * (TRY_CAST(substr(right(s, 6), 2, 2) AS BIGINT) * 3600
                      + TRY_CAST(substr(right(s, 6), 5, 2) AS BIGINT) * 60) END
    END
  END;

CREATE MACRO ct_num(s) AS
  CASE WHEN regexp_full_match(s, '[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,2})?') AND length(s) < 300
       THEN TRY_CAST(s AS DOUBLE) END;

-- haversine as celltrace's geo.c computes it (same operations, same order);
-- constants cast from text so that they are the correctly rounded doubles
CREATE MACRO ct_dist(lat1, lon1, lat2, lon2) AS
  CAST('12742017.6' AS DOUBLE) * asin(sqrt(least(CAST(1 AS DOUBLE),
      sin((lat2 - lat1) * CAST('0.017453292519943295' AS DOUBLE) / 2)
    * sin((lat2 - lat1) * CAST('0.017453292519943295' AS DOUBLE) / 2)
    + cos(lat1 * CAST('0.017453292519943295' AS DOUBLE)) * cos(lat2 * CAST('0.017453292519943295' AS DOUBLE))
    * sin((lon2 - lon1) * CAST('0.017453292519943295' AS DOUBLE) / 2)
    * sin((lon2 - lon1) * CAST('0.017453292519943295' AS DOUBLE) / 2))));

-- The share of a phone's disk (radius r) inside an area's disk (radius R)
-- whose centre is d away: lens(R, r, d) / (pi r^2), the textbook formula
-- (docs/AREA.md: expected_inside_s). celltrace computes the same lens in
-- another form; the answers are compared to 0.05 s.
CREATE MACRO ct_lens(r1, r2, d) AS
  CASE WHEN d >= r1 + r2 THEN CAST(0 AS DOUBLE)
       WHEN d <= abs(r1 - r2) THEN pi() * least(r1, r2) * least(r1, r2)
       ELSE r1 * r1 * acos(greatest(-1.0, least(1.0, (d * d + r1 * r1 - r2 * r2) / (2 * d * r1))))
          + r2 * r2 * acos(greatest(-1.0, least(1.0, (d * d + r2 * r2 - r1 * r1) / (2 * d * r2))))
          - 0.5 * sqrt(greatest(0.0, (-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2)))
  END;
CREATE MACRO ct_share(big_r, r, d) AS least(1.0, ct_lens(big_r, r, d) / (pi() * r * r));
