#!/usr/bin/env python3
"""mqtt_rr.py - publish one payload and print the reply, as one device client.

    mqtt_rr.py --port P --ca CA --cert CRT --key KEY --id DEV --pub TOPIC
               --sub TOPIC --file PAYLOAD [--timeout S]

A minimal MQTT 3.1.1 client over TLS (standard library only): CONNECT with
client id DEV (the broker plugin allows a device one client id: its CN),
SUBSCRIBE to the reply topic, PUBLISH the file's bytes unchanged at QoS 1
(binary, invalid UTF-8, any size), print the first message on the reply
topic. mosquitto_rr 2.0.11 sends an empty payload with -f, hence this.
Exit 0: reply printed; 1: no reply in time; 2: refused or disconnected
(TLS failure, CONNACK refusal, the broker dropping an oversized packet).
"""
import argparse
import socket
import ssl
import struct
import sys
import time


def varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def s16(b):
    return struct.pack("!H", len(b)) + b


def read_packet(sock):
    def need(n):
        buf = b""
        while len(buf) < n:
            c = sock.recv(n - len(buf))
            if not c:
                raise ConnectionError("closed by the broker")
            buf += c
        return buf
    first = need(1)[0]
    mult, length = 1, 0
    while True:
        b = need(1)[0]
        length += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return first, need(length)


def main():
    p = argparse.ArgumentParser()
    for a in ("--ca", "--cert", "--key", "--id", "--pub", "--sub", "--file"):
        p.add_argument(a, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--timeout", type=float, default=15)
    a = p.parse_args()
    payload = open(a.file, "rb").read()
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.check_hostname = False
    deadline = time.monotonic() + a.timeout
    try:
        raw = socket.create_connection((a.host, a.port), timeout=a.timeout)
        s = ctx.wrap_socket(raw)
        s.sendall(packet(0x10, s16(b"MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + s16(a.id.encode())))
        t, body = read_packet(s)
        if t >> 4 != 2 or body[1] != 0:
            print("refused: CONNACK %r" % body, file=sys.stderr)
            return 2
        s.sendall(packet(0x82, struct.pack("!H", 1) + s16(a.sub.encode()) + b"\x01"))
        while True:
            t, body = read_packet(s)
            if t >> 4 == 9:
                break
        s.sendall(packet(0x32, s16(a.pub.encode()) + struct.pack("!H", 2) + payload))
        while True:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            t, body = read_packet(s)
            if t >> 4 == 3:
                qos = (t >> 1) & 3
                tl = struct.unpack("!H", body[:2])[0]
                off = 2 + tl
                if qos:
                    pid = body[off:off + 2]
                    off += 2
                    s.sendall(packet(0x40, pid))
                if body[2:2 + tl].decode() == a.sub:
                    sys.stdout.write(body[off:].decode("utf-8", "replace"))
                    s.sendall(b"\xe0\x00")
                    return 0
    except socket.timeout:
        print("no reply in %.0f s" % a.timeout, file=sys.stderr)
        return 1
    except (ConnectionError, ssl.SSLError, OSError) as e:
        print("refused or disconnected: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
