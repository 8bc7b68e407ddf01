-- xAPI statements. `body` is the statement exactly as the LRS returns it (with `stored`,
-- `authority`, `version` set), kept as text so it goes back to clients byte for byte; every
-- query filter reads an indexed column instead of the JSON.
--
-- `seq` is the stored order (AUTOINCREMENT: never reused). SQLite has one writer at a time,
-- so sequence order is commit order.
CREATE TABLE statements (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  BLOB NOT NULL UNIQUE,
    body                TEXT NOT NULL,
    -- SHA-256 of the statement's comparable form: same id + same digest = the same statement.
    content_sha256      BLOB NOT NULL,
    -- The actor's person id when the actor is a platform account.
    person_id           BLOB,
    verb_id             TEXT NOT NULL,
    object_activity_id  TEXT,
    -- Target of a StatementRef object (voiding and other references).
    object_statement_id BLOB,
    registration        BLOB,
    authority_key       TEXT,
    -- Milliseconds since the Unix epoch: exact comparisons on both backends.
    timestamp_ms        INTEGER NOT NULL,
    stored_ms           INTEGER NOT NULL,
    version             TEXT NOT NULL,
    voided              BOOLEAN NOT NULL DEFAULT FALSE,
    -- Whether the statement voids another (its verb is http://adlnet.gov/expapi/verbs/voided).
    voiding             BOOLEAN NOT NULL DEFAULT FALSE
);
-- Only what a query reads is indexed: every index costs each insert. The agent and
-- related-activity filters read the mention tables below, the summary and learners' own
-- statements read `person_id`.
CREATE INDEX statements_by_person_time ON statements (person_id, timestamp_ms) WHERE person_id IS NOT NULL;
CREATE INDEX statements_by_verb ON statements (verb_id, seq);
CREATE INDEX statements_by_activity ON statements (object_activity_id, seq);
CREATE INDEX statements_by_registration ON statements (registration, seq);
CREATE INDEX statements_by_stored ON statements (stored_ms);
-- Voiding statements by target: a statement that arrives after its voiding statement.
CREATE INDEX statements_voiding ON statements (object_statement_id) WHERE voiding = TRUE;

-- The tables below hold rows derived from `statements`, written in the transaction that
-- stores the statement; statements are never deleted, so they carry no foreign keys (a
-- foreign-key check per mention row would cost more than the row).

-- Every identified agent a statement mentions (actor, object, members of either, authority,
-- instructor, team, context agents and groups, inside a SubStatement), once per statement.
-- `direct`: as the actor or object, or a member of the group that is (the plain `agent`
-- filter); every row matches `related_agents=true`. Queries walk these indexes in `seq`
-- order and stop after a page.
CREATE TABLE statement_agents (
    agent_key      TEXT NOT NULL,
    statement_seq  INTEGER NOT NULL,
    direct         BOOLEAN NOT NULL,
    PRIMARY KEY (agent_key, statement_seq)
) WITHOUT ROWID;
CREATE INDEX statement_agents_direct ON statement_agents (agent_key, statement_seq) WHERE direct;

-- Every activity a statement mentions (object, context activities, inside a SubStatement),
-- once per statement: the `activity` filter with related_activities (the plain filter reads
-- `statements.object_activity_id`).
CREATE TABLE statement_activities (
    activity_id    TEXT NOT NULL,
    statement_seq  INTEGER NOT NULL,
    PRIMARY KEY (activity_id, statement_seq)
) WITHOUT ROWID;

-- The statements a StatementRef statement targets, directly or through a chain of
-- StatementRefs: a query's filters also match a statement whose target matches them.
-- Kept transitively closed as statements arrive in any order.
CREATE TABLE statement_targets (
    statement_seq  INTEGER NOT NULL,
    target_id      BLOB NOT NULL,
    PRIMARY KEY (statement_seq, target_id)
) WITHOUT ROWID;
CREATE INDEX statement_targets_by_target ON statement_targets (target_id);

-- What the stored targets of a StatementRef statement say, keyed like the filters, so the
-- "statements that target a match" branch of a query is an ordered index scan too. `kind`:
-- 1 agent as actor, object or member; 2 any agent; 3 object activity; 4 any activity;
-- 5 verb; 6 registration (lower-case UUID text). Filled when the referring statement or a
-- target arrives, whichever is last.
CREATE TABLE statement_ref_keys (
    kind           SMALLINT NOT NULL,
    key            TEXT NOT NULL,
    statement_seq  INTEGER NOT NULL,
    PRIMARY KEY (kind, key, statement_seq)
) WITHOUT ROWID;

-- Attachment content, by SHA-2 digest (hex, lower case): several statements may share one.
CREATE TABLE attachments (
    sha2           TEXT PRIMARY KEY,
    content_type   TEXT NOT NULL,
    content        BLOB NOT NULL,
    stored_ms      INTEGER NOT NULL
);

-- Canonical activity definitions, merged from every statement that defined the activity.
CREATE TABLE activities (
    activity_id    TEXT PRIMARY KEY,
    definition     TEXT NOT NULL,
    updated_ms     INTEGER NOT NULL
);

-- State, activity profile and agent profile documents, stored byte for byte. Unused key
-- parts are '' (a state without registration has registration '').
CREATE TABLE documents (
    kind           TEXT NOT NULL,
    activity_id    TEXT NOT NULL,
    agent_key      TEXT NOT NULL,
    registration   TEXT NOT NULL,
    document_id    TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    content        BLOB NOT NULL,
    -- Quoted strong entity tag (SHA-256 of the content).
    etag           TEXT NOT NULL,
    updated_ms     INTEGER NOT NULL,
    PRIMARY KEY (kind, activity_id, agent_key, registration, document_id)
);

-- xAPI clients (HTTP Basic). Secrets are random and long, so a SHA-256 digest compared in
-- constant time is enough and keeps per-request checks cheap.
CREATE TABLE xapi_clients (
    client_key     TEXT PRIMARY KEY,
    secret_sha256  BLOB NOT NULL,
    -- Space-separated xAPI scopes: statements/write, statements/read, statements/read/mine,
    -- state, define, profile, all/read, all.
    scopes         TEXT NOT NULL,
    -- The Agent (JSON) written as `authority` of what this client stores.
    authority      TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
