//! The database schema, as embedded migrations applied in order at open.
//! `PRAGMA user_version` records how many have been applied; each runs in its
//! own transaction, so a crash mid-migration leaves the previous version.

/// Each entry is one migration; never edit one that has shipped, add another.
pub const MIGRATIONS: &[&str] = &[
    r#"
-- Every version of the rules that decided something, with its text (SPEC 6.4).
CREATE TABLE rules_versions (
    version    TEXT PRIMARY KEY,
    files      TEXT NOT NULL,            -- JSON: [{"name", "text"}]
    loaded_at  TEXT NOT NULL
) WITHOUT ROWID;

-- ordersync's own orders; the id is shown as `ord_<id>`.
CREATE TABLE orders (
    id         INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL
);

-- (channel, external id) -> order, and the newest `updated_at` seen from that
-- channel for it (older updates are stale).
CREATE TABLE links (
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    order_id    INTEGER NOT NULL,
    newest_updated_at TEXT,
    PRIMARY KEY (channel, external_id)
);
CREATE INDEX links_by_order ON links (order_id, channel);

-- Every update received, with its raw body. status: decided | ignored | stale.
CREATE TABLE updates (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event       TEXT NOT NULL,
    occurred_at TEXT,
    received_at TEXT NOT NULL,
    order_id    INTEGER NOT NULL,
    external_id TEXT,
    status      TEXT NOT NULL,
    payload     BLOB NOT NULL,
    UNIQUE (channel, event_id)
);
CREATE INDEX updates_by_order ON updates (order_id);

-- What each channel has of an order: what it last sent us, or what we last
-- decided to deliver to it. Echo suppression compares against this.
CREATE TABLE known (
    order_id INTEGER NOT NULL,
    channel  TEXT NOT NULL,
    body     TEXT NOT NULL,
    PRIMARY KEY (order_id, channel)
) WITHOUT ROWID;

-- One per update and destination. outcome: deliver | skip | draft | error.
CREATE TABLE decisions (
    id            INTEGER PRIMARY KEY,
    update_id     INTEGER NOT NULL,
    order_id      INTEGER NOT NULL,
    destination   TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    detail        TEXT NOT NULL,         -- "skip: publish is false", "draft: missing invoice_number"
    rules_version TEXT NOT NULL,
    body          TEXT,                  -- the order as decided (deliver, draft)
    changes       TEXT NOT NULL,         -- JSON
    trace         TEXT NOT NULL,         -- JSON
    decided_at    TEXT NOT NULL
);
CREATE INDEX decisions_by_update ON decisions (update_id);

-- The hand-over of one `deliver` decision. status: pending | delivered | rejected | dead.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    decision_id     INTEGER NOT NULL UNIQUE,
    order_id        INTEGER NOT NULL,
    destination     TEXT NOT NULL,
    source          TEXT NOT NULL,
    event           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    updated_at      TEXT NOT NULL
);
CREATE INDEX deliveries_pending ON deliveries (id) WHERE status = 'pending';

-- Each request made for a delivery and what came back.
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL,
    at          TEXT NOT NULL,
    external_id TEXT,
    http_status INTEGER,
    error       TEXT,
    response    BLOB,
    duration_ms REAL NOT NULL
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id);

-- Webhook bodies that could not be read, kept for Order Health (SPEC 6.1).
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    reason      TEXT NOT NULL,
    headers     TEXT NOT NULL,           -- JSON object
    body        BLOB NOT NULL
);
"#,
    r#"
-- Polling (SPEC 6.2): per channel, the largest `updated_at` seen (the cursor)
-- and when runs last started and last succeeded.
CREATE TABLE poll_cursors (
    channel         TEXT PRIMARY KEY,
    cursor          TEXT,
    last_run_at     TEXT,
    last_success_at TEXT
) WITHOUT ROWID;

-- How an update came in: webhook | poll.
ALTER TABLE updates ADD COLUMN via TEXT NOT NULL DEFAULT 'webhook';
-- Set by housekeeping when the payload was dropped after the retention period.
ALTER TABLE updates ADD COLUMN pruned_at TEXT;
-- Set by housekeeping on a pending delivery with no progress for `--stuck-after`.
ALTER TABLE deliveries ADD COLUMN stuck_at TEXT;
"#,
    r#"
