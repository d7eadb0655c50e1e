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

-- activity_bits_rebuild numbers the organization's users that have
-- activity_days rows and no number yet, and rebuilds its day bitmaps from
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
$$;

SELECT activity_bits_rebuild(org_id) FROM (SELECT DISTINCT org_id FROM activity_days) o;
