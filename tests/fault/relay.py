#!/usr/bin/env python3
"""relay.py - a faulty TCP relay on loopback for the network fault tests.

    relay.py --listen PORT --target PORT [--seed S] [--delay-ms MAX]
             [--cut-ms LO HI] [--blackout-pct P] [--stats FILE]

Every accepted connection is piped to 127.0.0.1:TARGET. Faults, all random
with a fixed seed:
  * delay: each chunk waits 0..MAX ms before it is forwarded (order kept:
    TCP does not reorder a stream, so reordering happens only across
    connections, e.g. a device's resend on a new connection racing the old one);
  * fragmentation: chunks are split at random points (TLS records and MQTT
    packets arrive in pieces);
  * cuts: every LO..HI ms one live connection is cut, half of the time with
    an RST (SO_LINGER 0), half with a FIN, in the middle of whatever it was
    carrying (an MQTT PUBLISH sent but its PUBACK cut off makes the client
    resend it: the duplicates the protocol must absorb);
  * blackouts: with probability P % a cut also refuses new connections for
    0.5..2 s.
Statistics (connections, cuts, bytes) go to FILE on exit (SIGTERM).
"""
import argparse
import asyncio
import json
import random
import signal
import socket
import struct
import time

stats = {"connections": 0, "cuts": 0, "rst": 0, "blackouts": 0, "refused": 0, "bytes": 0}


class Relay:
    def __init__(self, args):
        self.a = args
        self.rnd = random.Random(args.seed)
        self.live = set()
        self.blackout_until = 0.0

    async def pipe(self, reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                stats["bytes"] += len(data)
                pos = 0
                while pos < len(data):
                    n = len(data) - pos
                    if n > 1 and self.rnd.random() < 0.3:
                        n = self.rnd.randint(1, n)
                    if self.a.delay_ms:
                        await asyncio.sleep(self.rnd.uniform(0, self.a.delay_ms) / 1000.0)
                    writer.write(data[pos:pos + n])
                    await writer.drain()
                    pos += n
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def handle(self, creader, cwriter):
        if time.monotonic() < self.blackout_until:
            stats["refused"] += 1
            cwriter.transport.abort()
            return
        try:
            sreader, swriter = await asyncio.open_connection("127.0.0.1", self.a.target)
        except OSError:
            cwriter.transport.abort()
            return
        stats["connections"] += 1
        conn = (cwriter, swriter)
        self.live.add(conn)
        try:
            await asyncio.gather(self.pipe(creader, swriter), self.pipe(sreader, cwriter))
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            self.live.discard(conn)

    def cut(self, conn):
        rst = self.rnd.random() < 0.5
        for w in conn:
            sock = w.get_extra_info("socket")
            if rst and sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            w.transport.abort() if rst else w.close()
        stats["cuts"] += 1
        stats["rst"] += int(rst)

    async def cutter(self):
        lo, hi = self.a.cut_ms
        while True:
            await asyncio.sleep(self.rnd.uniform(lo, hi) / 1000.0)
            if self.live:
                self.cut(self.rnd.choice(sorted(self.live, key=id)))
            if self.rnd.uniform(0, 100) < self.a.blackout_pct:
                stats["blackouts"] += 1
                self.blackout_until = time.monotonic() + self.rnd.uniform(0.5, 2.0)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--target", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--delay-ms", type=float, default=20)
    p.add_argument("--cut-ms", type=float, nargs=2, default=[300, 1500])
    p.add_argument("--blackout-pct", type=float, default=10)
    p.add_argument("--stats")
    a = p.parse_args()
    r = Relay(a)
    server = await asyncio.start_server(r.handle, "127.0.0.1", a.listen, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    cutter = asyncio.create_task(r.cutter())
    print("relay: listening on %d -> %d" % (a.listen, a.target), flush=True)
    await stop.wait()
    cutter.cancel()
    server.close()
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump(stats, f)


if __name__ == "__main__":
    asyncio.run(main())
