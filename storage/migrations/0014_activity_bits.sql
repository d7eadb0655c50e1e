-- Activity panels whose cost grows with days, not with members: a bitmap of
-- the organization's active members per UTC day, kept beside activity_days
-- (which stays the record and the bench's baseline) in the same statement
-- that adds activity_days rows.

-- activity_members numbers densely, per organization, every user that has
-- activity_days rows in it: the bit of a member in the day bitmaps. A number
-- is given with the user's first activity day in the organization and never
-- taken back nor reused (rows are never deleted, like activity_days's, so a
-- removed member's past days keep counting, as they do in activity_days).
CREATE TABLE activity_members (
    org_id    bigint NOT NULL,
    member_no integer NOT NULL CHECK (member_no >= 0),
    user_id   bigint NOT NULL,
    PRIMARY KEY (org_id, member_no),
    UNIQUE (org_id, user_id)
);

-- activity_day_bits holds, per organization and UTC day with activity, the
-- set of its members active that day: bit member_no of bits (bit n is bit
-- n % 8, least significant first, of byte n / 8, as get_bit and set_bit
-- number them), and their count. bits is as long as the day's highest
-- member number needs; missing bytes are zero.
CREATE TABLE activity_day_bits (
    org_id bigint NOT NULL,
    day    date NOT NULL,
    users  integer NOT NULL,
    bits   bytea NOT NULL,
    PRIMARY KEY (org_id, day)
);

-- activity_span_bits holds the union of the day bitmaps of each week (span
-- 'w', start the Monday) and each month (span 'm', start the 1st) with
-- activity: a period's total reads its whole months and weeks from here and
-- only its odd days from activity_day_bits, the weekly series its whole
-- weeks.
CREATE TABLE activity_span_bits (
    org_id bigint NOT NULL,
    span   "char" NOT NULL CHECK (span IN ('w', 'm')),
    start  date NOT NULL,
    bits   bytea NOT NULL,
    PRIMARY KEY (org_id, span, start)
);

-- activity_month_counts holds, per organization and month with activity,
-- each member's active days in the month: byte member_no of days (missing
-- bytes are zero). The most active members of a period add up its whole
-- months from here and its odd days from the day bitmaps.
CREATE TABLE activity_month_counts (
    org_id bigint NOT NULL,
    month  date NOT NULL,
    days   bytea NOT NULL,
    PRIMARY KEY (org_id, month)
);

-- activity_bits_from returns the bitmap of the member numbers nos.
CREATE FUNCTION activity_bits_from(nos integer[]) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(decode(string_agg(lpad(to_hex(COALESCE(s.v, 0)), 2, '0'), '' ORDER BY i.i), 'hex'), '\x'::bytea)
    FROM generate_series(0, (SELECT max(x) FROM unnest(nos) x) / 8) AS i(i)
    LEFT JOIN (SELECT x / 8 AS i, bit_or(1 << (x % 8)) AS v FROM unnest(nos) x GROUP BY 1) s ON s.i = i.i
$$;

-- activity_bits_set returns b with the bits of the member numbers nos set,
-- lengthened as needed. Ingest adds few bits to a day at a time: one
-- set_bit each.
CREATE FUNCTION activity_bits_set(b bytea, nos integer[]) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    n    integer;
    need integer := (SELECT max(x) FROM unnest(nos) x) / 8 + 1;
BEGIN
    IF need > length(b) THEN
        b := b || decode(repeat('00', need - length(b)), 'hex');
    END IF;
    FOREACH n IN ARRAY nos LOOP
        b := set_bit(b, n, 1);
    END LOOP;
    RETURN b;
END
$$;

-- activity_counts_add returns the month counts b with one more day for
-- each member number in nos (a number twice: two days), lengthened as
-- needed.
CREATE FUNCTION activity_counts_add(b bytea, nos integer[]) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    n    integer;
    need integer := (SELECT max(x) FROM unnest(nos) x) + 1;
BEGIN
    IF need > length(b) THEN
        b := b || decode(repeat('00', need - length(b)), 'hex');
    END IF;
    FOREACH n IN ARRAY nos LOOP
        b := set_byte(b, n, get_byte(b, n) + 1);
    END LOOP;
    RETURN b;
END
$$;

-- activity_counts_from returns the month counts of the member numbers nos
-- with the active days ns.
CREATE FUNCTION activity_counts_from(nos integer[], ns integer[]) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(decode(string_agg(lpad(to_hex(COALESCE(s.n, 0)), 2, '0'), '' ORDER BY i.i), 'hex'), '\x'::bytea)
    FROM generate_series(0, (SELECT max(x) FROM unnest(nos) x)) AS i(i)
    LEFT JOIN unnest(nos, ns) AS s(no, n) ON s.no = i.i
$$;

-- activity_bits_rebuild numbers the organization's users that have
-- activity_days rows and no number yet, and rebuilds its day, week and
-- month bitmaps and its month counts from
-- activity_days: the backfill below, and the repair after activity_days was
-- written by hand (the bench's rollups are built with SQL).
CREATE FUNCTION activity_bits_rebuild(org bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO activity_members (org_id, member_no, user_id)
    SELECT org, (SELECT COALESCE(max(member_no) + 1, 0) FROM activity_members WHERE org_id = org)
            + row_number() OVER (ORDER BY f.first, f.user_id) - 1, f.user_id
    FROM (SELECT user_id, min(day) AS first FROM activity_days WHERE org_id = org GROUP BY user_id) f
    WHERE NOT EXISTS (SELECT FROM activity_members m WHERE m.org_id = org AND m.user_id = f.user_id);
    DELETE FROM activity_day_bits WHERE org_id = org;
    INSERT INTO activity_day_bits (org_id, day, users, bits)
    SELECT org, d.day, count(*), activity_bits_from(array_agg(m.member_no))
    FROM activity_days d JOIN activity_members m ON m.org_id = org AND m.user_id = d.user_id
    WHERE d.org_id = org GROUP BY d.day;
    DELETE FROM activity_span_bits WHERE org_id = org;
    INSERT INTO activity_span_bits (org_id, span, start, bits)
    SELECT org, s.span, s.start, activity_bits_from(array_agg(DISTINCT m.member_no))
    FROM activity_days d JOIN activity_members m ON m.org_id = org AND m.user_id = d.user_id
    CROSS JOIN LATERAL (VALUES ('w'::"char", date_trunc('week', d.day::timestamp)::date),
        ('m'::"char", date_trunc('month', d.day::timestamp)::date)) AS s(span, start)
    WHERE d.org_id = org GROUP BY s.span, s.start;
    DELETE FROM activity_month_counts WHERE org_id = org;
    INSERT INTO activity_month_counts (org_id, month, days)
    SELECT org, c.month, activity_counts_from(array_agg(c.member_no), array_agg(c.n))
    FROM (SELECT date_trunc('month', d.day::timestamp)::date AS month, m.member_no, count(*)::integer AS n
        FROM activity_days d JOIN activity_members m ON m.org_id = org AND m.user_id = d.user_id
        WHERE d.org_id = org GROUP BY 1, 2) c
    GROUP BY c.month;
$$;

SELECT activity_bits_rebuild(org_id) FROM (SELECT DISTINCT org_id FROM activity_days) o;
