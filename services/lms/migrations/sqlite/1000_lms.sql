CREATE TABLE people (
    id          BLOB PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    department  TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX people_by_name ON people (name, id);
CREATE INDEX people_by_department ON people (department, name, id);

CREATE TABLE accounts (
    person_id     BLOB PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE courses (
    id            BLOB PRIMARY KEY,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL,
    skills        TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_by    BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    published_at  TEXT
);
CREATE INDEX courses_by_title ON courses (title, id);

CREATE TABLE modules (
    id         BLOB PRIMARY KEY,
    course_id  BLOB NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    title      TEXT NOT NULL
);
CREATE INDEX modules_by_course ON modules (course_id, position);

CREATE TABLE items (
    id         BLOB PRIMARY KEY,
    module_id  BLOB NOT NULL REFERENCES modules (id) ON DELETE CASCADE,
    course_id  BLOB NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    title      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    url        TEXT NOT NULL,
    required   INTEGER NOT NULL
);
CREATE INDEX items_by_course ON items (course_id);
CREATE INDEX items_by_module ON items (module_id, position);

CREATE TABLE enrollments (
    id            BLOB PRIMARY KEY,
    course_id     BLOB NOT NULL REFERENCES courses (id),
    person_id     BLOB NOT NULL REFERENCES people (id),
    status        TEXT NOT NULL,
    enrolled_at   TEXT NOT NULL,
    completed_at  TEXT,
    UNIQUE (person_id, course_id)
);
CREATE INDEX enrollments_by_course ON enrollments (course_id);

CREATE TABLE item_completions (
    enrollment_id  BLOB NOT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
    item_id        BLOB NOT NULL REFERENCES items (id),
    completed_at   TEXT NOT NULL,
    PRIMARY KEY (enrollment_id, item_id)
);
