#!/usr/bin/env python3
"""mkcorpus_coap.py - writes the seed corpus of the coap fuzz target.

  tests/fuzz/mkcorpus_coap.py [DIR]   (default: tests/fuzz/corpus/coap, and
                                       the reproducers in tests/fuzz/regress/coap)

Each seed is one or more CoAP datagrams (RFC 7252 over UDP: header, token,
options, 0xFF + payload; Block1/Block2 per RFC 7959) joined by "~~~~", the
datagram separator of tests/fuzz/fuzz_coap.c. The server side is the fuzz
fixture: device dev-a (grids g1, g2), status documents for g1 (small) and c1
(over one 1024-byte block), max_body_bytes 4096. The files are rewritten
from scratch; re-run after changing this script and commit the result.
"""
import json
import os
import struct
import sys

SEP = b"~~~~"
CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST, PUT, DELETE, FETCH, PATCH, IPATCH = 1, 2, 3, 4, 5, 6, 7

IF_MATCH, URI_HOST, ETAG, IF_NONE_MATCH, OBSERVE, URI_PORT = 1, 3, 4, 5, 6, 7
URI_PATH, CONTENT_FORMAT, MAX_AGE, URI_QUERY, HOP_LIMIT, ACCEPT = 11, 12, 14, 15, 16, 17
BLOCK2, BLOCK1, SIZE2, PROXY_URI, PROXY_SCHEME, SIZE1 = 23, 27, 28, 35, 39, 60
ECHO, NO_RESPONSE, REQUEST_TAG = 252, 258, 292
JSON, TEXT, CBOR = 50, 0, 60
NOW = 1763880000000  # FZ_NOW_MS of the fixture


def uint(v):
    """Minimal big-endian bytes of an unsigned option value (0 is empty)."""
    out = b""
    while v:
        out = bytes([v & 0xFF]) + out
        v >>= 8
    return out


