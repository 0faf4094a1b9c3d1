#!/usr/bin/env python3
"""mkbatch.py - writes a change batch (docs/PROTOCOL.md, "Sync over MQTT") of visits to stdout.

  mkbatch.py --batch B --prefix P --n N --seq S --grid G --household H [--pad BYTES]

Change ids are P-0001.. (the idempotency keys), seqs S, S+1, ..; every change
creates one visit entity P-v-0001.. in grid G for household H. --pad adds a
summary of that many bytes to each change (to make bodies large).
"""
import argparse, json, time

ap = argparse.ArgumentParser()
ap.add_argument("--batch", required=True)
ap.add_argument("--prefix", required=True)
ap.add_argument("--n", type=int, required=True)
ap.add_argument("--seq", type=int, required=True)
ap.add_argument("--grid", required=True)
ap.add_argument("--household", required=True)
ap.add_argument("--pad", type=int, default=0)
a = ap.parse_args()
now = int(time.time() * 1000)
changes = []
for i in range(a.n):
    fields = {"grid": a.grid, "household": a.household, "visited_at": now, "kind": "routine"}
    if a.pad:
        fields["summary"] = ("入户走访" * (a.pad // 12 + 1))[: max(1, a.pad // 3)]
    changes.append({"id": "%s-%04d" % (a.prefix, i + 1), "seq": a.seq + i, "type": "visit",
                    "entity": "%s-v-%04d" % (a.prefix, i + 1), "hlc": [now, i % 65536], "set": fields})
print(json.dumps({"v": 1, "batch": a.batch, "changes": changes}, ensure_ascii=False, separators=(",", ":")))
