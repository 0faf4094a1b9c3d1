-- Status tables keyed for locality (docs/ARCHITECTURE.md, "Status tables").
-- hh_period and hh_day were keyed by household first: a phone-made UUID, so
-- every visit wrote a random page of two tables that grow with the province.
-- Keyed by period and grid, or by day, a day's visits land on a few hot
-- pages. Care-due, which needed "visits of this household" by household,
-- now reads care_household.last_day: the latest day with a visit to that
-- care household, kept by the engine (NULL: none known in the care window).
ALTER TABLE care_household ADD COLUMN last_day TEXT;
UPDATE care_household SET last_day = (SELECT max(d.day) FROM hh_day d WHERE d.household = care_household.household);

CREATE TABLE hh_period_new (period TEXT NOT NULL, grid TEXT NOT NULL, household TEXT NOT NULL,
                            visits INTEGER NOT NULL, PRIMARY KEY (period, grid, household)) WITHOUT ROWID;
INSERT INTO hh_period_new(period, grid, household, visits) SELECT period, grid, household, visits FROM hh_period;
DROP TABLE hh_period;
ALTER TABLE hh_period_new RENAME TO hh_period;

CREATE TABLE hh_day_new (day TEXT NOT NULL, household TEXT NOT NULL, visits INTEGER NOT NULL,
                         PRIMARY KEY (day, household)) WITHOUT ROWID;
INSERT INTO hh_day_new(day, household, visits) SELECT day, household, visits FROM hh_day;
DROP TABLE hh_day;
ALTER TABLE hh_day_new RENAME TO hh_day;