-- Order Health (SPEC 6.5): per order and destination, where the newest
-- decision stands. status: pending | stuck | delivered | skipped | draft |
-- error | rejected | dead. resolution: NULL (open) | resolved | ignored.
CREATE TABLE health (
    order_id    INTEGER NOT NULL,
    destination TEXT NOT NULL,
    source      TEXT NOT NULL,
    status      TEXT NOT NULL,
    decision_id INTEGER NOT NULL,
    delivery_id INTEGER,
    detail      TEXT NOT NULL,
    resolution  TEXT,
    ignored     TEXT,                    -- the status an operator ignored: it does not reopen
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (order_id, destination)
) WITHOUT ROWID;
CREATE INDEX health_by_status ON health (status, updated_at);

-- The rows of `health` per destination, status and resolution ('' when open),
-- kept by triggers, so the dashboard's counts cost a few rows, not a scan.
CREATE TABLE health_counts (
    destination TEXT NOT NULL,
    status      TEXT NOT NULL,
    resolution  TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (destination, status, resolution)
) WITHOUT ROWID;
-- A draft replaced by a later decision for its order and destination is released.
CREATE TRIGGER health_release AFTER UPDATE OF decision_id ON health
    WHEN old.status = 'draft' AND new.status != 'draft'
BEGIN
    UPDATE decisions SET released_at = new.updated_at WHERE id = old.decision_id;
END;
CREATE TRIGGER health_counts_insert AFTER INSERT ON health BEGIN
    INSERT INTO health_counts VALUES (new.destination, new.status, coalesce(new.resolution, ''), 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER health_counts_update AFTER UPDATE OF status, resolution ON health
    WHEN old.status IS NOT new.status OR old.resolution IS NOT new.resolution
BEGIN
    UPDATE health_counts SET n = n - 1
        WHERE destination = old.destination AND status = old.status
          AND resolution = coalesce(old.resolution, '');
    INSERT INTO health_counts VALUES (new.destination, new.status, coalesce(new.resolution, ''), 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- What the dashboard shows and searches: the order's name, the channel that
-- first sent it, and a lower-case text of its names, ids and customer email.
ALTER TABLE orders ADD COLUMN name TEXT;
ALTER TABLE orders ADD COLUMN source TEXT;
ALTER TABLE orders ADD COLUMN search TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN updated_at TEXT;

-- A Shopify webhook's topic, so its payload can be read again (re-sync, diff).
ALTER TABLE updates ADD COLUMN topic TEXT;

-- Why, in words, computed when decided; what made the decision (update,
-- resync, draft); for drafts, when they were released.
ALTER TABLE decisions ADD COLUMN why TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN trigger TEXT NOT NULL DEFAULT 'update';
ALTER TABLE decisions ADD COLUMN released_at TEXT;
"#,
    r#"
-- Connectors (SPEC 12): a delivery may take several requests (a lookup, then a
-- mutation). Each is an attempts row naming its step, with the request as sent
-- (secrets masked) as JSON {"method", "url", "headers", "body"}.
ALTER TABLE attempts ADD COLUMN step TEXT;
ALTER TABLE attempts ADD COLUMN request TEXT;
-- Set before a request whose outcome may be unknown is sent (Shopify's
-- orderCreate takes no idempotency key): a later attempt first looks for what
-- that request may have made, so an order is never created twice.
ALTER TABLE deliveries ADD COLUMN sent_at TEXT;
"#,
    r#"
-- OAuth refresh tokens of connector channels (SPEC 12.2), newest only. Etsy
-- rotates its refresh token on every use, so the new one is written here, and
-- committed, before the access token it came with is used; `ordersync
-- connector set-token` writes here too. Once a channel has a row, it wins
-- over the rules file's `refresh_token` (the seed).
CREATE TABLE credentials (
    channel       TEXT PRIMARY KEY,
    refresh_token TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
"#,
    r#"
-- Request templates (SPEC 12.2, `kind: http`): the request rendered at the
-- first attempt, JSON {"method", "url", "headers", "body"}, sent unchanged on
-- every later attempt, also after a restart or a rules change. Secrets are not
-- in it: `${NAME}` markers stand where they go, filled in only when sent.
ALTER TABLE deliveries ADD COLUMN rendered TEXT;
"#,
    r#"
-- Shipping labels (SPEC 13): the label a delivery sends, after fetching and
-- conversion, kept before the first attempt so every retry sends these same
-- bytes and an operator can open what was sent.
CREATE TABLE labels (
    delivery_id  INTEGER PRIMARY KEY,
    format       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    filename     TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    kept_at      TEXT NOT NULL
);
"#,
];
