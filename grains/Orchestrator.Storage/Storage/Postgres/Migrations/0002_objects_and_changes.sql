-- Objects and their change feed (IObjectStore). version is the object's resourceVersion, taken
-- from its kind's counter row in orch_kinds within the transaction that stores the object and
-- appends its change. The counter row stays locked until that transaction commits, so versions
-- of a kind are gapless and commit in order: a feed reader that sees v + 1 has everything up to it.
CREATE TABLE orch_objects (
    kind    text   NOT NULL,
    key     text   NOT NULL,
    version bigint NOT NULL,
    payload bytea  NOT NULL,
    PRIMARY KEY (kind, key)
);

CREATE TABLE orch_changes (
    kind    text     NOT NULL,
    version bigint   NOT NULL,
    type    smallint NOT NULL, -- 0 added, 1 modified, 2 deleted
    key     text     NOT NULL,
    payload bytea    NOT NULL,
    PRIMARY KEY (kind, version)
);

-- version: the kind's last committed change; compacted: changes up to here are gone.
CREATE TABLE orch_kinds (
    kind      text   NOT NULL PRIMARY KEY,
    version   bigint NOT NULL,
    compacted bigint NOT NULL
);

-- Stores (p_delete false) or removes (true) one object if its stored version is p_expected
-- (0: none may exist), appends the change and notifies every silo's feed follower. Returns the
-- new version, or -(stored version) - 1 when the stored version is not the expected one; in that
-- case nothing was written and no version was used. The counter row is taken last so that it is
-- held for as short a time as possible.
CREATE FUNCTION orch_write(p_kind text, p_key text, p_expected bigint, p_type smallint, p_payload bytea, p_delete boolean, p_retain bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    stored bigint;
    v bigint;
BEGIN
    IF p_expected = 0 THEN
        IF p_delete THEN
            RETURN -1;
        END IF;
        INSERT INTO orch_objects (kind, key, version, payload) VALUES (p_kind, p_key, 0, p_payload)
        ON CONFLICT (kind, key) DO NOTHING;
        IF NOT FOUND THEN
            SELECT version INTO stored FROM orch_objects WHERE kind = p_kind AND key = p_key;
            RETURN -coalesce(stored, 0) - 1;
        END IF;
    ELSE
        SELECT version INTO stored FROM orch_objects WHERE kind = p_kind AND key = p_key FOR UPDATE;
        IF stored IS NULL OR stored <> p_expected THEN
            RETURN -coalesce(stored, 0) - 1;
        END IF;
    END IF;

    INSERT INTO orch_kinds (kind, version, compacted) VALUES (p_kind, 1, 0)
    ON CONFLICT (kind) DO UPDATE SET version = orch_kinds.version + 1
    RETURNING version INTO v;

    IF p_delete THEN
        DELETE FROM orch_objects WHERE kind = p_kind AND key = p_key;
    ELSE
        UPDATE orch_objects SET version = v, payload = p_payload WHERE kind = p_kind AND key = p_key;
    END IF;
    INSERT INTO orch_changes (kind, version, type, key, payload) VALUES (p_kind, v, p_type, p_key, p_payload);

    -- Keep the last p_retain changes of the kind for watches to resume from.
    IF v % greatest(p_retain / 10, 1) = 0 AND v > p_retain THEN
        DELETE FROM orch_changes WHERE kind = p_kind AND version <= v - p_retain;
        UPDATE orch_kinds SET compacted = greatest(compacted, v - p_retain) WHERE kind = p_kind;
    END IF;

    PERFORM pg_notify('orch_changes', p_kind || ' ' || v);
    RETURN v;
END;
$$;