def nibble(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack(">H", v - 269)


def block(num, more, szx):
    return uint((num << 4) | (8 if more else 0) | szx)


def pdu(code, opts=(), payload=b"", typ=CON, mid=0x1001, token=b"\x01\x02\x03\x04", raw_opts=b""):
    """A CoAP message; opts are (number, bytes) in any order (sorted here, stable)."""
    out = bytes([0x40 | (typ << 4) | len(token), code]) + struct.pack(">H", mid) + token
    last = 0
    for num, val in sorted(opts, key=lambda o: o[0]):
        if isinstance(val, int):
            val = uint(val)
        elif isinstance(val, str):
            val = val.encode()
        dn, dx = nibble(num - last)
        ln, lx = nibble(len(val))
        out += bytes([(dn << 4) | ln]) + dx + lx + val
        last = num
    out += raw_opts
    if payload:
        out += b"\xff" + payload
    return out


def path(p):
    return [(URI_PATH, seg) for seg in p.strip("/").split("/")]


def change(n, grid="g1", typ="household"):
    cid = "31000000-0000-4000-8000-%012d" % n
    ent = "41000000-0000-4000-8000-%012d" % n
    fields = {"grid": grid, "address": "和平街%d号" % n, "members": 2}
    return {"id": cid, "seq": n, "type": typ, "entity": ent, "hlc": [NOW - 1000 + n, 0], "set": fields}


def batch(first, n=1, pad=0, grid="g1"):
    ch = [change(first + i, grid) for i in range(n)]
    if pad:
        for c in ch:
            c["set"]["address"] = ("幸福路" * (pad // 9 + 1))[: max(1, pad // 3)]
    return json.dumps({"v": 1, "batch": "cb-%d" % first, "changes": ch}, ensure_ascii=False,
                      separators=(",", ":")).encode()


def up(body, opts=(), **kw):
    return pdu(POST, path("v1/up") + [(CONTENT_FORMAT, JSON)] + list(opts), body, **kw)


def block1_seq(p, body, szx, extra=(), last_extra=(), mid=0x2000, size1=True, blocks=None):
    """The request body of POST p in Block1 blocks of 2**(szx+4) bytes."""
    size = 1 << (szx + 4)
    parts = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
    out = []
    for i, part in enumerate(parts):
        if blocks is not None and i not in blocks:
            continue
        more = i < len(parts) - 1
        o = path(p) + [(CONTENT_FORMAT, JSON), (BLOCK1, block(i, more, szx))] + list(extra)
        if i == 0 and size1:
            o.append((SIZE1, len(body)))
        if not more:
            o += list(last_extra)
        out.append(pdu(POST, o, part, mid=mid + i, token=b"\xb1\x0c"))
    return out


def seeds():
    s = {}
    pull = b'{"v":1,"since":0,"limit":500}'
    s["up_valid"] = [up(batch(1))]
    s["up_retransmit"] = [up(batch(3), mid=0x3003)] * 2
    s["up_non"] = [up(batch(5), typ=NON, mid=0x3005)]
    s["up_two_changes_notoken"] = [up(batch(7, 2), token=b"")]
    s["up_forbidden_grid"] = [up(batch(9, grid="g9"))]
    s["up_bad_json"] = [up(b'{"v":1,"changes":[{"id":')]
    s["up_not_object"] = [up(b"[1,2,3]")]
    s["up_empty_body"] = [up(b"")]
    s["up_then_pull"] = [up(batch(11), mid=0x3011), pdu(POST, path("v1/pull") + [(CONTENT_FORMAT, JSON)], pull,
                                                       mid=0x3012)]
    big = batch(20, 3, pad=150)
    s["up_block1"] = block1_seq("v1/up", big, 4)
    s["up_block1_late_last"] = block1_seq("v1/up", batch(30, 3, pad=150), 4) + \
        [block1_seq("v1/up", batch(30, 3, pad=150), 4, mid=0x2100)[-1]]
    s["up_block1_retransmit_first"] = (lambda b: [b[0], b[0]] + b[1:])(block1_seq("v1/up", batch(40, 3, pad=150), 4))
    s["up_block1_gap"] = block1_seq("v1/up", batch(50, 3, pad=150), 4, blocks={0, 2})
    s["up_block1_too_large"] = block1_seq("v1/up", batch(60, 12, pad=400), 6)
    s["up_block1_too_large_no_size1"] = block1_seq("v1/up", batch(70, 12, pad=400), 6, size1=False)
    s["up_block1_szx0"] = block1_seq("v1/up", batch(80), 0)[:12]
    s["up_block1_size1_huge"] = [pdu(POST, path("v1/up") + [(CONTENT_FORMAT, JSON), (BLOCK1, block(0, True, 6)),
                                                            (SIZE1, 0xFFFFFFFF)], b"{" * 1024)]
    s["up_block1_num_huge"] = [pdu(POST, path("v1/up") + [(CONTENT_FORMAT, JSON), (BLOCK1, block(0xFFFFF, False, 6))],
                                   b"}" * 16)]
    s["up_block1_no_size1"] = block1_seq("v1/up", batch(95, 3, pad=150), 4, size1=False)
    s["up_block1_echo_tag"] = block1_seq("v1/up", batch(90, 2, pad=150), 4, extra=[(REQUEST_TAG, b"\x07"),
                                                                                   (ECHO, b"\x01\x02\x03")])
    s["pull_valid"] = [pdu(POST, path("v1/pull") + [(CONTENT_FORMAT, JSON)], pull)]
    s["pull_accept_json"] = [pdu(POST, path("v1/pull") + [(CONTENT_FORMAT, JSON), (ACCEPT, JSON)],
                                 b'{"v":1,"since":1,"limit":1}', typ=NON)]
    s["pull_block2"] = [pdu(POST, path("v1/pull") + [(CONTENT_FORMAT, JSON), (BLOCK2, block(0, False, 0))], pull,
                            mid=0x4001),
                        pdu(POST, path("v1/pull") + [(CONTENT_FORMAT, JSON), (BLOCK2, block(1, False, 0))], pull,
                            mid=0x4002)]
    s["pull_bad"] = [pdu(POST, path("v1/pull") + [(CONTENT_FORMAT, JSON)], b'{"v":1,"since":-1,"limit":1e300}')]
    s["status_g1"] = [pdu(GET, path("v1/status/g1"))]
    s["status_observe"] = [pdu(GET, path("v1/status/g1") + [(OBSERVE, 0)], mid=0x5001, token=b"\x0b"),
                           pdu(GET, path("v1/status/g1") + [(OBSERVE, 1)], mid=0x5002, token=b"\x0b")]
    s["status_block2"] = [pdu(GET, path("v1/status/c1"), mid=0x5101, token=b"\xc1"),
                          pdu(GET, path("v1/status/c1") + [(BLOCK2, block(1, False, 6))], mid=0x5102, token=b"\xc2"),
                          pdu(GET, path("v1/status/c1") + [(BLOCK2, block(2, False, 6))], mid=0x5103, token=b"\xc3")]
    s["status_block2_szx0"] = [pdu(GET, path("v1/status/c1") + [(BLOCK2, block(0, False, 0))], mid=0x5201),
                               pdu(GET, path("v1/status/c1") + [(BLOCK2, block(5, False, 0))], mid=0x5202),
                               pdu(GET, path("v1/status/c1") + [(BLOCK2, block(9999, False, 0))], mid=0x5203)]
    s["status_block2_etag"] = [pdu(GET, path("v1/status/c1") + [(BLOCK2, block(1, False, 6)), (ETAG, b"\x01\x02")])]
    s["status_observe_block2"] = [pdu(GET, path("v1/status/c1") + [(OBSERVE, 0)], mid=0x5301)]
    s["status_unknown_org"] = [pdu(GET, path("v1/status/zz9"))]
    s["status_accept_cbor"] = [pdu(GET, path("v1/status/g1") + [(ACCEPT, CBOR)])]
    # proxy options: 5.05 from libcoap or our prologue, 5.08/4.00 for Hop-Limit 1/0; never stored
    s["proxy_uri"] = [up(batch(100), [(PROXY_URI, "coap://127.0.0.1/v1/up")])]
    s["proxy_scheme"] = [up(batch(101), [(PROXY_SCHEME, "coap")])]
    for hl, n in ((0, 102), (1, 103), (2, 104), (255, 105)):
        s["hop_limit_%d" % hl] = [up(batch(n), [(HOP_LIMIT, hl)])]
    s["hop_limit_0_onebyte"] = [up(batch(106), [(HOP_LIMIT, b"\x00")])]
    s["hop_limit_status"] = [pdu(GET, path("v1/status/g1") + [(HOP_LIMIT, 2)])]
    s["hop_limit_pull"] = [pdu(POST, path("v1/pull") + [(CONTENT_FORMAT, JSON), (HOP_LIMIT, 16)], pull)]
    s["proxy_unknown_path"] = [pdu(GET, path("nowhere") + [(PROXY_URI, "coap://example.org/x")])]
    s["proxy_block1_last"] = block1_seq("v1/up", batch(110, 3, pad=150), 4, last_extra=[(HOP_LIMIT, 2)])
    s["proxy_block1_first"] = block1_seq("v1/up", batch(120, 3, pad=150), 4, extra=[(PROXY_SCHEME, "coap")])
    # content formats, methods, paths
    s["cf_text"] = [pdu(POST, path("v1/up") + [(CONTENT_FORMAT, TEXT)], batch(130))]
    s["cf_cbor"] = [pdu(POST, path("v1/up") + [(CONTENT_FORMAT, CBOR)], b"\xa1\x61v\x01")]
    s["cf_missing"] = [pdu(POST, path("v1/up"), batch(131))]
    s["cf_long_value"] = [pdu(POST, path("v1/up") + [(CONTENT_FORMAT, b"\x00\x00\x00\x32")], batch(132))]
    s["accept_cbor"] = [up(batch(133), [(ACCEPT, CBOR)])]
    s["get_up"] = [pdu(GET, path("v1/up"))]
    s["put_up"] = [pdu(PUT, path("v1/up") + [(CONTENT_FORMAT, JSON)], batch(134))]
    s["delete_pull"] = [pdu(DELETE, path("v1/pull"))]
    s["fetch_status"] = [pdu(FETCH, path("v1/status/g1") + [(CONTENT_FORMAT, JSON)], b"{}")]
    s["ipatch_unknown"] = [pdu(IPATCH, path("a/b/c"), b"x")]
    s["unknown_path"] = [pdu(POST, path("v2/up") + [(CONTENT_FORMAT, JSON)], batch(135))]
    s["wellknown_core"] = [pdu(GET, path(".well-known/core"))]
    s["root"] = [pdu(GET, [])]
    s["uri_host_port_query"] = [up(batch(136), [(URI_HOST, "127.0.0.1"), (URI_PORT, 5683), (URI_QUERY, "a=1"),
                                                (URI_QUERY, "b" * 200)])]
    s["if_match_none_match"] = [up(batch(137), [(IF_MATCH, b""), (IF_NONE_MATCH, b"")])]
    s["no_response"] = [up(batch(138), [(NO_RESPONSE, 2)]), up(batch(138), [(NO_RESPONSE, 26)], mid=0x6001)]
    s["max_age_size2"] = [pdu(GET, path("v1/status/c1") + [(MAX_AGE, 60), (SIZE2, 0)])]
    s["critical_unknown_option"] = [up(batch(139), [(9, b"x")])]
    s["elective_unknown_option"] = [up(batch(140), [(2048, b"y" * 20)])]
    s["path_many_segments"] = [pdu(GET, [(URI_PATH, "s")] * 40)]
    s["path_long_segment"] = [pdu(GET, [(URI_PATH, "v1"), (URI_PATH, "status"), (URI_PATH, "x" * 270)])]
    # message layer
    s["ping"] = [bytes([0x40, 0x00, 0x70, 0x01])]
    s["ping_with_token"] = [bytes([0x41, 0x00, 0x70, 0x02, 0x09])]
    s["rst"] = [bytes([0x70, 0x00, 0x10, 0x01])]
    s["ack_empty"] = [bytes([0x60, 0x00, 0x10, 0x01])]
    s["ack_with_code"] = [pdu(0x45, [], b"x", typ=ACK)]
    s["response_to_server"] = [pdu(0x84, [], b"", typ=CON)]
    s["version2"] = [bytes([0x80 | 0x02]) + up(batch(141))[1:]]
    s["tkl9"] = [bytes([0x49, 0x02, 0x00, 0x01]) + b"\x00" * 9 + b"\xb2v1"]
    s["tkl15"] = [bytes([0x4F, 0x01, 0x00, 0x02]) + b"\x00" * 15]
    s["truncated_header"] = [b"\x40\x01"]
    s["truncated_token"] = [bytes([0x48, 0x01, 0x00, 0x01, 0xAA])]
    s["option_delta_15"] = [pdu(GET, [], raw_opts=b"\xf1x")]
    s["option_len_15"] = [pdu(GET, [], raw_opts=b"\xbfabc")]
    s["option_ext_truncated"] = [pdu(GET, [], raw_opts=b"\xd0")]
    s["option_len_past_end"] = [pdu(GET, [], raw_opts=b"\xb9v1")]
    s["payload_marker_empty"] = [pdu(POST, path("v1/up") + [(CONTENT_FORMAT, JSON)]) + b"\xff"]
    s["empty_datagram"] = [b"", b"\x40"]
    s["garbage"] = [bytes((i * 73 + 41) & 0xFF for i in range(97))]
    s["many_datagrams"] = [pdu(GET, path("v1/status/g1"), mid=0x7000 + i, token=bytes([i])) for i in range(20)]
    return s


def regress():
    """Reproducers of findings (tests/fuzz/regress/coap/, next to the fuzzer's
    own crash-* artifacts). libcoap 4.3.1's Block1 reassembly
    (COAP_BLOCK_SINGLE_BODY) dereferenced a NULL body when a body sent
    without Size1 got a block twice (SEGV: block 0 with More, then block 0
    without; or the last block retransmitted), handed the handler one block
    as if it were the whole body when it had no body buffer (none without
    Size1; allocation failed for a huge Size1 or block offset), and the
    handler applied it. gs_coapreq.c now collects Block1 bodies itself.
    And respond() freed a reply body a second time when
    coap_add_data_large_response() failed on an out-of-range Block2 number
    (libcoap had released it already on that path)."""
    r = {}
    r["block2_num_out_of_range_status"] = [pdu(GET, path("v1/status/c1") + [(BLOCK2, block(800551, False, 6))])]
    r["block2_num_out_of_range_pull"] = [pdu(POST, path("v1/pull") + [(CONTENT_FORMAT, JSON),
                                                                      (BLOCK2, block(4000, False, 6))],
                                             b'{"v":1,"since":0,"limit":500}')]
    o = path("v1/up") + [(CONTENT_FORMAT, JSON)]
    x = pdu(POST, o + [(BLOCK1, block(0, True, 4))], b"x" * 256, mid=0x910, token=b"\x01")
    last = pdu(POST, o + [(BLOCK1, block(1, False, 4))], b"y" * 10, mid=0x911, token=b"\x01")
    r["block1_no_size1_block0_twice"] = [x, pdu(POST, o + [(BLOCK1, block(0, False, 4))], b"y" * 10, mid=0x912,
                                                token=b"\x01")]
    r["block1_no_size1_last_twice"] = [x, last, last]
    r["block1_first_no_size1"] = [pdu(POST, o + [(BLOCK1, block(0, True, 4))], batch(500), mid=0x900)]
    r["block1_size1_4g"] = [pdu(POST, o + [(BLOCK1, block(0, True, 6)), (SIZE1, 0xFFFFFFFF)], batch(501), mid=0x901)]
    r["block1_offset_1g"] = [pdu(POST, o + [(BLOCK1, block(0, True, 6)), (SIZE1, 1024)], b"x" * 1024, mid=0x902,
                                 token=b"\x05"),
                             pdu(POST, o + [(BLOCK1, block(0xFFFFF, False, 6))], batch(502), mid=0x903, token=b"\x05")]
    return r


def write(out, items):
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".bin"):
            os.unlink(os.path.join(out, f))
    for name, dgrams in sorted(items.items()):
        for d in dgrams:
            assert SEP not in d, name
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(SEP.join(dgrams))
    print("%d files in %s" % (len(items), out))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "coap")
    write(out, seeds())
    if len(sys.argv) <= 1:
        write(os.path.join(here, "regress", "coap"), regress())


if __name__ == "__main__":
    main()
