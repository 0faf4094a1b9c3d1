#!/usr/bin/env python3
"""ws_mqtt.py - a minimal MQTT 3.1.1 client over WebSocket (RFC 6455), stdlib only.

The dashboard listener of the broker speaks MQTT over WebSocket, which the
mosquitto_pub/mosquitto_sub of Debian 12 cannot; this is just enough of a
client to act as a dashboard in tests/certs.

  ws_mqtt.py pub PORT USER PASS TOPIC MSG [--retain]
  ws_mqtt.py sub PORT USER PASS FILTER [--count N] [--timeout S]

Exit: 0 ok; 3 timed out before N messages; 4 subscription refused (SUBACK 0x80);
5 connection refused (CONNACK != 0); 6 transport error. sub prints "topic payload".
"""
import base64
import os
import socket
import struct
import sys
import time


class WsMqtt:
    def __init__(self, port, timeout):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""  # MQTT bytes received, across WebSocket frames
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: mqtt\r\n\r\n" % (port, key))
        self.s.sendall(req.encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            chunk = self.s.recv(4096)
            if not chunk:
                raise OSError("websocket handshake: connection closed")
            resp += chunk
        head, _, rest = resp.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise OSError("websocket handshake refused: %r" % head.split(b"\r\n")[0])
        self.raw = rest  # bytes after the handshake, still framed

    def send(self, data):
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x82, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x82, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x82, 0x80 | 127, n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.s.sendall(hdr + mask + body)

    def _need(self, n):
        while len(self.raw) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            self.raw += chunk

    def _frame(self):
        self._need(2)
        b0, b1 = self.raw[0], self.raw[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack("!H", self.raw[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack("!Q", self.raw[2:10])[0], 10
        self._need(off + n)
        payload, self.raw = self.raw[off:off + n], self.raw[off + n:]
        op = b0 & 0x0F
        if op == 0x8:
            raise OSError("websocket closed by the broker")
        if op == 0x9:
            self.s.sendall(struct.pack("!BB", 0x8A, 0x80) + b"\0\0\0\0")
            return b""
        return payload

    def packet(self):
        """Next MQTT packet as (type, flags, body)."""
        while True:
            if len(self.buf) >= 2:
                mult, val, i = 1, 0, 1
                while i < len(self.buf):
                    d = self.buf[i]
                    val += (d & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not d & 0x80:
                        if len(self.buf) >= i + val:
                            h, body = self.buf[0], self.buf[i:i + val]
                            self.buf = self.buf[i + val:]
                            return h >> 4, h & 0x0F, body
                        break
            self.buf += self._frame()


def enc_str(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def enc_len(n):
    out = b""
    while True:
        d, n = n % 128, n // 128
        out += bytes([d | (0x80 if n else 0)])
        if not n:
            return out


def pkt(h, body):
    return bytes([h]) + enc_len(len(body)) + body


def connect(port, user, pw, timeout):
    c = WsMqtt(port, timeout)
    cid = "dash-%d" % os.getpid()
    var = enc_str("MQTT") + bytes([4, 0x80 | 0x40 | 0x02]) + struct.pack("!H", 30)
    c.send(pkt(0x10, var + enc_str(cid) + enc_str(user) + enc_str(pw)))
    t, _, body = c.packet()
    if t != 2 or len(body) < 2 or body[1] != 0:
        print("connection refused (CONNACK %r)" % body, file=sys.stderr)
        sys.exit(5)
    return c


def main():
    a = sys.argv[1:]
    if len(a) < 5 or a[0] not in ("pub", "sub"):
        print(__doc__, file=sys.stderr)
        return 2
    cmd, port, user, pw, topic = a[0], int(a[1]), a[2], a[3], a[4]
    count, timeout = 1, 5.0
    if "--count" in a:
        count = int(a[a.index("--count") + 1])
    if "--timeout" in a:
        timeout = float(a[a.index("--timeout") + 1])
    try:
        c = connect(port, user, pw, timeout)
        if cmd == "pub":
            flags = 0x01 if "--retain" in a else 0x00
            c.send(pkt(0x30 | flags, enc_str(topic) + a[5].encode()))
            c.send(pkt(0xE0, b""))
            # The broker reads packets in order and closes the connection on
            # DISCONNECT: once it has closed, it has read the PUBLISH too.
            c.s.settimeout(timeout)
            try:
                while c.s.recv(4096):
                    pass
            except OSError:
                pass
            return 0
        c.send(pkt(0x82, struct.pack("!H", 1) + enc_str(topic) + b"\x00"))
        deadline = time.time() + timeout
        got = 0
        while got < count:
            left = deadline - time.time()
            if left <= 0:
                return 3
            c.s.settimeout(left)
            try:
                t, flags, body = c.packet()
            except socket.timeout:
                return 3
            if t == 9:  # SUBACK
                if body[2:] and body[2] == 0x80:
                    print("subscription refused", file=sys.stderr)
                    return 4
            elif t == 3:  # PUBLISH
                n = struct.unpack("!H", body[:2])[0]
                off = 2 + n + (2 if (flags >> 1) & 3 else 0)
                print("%s %s" % (body[2:2 + n].decode(), body[off:].decode(errors="replace")))
                sys.stdout.flush()
                got += 1
        return 0
    except (OSError, socket.timeout) as e:
        print("transport error: %s" % e, file=sys.stderr)
        return 6


if __name__ == "__main__":
    sys.exit(main())
