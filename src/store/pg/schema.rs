//! The PostgreSQL schema, as embedded migrations applied in order by the
//! first daemon that starts (the others wait on the same lock and then find
//! the schema current). `ordersync_schema` records how many were applied.
//!
//! The tables and columns are SQLite's (`../schema.rs`, all its migrations
//! folded into one), in PostgreSQL's types: ids are identity columns, bodies
//! `bytea`. Times stay RFC 3339 text, fixed width with microseconds and `Z`,
//! as in SQLite, so both stores compare, sort and show them the same way.
//!
//! The store ships: never edit a migration, add another.

/// Each entry is one migration.
pub const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE rules_versions (
    version    TEXT PRIMARY KEY,
    files      TEXT NOT NULL,
    loaded_at  TEXT NOT NULL
);

CREATE TABLE orders (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at TEXT NOT NULL,
    name       TEXT,
    source     TEXT,
    search     TEXT NOT NULL DEFAULT '',
    updated_at TEXT
);

-- `id` keeps the order links were made in (the destination's id is its first).
CREATE TABLE links (
    id          BIGINT GENERATED ALWAYS AS IDENTITY,
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    order_id    BIGINT NOT NULL,
    newest_updated_at TEXT,
    PRIMARY KEY (channel, external_id)
);
CREATE INDEX links_by_order ON links (order_id, channel, id);

CREATE TABLE updates (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event       TEXT NOT NULL,
    occurred_at TEXT,
    received_at TEXT NOT NULL,
    order_id    BIGINT NOT NULL,
    external_id TEXT,
    status      TEXT NOT NULL,
    payload     BYTEA NOT NULL,
    via         TEXT NOT NULL DEFAULT 'webhook',
    pruned_at   TEXT,
    topic       TEXT,
    UNIQUE (channel, event_id)
);
CREATE INDEX updates_by_order ON updates (order_id);

CREATE TABLE known (
    order_id BIGINT NOT NULL,
    channel  TEXT NOT NULL,
    body     TEXT NOT NULL,
    PRIMARY KEY (order_id, channel)
);

CREATE TABLE decisions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    update_id     BIGINT NOT NULL,
    order_id      BIGINT NOT NULL,
    destination   TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    detail        TEXT NOT NULL,
    rules_version TEXT NOT NULL,
    body          TEXT,
    changes       TEXT NOT NULL,
    trace         TEXT NOT NULL,
    decided_at    TEXT NOT NULL,
    why           TEXT NOT NULL DEFAULT '',
    trigger       TEXT NOT NULL DEFAULT 'update',
    released_at   TEXT
);
CREATE INDEX decisions_by_update ON decisions (update_id);

CREATE TABLE deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    decision_id     BIGINT NOT NULL UNIQUE,
    order_id        BIGINT NOT NULL,
    destination     TEXT NOT NULL,
    source          TEXT NOT NULL,
    event           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    updated_at      TEXT NOT NULL,
    stuck_at        TEXT,
    sent_at         TEXT,
    rendered        TEXT
);
CREATE INDEX deliveries_pending ON deliveries (id) WHERE status = 'pending';
-- A lane's lowest pending delivery (`lanes.rs`), without a scan of all pending.
CREATE INDEX deliveries_lane ON deliveries (order_id, destination, id) WHERE status = 'pending';

CREATE TABLE attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id BIGINT NOT NULL,
    at          TEXT NOT NULL,
    external_id TEXT,
    http_status INTEGER,
    error       TEXT,
    response    BYTEA,
    duration_ms DOUBLE PRECISION NOT NULL,
    step        TEXT,
    request     TEXT
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id);

CREATE TABLE quarantine (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    reason      TEXT NOT NULL,
    headers     TEXT NOT NULL,
    body        BYTEA NOT NULL
);

CREATE TABLE poll_cursors (
    channel         TEXT PRIMARY KEY,
    cursor          TEXT,
    last_run_at     TEXT,
    last_success_at TEXT
);

-- Order Health: no counts table kept by triggers (every writer of every
-- daemon would queue on its few rows); the counts are read from this index.
CREATE TABLE health (
    order_id    BIGINT NOT NULL,
    destination TEXT NOT NULL,
    source      TEXT NOT NULL,
    status      TEXT NOT NULL,
    decision_id BIGINT NOT NULL,
    delivery_id BIGINT,
    detail      TEXT NOT NULL,
    resolution  TEXT,
    ignored     TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (order_id, destination)
);
CREATE INDEX health_by_status ON health (status, updated_at);
CREATE INDEX health_counts ON health (destination, status, resolution);

-- Deliveries' lanes (`lanes.rs`): one row per (order, destination) with
-- pending deliveries, claimed by one daemon at a time. `token` goes up on
-- every claim; only the holder of the newest may record an outcome. Leases and
-- due times are the server's clock.
CREATE TABLE lanes (
    order_id    BIGINT NOT NULL,
    destination TEXT NOT NULL,
    owner       TEXT,
    token       BIGINT NOT NULL DEFAULT 0,
    lease_until TIMESTAMPTZ,
    due_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, destination)
);
CREATE INDEX lanes_due ON lanes (due_at);

-- Singleton jobs' leases (`ops.rs`): `poll:<channel>`, `housekeeping`.
CREATE TABLE job_leases (
    job         TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    token       BIGINT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL
);

-- The roll call (`ops.rs`): each daemon, the rules version it runs, and when
-- it was last seen renewing its leases.
CREATE TABLE daemons (
    owner         TEXT PRIMARY KEY,
    rules_version TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    seen_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE credentials (
    channel       TEXT PRIMARY KEY,
    refresh_token TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE labels (
    delivery_id  BIGINT PRIMARY KEY,
    format       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    filename     TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    kept_at      TEXT NOT NULL
);
"#];
