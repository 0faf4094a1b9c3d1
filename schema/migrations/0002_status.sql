-- Aggregates for status (docs/PROTOCOL.md, "Status"), maintained incrementally in the
-- same transaction as each batch; parents hold the sum of their children.
CREATE TABLE org_stat (
  org             TEXT PRIMARY KEY,
  households      INTEGER NOT NULL DEFAULT 0,
  reports_open    INTEGER NOT NULL DEFAULT 0,
  r_low           INTEGER NOT NULL DEFAULT 0,
  r_normal        INTEGER NOT NULL DEFAULT 0,
  r_high          INTEGER NOT NULL DEFAULT 0,
  r_critical      INTEGER NOT NULL DEFAULT 0,
  -- time-driven, refreshed on a timer
  reports_overdue INTEGER NOT NULL DEFAULT 0,
  care_due        INTEGER NOT NULL DEFAULT 0,
  devices_active  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- distinct households visited per org and period ('2026-11'), visits per day
CREATE TABLE org_period (org TEXT NOT NULL, period TEXT NOT NULL, visited INTEGER NOT NULL,
                         PRIMARY KEY (org, period)) WITHOUT ROWID;
CREATE TABLE org_day (org TEXT NOT NULL, day TEXT NOT NULL, visits INTEGER NOT NULL,
                      PRIMARY KEY (org, day)) WITHOUT ROWID;
-- visits per household, grid and period (to count distinct households visited;
-- a household visited from two grids counts in both)
CREATE TABLE hh_period (household TEXT NOT NULL, period TEXT NOT NULL, grid TEXT NOT NULL, visits INTEGER NOT NULL,
                        PRIMARY KEY (household, period, grid)) WITHOUT ROWID;
-- visits per household and day (the care-due window reads the latest day)
CREATE TABLE hh_day (household TEXT NOT NULL, day TEXT NOT NULL, visits INTEGER NOT NULL,
                     PRIMARY KEY (household, day)) WITHOUT ROWID;
-- special-care households (a care tag, not deleted)
CREATE TABLE care_household (household TEXT PRIMARY KEY, grid TEXT NOT NULL) WITHOUT ROWID;
-- open reports (status before resolved), for the overdue count
CREATE TABLE open_report (report TEXT PRIMARY KEY, grid TEXT NOT NULL, due_ms INTEGER) WITHOUT ROWID;
CREATE INDEX open_report_due ON open_report(due_ms);
CREATE INDEX device_seen ON device(last_seen_ms);
