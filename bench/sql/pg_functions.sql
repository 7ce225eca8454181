-- SPEC 2 field parsers and the SPEC distance as SQL functions with
-- `RETURN` bodies: PostgreSQL inlines them into the calling query, so there
-- is no per-row function call. They return NULL for a value SPEC rejects
-- and never raise an error (one bad row must not abort a load).

-- Phone number: separators ' - . ( )' dropped, one '+' before the first
-- digit, then 7-15 digits not starting with 0. The digits as a bigint
-- (15 digits fit; no leading zero, so bigint and text are one-to-one).
CREATE FUNCTION ct_msisdn(s text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN s ~ '^[-. ()]*\+?[-. ()]*[1-9][-. ()0-9]*$'
             AND length(translate(s, '+-. ()', '')) BETWEEN 7 AND 15
            THEN translate(s, '+-. ()', '')::bigint END;

CREATE FUNCTION ct_days_in_month(y int, m int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN m = 2 THEN CASE WHEN (y % 4 = 0 AND y % 100 <> 0) OR y % 400 = 0 THEN 29 ELSE 28 END
            WHEN m IN (4, 6, 9, 11) THEN 30 ELSE 31 END;

-- Seconds since the epoch of `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DDTHH:MM:SS`
-- + `Z` or `+HH:MM`/`-HH:MM`, a bare date where allow_date, or integer
-- epoch seconds; fractions truncated. NULL when the text is not one of
-- these or not a real calendar instant. The caller keeps 0..253402300799
-- (1970 to 9999, as celltrace does).
CREATE FUNCTION ct_time(s text, allow_date boolean) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
  WHEN s ~ '^[0-9]+(\.[0-9]+)?$' THEN
    CASE WHEN length(ltrim(split_part(s, '.', 1), '0')) <= 12
         THEN split_part(s, '.', 1)::bigint END
  WHEN s ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[-+][0-9]{2}:[0-9]{2})| [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?)?$'
       AND (allow_date OR length(s) > 10)
       AND substr(s, 1, 4)::int >= 1969
       AND substr(s, 6, 2)::int BETWEEN 1 AND 12
       AND substr(s, 9, 2)::int BETWEEN 1 AND ct_days_in_month(substr(s, 1, 4)::int, substr(s, 6, 2)::int)
       AND (length(s) = 10 OR (substr(s, 12, 2)::int <= 23 AND substr(s, 15, 2)::int <= 59
                               AND substr(s, 18, 2)::int <= 59))
       AND (substr(s, 11, 1) <> 'T' OR right(s, 1) = 'Z'
            OR (substr(right(s, 6), 2, 2)::int <= 23 AND substr(right(s, 6), 5, 2)::int <= 59))
  THEN (make_date(substr(s, 1, 4)::int, substr(s, 6, 2)::int, substr(s, 9, 2)::int) - DATE '1970-01-01')::bigint * 86400
     + CASE WHEN length(s) = 10 THEN 0
            ELSE substr(s, 12, 2)::int * 3600 + substr(s, 15, 2)::int * 60 + substr(s, 18, 2)::int END
     - CASE WHEN substr(s, 11, 1) <> 'T' OR right(s, 1) = 'Z' THEN 0
            ELSE (CASE WHEN substr(right(s, 6), 1, 1) = '-' THEN -1 ELSE 1 END)
                 * (substr(right(s, 6), 2, 2)::int * 3600 + substr(right(s, 6), 5, 2)::int * 60) END
END;

-- A decimal as SPEC spells it: [+-] digits [. digits] [e[+-]dd]; NULL
-- otherwise. float8 input is correctly rounded, as celltrace's parser is,
-- so the same text gives the same bits (which deduplication relies on).
CREATE FUNCTION ct_num(s text) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN s ~ '^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,2})?$' AND length(s) < 300
            THEN s::float8 END;

-- SPEC 2: haversine on a sphere of 6 371 008.8 m, with the same operations
-- in the same order as celltrace's geo.c, so the same bits.
CREATE FUNCTION ct_dist(lat1 float8, lon1 float8, lat2 float8, lon2 float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 12742017.6::float8 * asin(sqrt(least(1.0::float8,
         sin((lat2 - lat1) * 0.017453292519943295::float8 / 2) * sin((lat2 - lat1) * 0.017453292519943295::float8 / 2)
       + cos(lat1 * 0.017453292519943295::float8) * cos(lat2 * 0.017453292519943295::float8)
         * sin((lon2 - lon1) * 0.017453292519943295::float8 / 2) * sin((lon2 - lon1) * 0.017453292519943295::float8 / 2))));

-- The share of a phone's disk (radius r) inside an area's disk (radius R)
-- whose centre is d away: lens(R, r, d) / (pi r^2), the textbook formula
-- (docs/AREA.md: expected_inside_s), compared with celltrace's to 0.05 s.
CREATE FUNCTION ct_lens(r1 float8, r2 float8, d float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN d >= r1 + r2 THEN 0::float8
            WHEN d <= abs(r1 - r2) THEN pi() * least(r1, r2) * least(r1, r2)
            ELSE r1 * r1 * acos(greatest(-1.0, least(1.0, (d * d + r1 * r1 - r2 * r2) / (2 * d * r1))))
               + r2 * r2 * acos(greatest(-1.0, least(1.0, (d * d + r2 * r2 - r1 * r1) / (2 * d * r2))))
               - 0.5 * sqrt(greatest(0.0, (-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2)))
       END;
CREATE FUNCTION ct_share(big_r float8, r float8, d float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN least(1.0, ct_lens(big_r, r, d) / (pi() * r * r));
