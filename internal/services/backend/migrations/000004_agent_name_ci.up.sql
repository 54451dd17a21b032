-- Agent names are unique ignoring case: "Aria - Content Strategy" and "ARIA - CONTENT STRATEGY"
-- would be the same agent to a customer. The fold is lower() under ICU's root locale where the
-- server has ICU, so that non-ASCII letters fold the same on every database locale; a server
-- built without ICU folds with the database's own locale (ASCII only under locale C).
--
-- A database made by an earlier version may already hold names that differ only in case. The
-- oldest agent of each such group keeps its name; the others get " #" and the first 8 characters
-- of their id appended (cut to fit the 100-character limit), so the upgrade never fails on them
-- and no agent is lost.
DO $$
DECLARE
    fold text := 'lower(name)';
BEGIN
    IF EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN
        fold := 'lower(name COLLATE "und-x-icu")';
    END IF;
    EXECUTE format($f$
        WITH ranked AS (
            SELECT id, row_number() OVER (PARTITION BY %1$s ORDER BY created_at, id) AS n FROM agents)
        UPDATE agents a SET name = left(a.name, 90) || ' #' || left(a.id::text, 8), updated_at = now()
        FROM ranked r WHERE r.id = a.id AND r.n > 1$f$, fold);
    EXECUTE format('CREATE UNIQUE INDEX agents_name_folded_key ON agents ((%s))', fold);
END
$$;

-- The folded index implies exact uniqueness; one index to maintain is enough.
ALTER TABLE agents DROP CONSTRAINT agents_name_key;
