#!/usr/bin/env python3
"""Status documents (docs/PROTOCOL.md, "Status") for a small made-up org tree, as gs-collector publishes them.

Only for dashboard_test.sh's extra modes (GS_BROWSER_STACK=fake|own); the default runs
the real collector.

Usage: status_tree.py OUTDIR
Writes OUTDIR/initial.jsonl (every unit) and OUTDIR/update.jsonl (grid g-0307 after
more visits, plus its ancestors), one JSON document a line. Parents are the sums of
their children, as the collector computes them.
"""
import copy
import datetime
import json
import os
import sys

# org, parent, level, name
TREE = [
    ("ct-01", None, "city", "临江市"),
    ("d-01", "ct-01", "district", "东湖区"),
    ("d-02", "ct-01", "district", "西山区"),
    ("s-0101", "d-01", "street", "滨江街道"),
    ("s-0201", "d-02", "street", "青石街道"),
    ("c-12", "s-0101", "community", "月桂社区"),
    ("c-13", "s-0101", "community", "枫林社区"),
    ("c-21", "s-0201", "community", "石桥社区"),
    ("g-0307", "c-12", "grid", "月桂第三网格"),
    ("g-0308", "c-12", "grid", "月桂第四网格"),
    ("g-1301", "c-13", "grid", "枫林第一网格"),
    ("g-2101", "c-21", "grid", "石桥第一网格"),
]

# households, visited_period, visits_today, by_urgency(low, normal, high, critical), overdue, care_due, devices
GRIDS = {
    "g-0307": (487, 412, 37, (1, 3, 1, 0), 1, 3, 4),
    "g-0308": (356, 201, 12, (0, 2, 0, 1), 2, 5, 3),
    "g-1301": (412, 388, 25, (2, 1, 0, 0), 0, 1, 5),
    "g-2101": (455, 150, 8, (1, 4, 2, 1), 3, 7, 2),
}

COUNTS = ["households", "visited_period", "visits_today", "reports_open",
          "reports_overdue", "care_due", "devices_active_24h"]
URG = ["low", "normal", "high", "critical"]


def grid_doc(org, values):
    h, vp, vt, urg, od, cd, dev = values
    by = dict(zip(URG, urg))
    return {"households": h, "visited_period": vp, "visits_today": vt,
            "reports_open": sum(urg), "reports_by_urgency": by,
            "reports_overdue": od, "care_due": cd, "devices_active_24h": dev}


def build(grids, as_of):
    docs = {}
    for org, parent, level, name in TREE:
        docs[org] = {"v": 1, "org": org, "parent": parent, "level": level, "name": name,
                     "as_of": as_of, "period": as_of[:7]}
        if level == "grid":
            docs[org].update(grid_doc(org, grids[org]))
        else:
            docs[org].update({k: 0 for k in COUNTS})
            docs[org]["reports_by_urgency"] = {k: 0 for k in URG}
    # sum grids upward
    for org, parent, level, _ in TREE:
        if level != "grid":
            continue
        p = parent
        while p:
            for k in COUNTS:
                docs[p][k] += docs[org][k]
            for k in URG:
                docs[p]["reports_by_urgency"][k] += docs[org]["reports_by_urgency"][k]
            p = docs[p]["parent"]
    for d in docs.values():
        if d["parent"] is None:
            del d["parent"]
    return docs


def ancestors(org):
    parents = {o: p for o, p, _, _ in TREE}
    out = [org]
    while parents[out[-1]]:
        out.append(parents[out[-1]])
    return out


def main():
    outdir = sys.argv[1]
    tz = datetime.timezone(datetime.timedelta(hours=8))
    now = datetime.datetime.now(tz).replace(microsecond=0)
    t0 = (now - datetime.timedelta(minutes=1)).isoformat()
    t1 = now.isoformat()
    initial = build(GRIDS, t0)
    grids2 = copy.deepcopy(GRIDS)
    h, vp, vt, urg, od, cd, dev = grids2["g-0307"]
    # six more visits, one report closed (a high one), one more device active
    grids2["g-0307"] = (h, vp + 6, vt + 6, (urg[0], urg[1], urg[2] - 1, urg[3]), od, cd - 1, dev + 1)
    updated = build(grids2, t1)
    with open(os.path.join(outdir, "initial.jsonl"), "w", encoding="utf-8") as f:
        for org, *_ in TREE:
            f.write(json.dumps(initial[org], ensure_ascii=False) + "\n")
    with open(os.path.join(outdir, "update.jsonl"), "w", encoding="utf-8") as f:
        for org in ancestors("g-0307"):
            f.write(json.dumps(updated[org], ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
