-- gridsync store, version 1. Applied in one transaction by gs_store.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('rev', 0), ('hlc_ms', 0), ('hlc_c', 0);

-- The five-level org tree: city > district > street > community > grid.
CREATE TABLE org (
  id     TEXT PRIMARY KEY,
  parent TEXT REFERENCES org(id),
  level  TEXT NOT NULL CHECK (level IN ('city', 'district', 'street', 'community', 'grid')),
  name   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX org_parent ON org(parent);

CREATE TABLE device (
  id         TEXT PRIMARY KEY,
  worker     TEXT,
  enabled    INTEGER NOT NULL DEFAULT 1,
  created_ms INTEGER NOT NULL,
  acked_seq  INTEGER NOT NULL DEFAULT 0,   -- every seq <= this is recorded
  last_seen_ms INTEGER
) WITHOUT ROWID;

-- Grids a device may write (and pull).
CREATE TABLE device_grid (
  device TEXT NOT NULL REFERENCES device(id) ON DELETE CASCADE,
  grid   TEXT NOT NULL REFERENCES org(id),
  PRIMARY KEY (device, grid)
) WITHOUT ROWID;

-- Seqs recorded above a device's watermark (out-of-order arrivals).
CREATE TABLE device_seq (
  device TEXT NOT NULL,
  seq    INTEGER NOT NULL,
  PRIMARY KEY (device, seq)
) WITHOUT ROWID;

-- Every change ever accounted for: the audit trail and the idempotency keys.
-- status 0 = applied, otherwise the gs_err code it was rejected with.
CREATE TABLE change (
  id          TEXT NOT NULL,
  device      TEXT NOT NULL,
  seq         INTEGER,
  type        TEXT,
  entity      TEXT,
  hlc_ms      INTEGER,
  hlc_c       INTEGER,
  clamped     INTEGER NOT NULL DEFAULT 0,
  digest      BLOB NOT NULL,
  status      INTEGER NOT NULL,
  detail      TEXT,
  received_ms INTEGER NOT NULL,
  body        TEXT NOT NULL
);
CREATE UNIQUE INDEX change_id ON change(id);

-- Current state: one row per entity. fields and ver are the JSON objects of
-- the wire format; hist keeps, per field, every accepted write as one string
-- "ms:counter:device:base_ms:base_counter:base_device:change_id:value_hash"
-- (base_device empty when the writer had no version), which is what
-- conflict detection reads.
CREATE TABLE entity (
  type   TEXT NOT NULL,
  id     TEXT NOT NULL,
  grid   TEXT NOT NULL,
  rev    INTEGER NOT NULL,
  fields TEXT NOT NULL,
  ver    TEXT NOT NULL,
  hist   TEXT NOT NULL
);
CREATE UNIQUE INDEX entity_key ON entity(type, id);
CREATE INDEX entity_grid_rev ON entity(grid, rev);

-- Concurrent writes of one field from two devices, neither having seen the other.
-- a_change < b_change bytewise, so the set is the same whatever the arrival order.
CREATE TABLE conflict (
  type      TEXT NOT NULL,
  entity    TEXT NOT NULL,
  field     TEXT NOT NULL,
  a_change  TEXT NOT NULL,
  a_device  TEXT NOT NULL,
  a_ver     TEXT NOT NULL,
  a_value   TEXT,
  b_change  TEXT NOT NULL,
  b_device  TEXT NOT NULL,
  b_ver     TEXT NOT NULL,
  b_value   TEXT,
  winner    TEXT NOT NULL,
  logged_ms INTEGER NOT NULL,
  reviewed  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (a_change, b_change, field)
) WITHOUT ROWID;

-- Clock skew log: changes whose hlc was clamped.
CREATE TABLE skew_log (
  change    TEXT NOT NULL,
  device    TEXT NOT NULL,
  hlc_ms    INTEGER NOT NULL,
  server_ms INTEGER NOT NULL,
  logged_ms INTEGER NOT NULL
);
