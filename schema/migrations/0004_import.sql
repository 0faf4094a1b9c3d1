-- Households loaded from a file by gs-admin household import (docs/IMPORT.md).
-- ext_id is the file's stable key (a door number); entity the household id the
-- first import made for it; fields the values the last import wrote, as a
-- canonical JSON object. A re-import sends a field only when the file's value
-- differs from this one, not from the entity's current value: so a phone's
-- later edit of a field the file did not change survives.
CREATE TABLE import_household (
  ext_id TEXT PRIMARY KEY,
  entity TEXT NOT NULL,
  grid   TEXT NOT NULL,
  fields TEXT NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX import_household_entity ON import_household(entity);
