#!/usr/bin/env python3
"""udp_relay.py - a lossy UDP relay between DTLS clients and the collector.

  udp_relay.py --listen PORT --target PORT --stats FILE [--drop P] [--dup P] [--seed N]
               [--drop-first-responses N]

Every CoAP datagram (DTLS application data, content type 23) in either
direction is dropped with probability --drop, handshake datagrams with
--drop-handshake (default 0.02: OpenSSL's handshake timers start at 1 s and
double, so heavy handshake loss only makes the test slow); every datagram not
dropped is sent twice with probability --dup. --drop-first-responses N also
drops the first N server->client datagrams carrying CoAP data after the
handshake of each client (datagrams of DTLS content type 23) so that the
client must retransmit a request whose response was lost. Each client address
gets its own upstream socket (as separate phones would). Counters are written
to --stats after every datagram. Standard library only.
"""
import argparse, random, select, socket, sys

ap = argparse.ArgumentParser()
ap.add_argument("--listen", type=int, required=True)
ap.add_argument("--target", type=int, required=True)
ap.add_argument("--stats", required=True)
ap.add_argument("--drop", type=float, default=0.0)
ap.add_argument("--dup", type=float, default=0.0)
ap.add_argument("--drop-handshake", type=float, default=0.02)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--drop-first-responses", type=int, default=0)
a = ap.parse_args()
rnd = random.Random(a.seed)
front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
front.bind(("127.0.0.1", a.listen))
target = ("127.0.0.1", a.target)
up = {}      # client addr -> upstream socket
back = {}    # upstream socket fileno -> (socket, client addr)
resp_dropped = {}
st = {"c2s": 0, "s2c": 0, "dropped": 0, "duplicated": 0, "forced_drops": 0}

def save():
    with open(a.stats, "w") as f:
        f.write(" ".join("%s=%d" % kv for kv in sorted(st.items())) + "\n")

def send(sock, data, addr):
    if rnd.random() < (a.drop if data[:1] == b"\x17" else a.drop_handshake):
        st["dropped"] += 1
        return
    sock.sendto(data, addr)
    if rnd.random() < a.dup:
        sock.sendto(data, addr)
        st["duplicated"] += 1

save()
print("ready", flush=True)
while True:
    socks = [front] + [s for s, _ in back.values()]
    r, _, _ = select.select(socks, [], [], 1.0)
    for s in r:
        data, addr = s.recvfrom(65535)
        if s is front:
            st["c2s"] += 1
            u = up.get(addr)
            if u is None:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.bind(("127.0.0.1", 0))
                up[addr] = u
                back[u.fileno()] = (u, addr)
                resp_dropped[addr] = 0
            send(u, data, target)
        else:
            u, client = back[s.fileno()]
            st["s2c"] += 1
            if data[:1] == b"\x17" and resp_dropped[client] < a.drop_first_responses:
                resp_dropped[client] += 1
                st["forced_drops"] += 1
            else:
                send(front, data, client)
        save()
