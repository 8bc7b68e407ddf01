-- The catalogue: courses mirrored from the LMS and external content added in the LXP.
CREATE TABLE catalog_items (
    id                UUID PRIMARY KEY,
    source            TEXT NOT NULL,
    kind              TEXT NOT NULL,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL,
    url               TEXT NOT NULL UNIQUE,
    skills            JSONB NOT NULL,
    published_at      TIMESTAMPTZ NOT NULL,
    -- published_at in microseconds since the epoch: an exact sort key on both backends
    -- (SQLite compares timestamps as text).
    published_micros  BIGINT NOT NULL,
    added_by          UUID
);
CREATE INDEX catalog_items_newest ON catalog_items (published_micros DESC, id DESC);

-- One row per skill of an item, for filtering by skill without JSON operators.
CREATE TABLE catalog_skills (
    item_id  UUID NOT NULL REFERENCES catalog_items (id) ON DELETE CASCADE,
    skill    TEXT NOT NULL,
    PRIMARY KEY (item_id, skill)
);
CREATE INDEX catalog_skills_by_skill ON catalog_skills (skill, item_id);

-- What people did with content, one row per xAPI statement. No foreign key to the catalogue:
-- a statement may arrive before the item it is about.
CREATE TABLE interactions (
    statement_id  UUID PRIMARY KEY,
    person_id     UUID NOT NULL,
    -- The catalogue item; NULL while the activity matches no known item.
    item_id       UUID,
    activity_id   TEXT NOT NULL,
    -- completed | registered | activity
    kind          TEXT NOT NULL,
    occurred_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX interactions_by_person ON interactions (person_id, item_id);
CREATE INDEX interactions_by_item ON interactions (item_id, kind, person_id);
CREATE INDEX interactions_unresolved ON interactions (activity_id) WHERE item_id IS NULL;
