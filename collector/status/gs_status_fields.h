/* gs_status_fields.h - the one table of the status document's numbers and
 * the one table of org levels (docs/PROTOCOL.md, "Status").
 *
 * Everything else is generated from these two X-macros: the numbers struct
 * (gs_status_numbers), the document writer and the org_stat reads and writes
 * (gs_status.c, gs_store_status.c), the gs-admin status table
 * (admin_status.c), the rollup's sums (broker-bridge/rollup/rollup.c) and the
 * dashboard's field and level lists (gs_status_table.c prints them as JSON
 * into the page's build output). Adding a counter that sums up the tree is one
 * row here, its computation in gs_status.c and, for a STAT row, its org_stat
 * column (a migration).
 *
 * The row order is the document's key order: documents are compared byte for
 * byte (tests, dashboards, the rollup's debounce), so rows are only appended.
 *
 * GS_STATUS_FIELDS(C, M):
 *   C(name, key, store, sums, head, width, dash)                a plain counter
 *   M(name, key, SUBS, prefix, store, sums, head, width, dash)  a map of sub-counters
 * name    member of gs_status_numbers (an array for M, indexed as SUBS lists)
 * key     JSON key in the status document
 * SUBS    an X-macro listing the sub-keys: SUBS(S, a) gives S(a, sub) each
 * prefix  org_stat column of sub-counter `sub` is prefix##sub
 * store   STAT: column `name` of org_stat (of prefix##sub for M), kept by
 *         deltas and refreshes; PERIOD: org_period.visited of the current
 *         period; DAY: org_day.visits of today
 * sums    1 when a parent's number is the sum of its children's (the rollup
 *         adds it up), 0 when it is not a count
 * head    gs-admin status column header, width its width
 * dash    the dashboard's data-testid of the number (its panel card and its
 *         column in the units table; a card and a column are added for a
 *         testid the page does not have yet); "" when the page shows it
 *         another way (the urgency map as a bar)
 */
#ifndef GS_STATUS_FIELDS_H
#define GS_STATUS_FIELDS_H

/* sub-key lists: SUBS(S, a) expands to S(a, sub) for each sub-key */
#define GS_STATUS_URGENCY(S, a) S(a, low) S(a, normal) S(a, high) S(a, critical)

#define GS_STATUS_FIELDS(C, M)                                                                                         \
  C(households, "households", STAT, 1, "HOUSEH.", 7, "households")                                                     \
  C(visited_period, "visited_period", PERIOD, 1, "VISITED", 7, "visited")                                              \
  C(visits_today, "visits_today", DAY, 1, "TODAY", 6, "visits-today")                                                  \
  C(reports_open, "reports_open", STAT, 1, "OPEN", 5, "reports-open")                                                  \
  M(by_urgency, "reports_by_urgency", GS_STATUS_URGENCY, r_, STAT, 1, "L/ N/ H/ C", 11, "")                            \
  C(reports_overdue, "reports_overdue", STAT, 1, "OVERDUE", 7, "reports-overdue")                                      \
  C(care_due, "care_due", STAT, 1, "CARE", 6, "care-due")                                                              \
  C(devices_active, "devices_active_24h", STAT, 1, "ACTIVE", 6, "devices-active")

/* Org levels, top down: X(name, label, children_label) - labels are the
 * dashboard's (Chinese) names of a unit of this level and of its children. */
#define GS_ORG_LEVELS(X)                                                                                               \
  X(city, "市", "下辖区县")                                                                                            \
  X(district, "区/县", "下辖街道")                                                                                     \
  X(street, "街道/乡镇", "下辖社区")                                                                                   \
  X(community, "社区", "下辖网格")                                                                                     \
  X(grid, "网格", "")

/* ---- helpers generated from the tables ---------------------------------- */

#define GS_STATUS_STR_(x) #x
#define GS_STATUS_STR(x)  GS_STATUS_STR_(x)
/* GS_STATUS_NSUBS(SUBS): the number of sub-keys of a map row, a constant. */
#define GS_STATUS_ONE_(a, s)  +1
#define GS_STATUS_NSUBS(SUBS) (0 SUBS(GS_STATUS_ONE_, _))
/* GS_STATUS_IF_<store>(...): its arguments for STAT rows, nothing otherwise. */
#define GS_STATUS_IF_STAT(...) __VA_ARGS__
#define GS_STATUS_IF_PERIOD(...)
#define GS_STATUS_IF_DAY(...)

/* The org_stat columns, in table order: GS_STAT_<name> for a counter,
 * GS_STAT_<prefix><sub> for a map's sub-counter; GS_STAT_NCOLS of them. */
#define GS_STAT_ENUM_C_(name, key, store, sums, head, width, dash) GS_STATUS_IF_##store(GS_STAT_##name, )
#define GS_STAT_ENUM_S_(prefix, sub)                               GS_STAT_##prefix##sub,
#define GS_STAT_ENUM_M_(name, key, SUBS, prefix, store, sums, head, width, dash)                                       \
  GS_STATUS_IF_##store(SUBS(GS_STAT_ENUM_S_, prefix))
enum { GS_STATUS_FIELDS(GS_STAT_ENUM_C_, GS_STAT_ENUM_M_) GS_STAT_NCOLS };

/* Org levels as an enum: GS_LEVEL_city = 0 ... GS_LEVEL_grid, then GS_LEVELS. */
#define GS_LEVEL_ENUM_(name, label, kids) GS_LEVEL_##name,
enum { GS_ORG_LEVELS(GS_LEVEL_ENUM_) GS_LEVELS };

#endif
