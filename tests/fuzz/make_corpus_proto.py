#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_proto into tests/fuzz/corpus/proto/."""
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "proto")


def startup(code, body=b""):
    return struct.pack("!II", 8 + len(body), code) + body


def msg(t, body=b""):
    return t + struct.pack("!I", 4 + len(body)) + body


def cstr(s):
    return s.encode() + b"\0"


SEEDS = {
    "startup_v3": startup(196608, cstr("user") + cstr("alice") + cstr("database")
                          + cstr("db") + cstr("application_name") + cstr("psql") + b"\0"),
    "startup_v3_2": startup((3 << 16) | 2, cstr("user") + cstr("u") + cstr("_pq_.x")
                            + cstr("1") + b"\0"),
    "startup_options": startup(196608, cstr("user") + cstr("u") + cstr("options")
                               + cstr("-c a=b\\ c --x=y -cz=\\=") + b"\0"),
    "startup_v2": startup(2 << 16, cstr("user") + cstr("u") + b"\0"),
    "ssl_request": startup(80877103),
    "gssenc_request": startup(80877104),
    "cancel_request": startup(80877102, struct.pack("!II", 4242, 0xDEADBEEF)),
    "backend_auth_flow": msg(b"R", struct.pack("!i", 10) + cstr("SCRAM-SHA-256-PLUS")
                             + cstr("SCRAM-SHA-256") + b"\0")
    + msg(b"R", struct.pack("!i", 11) + b"r=abc,s=c2FsdA==,i=4096")
    + msg(b"R", struct.pack("!i", 5) + b"salt")
    + msg(b"R", struct.pack("!i", 0))
    + msg(b"S", cstr("server_version") + cstr("17.2"))
    + msg(b"K", struct.pack("!II", 99, 12345))
    + msg(b"Z", b"I"),
    "backend_error": msg(b"E", b"S" + cstr("FATAL") + b"V" + cstr("FATAL") + b"C" + cstr("28P01")
                         + b"M" + cstr("password authentication failed") + b"D" + cstr("d")
                         + b"H" + cstr("h") + b"\0")
    + msg(b"N", b"S" + cstr("NOTICE") + b"M" + cstr("hi") + b"\0"),
    "frontend_auth": msg(b"p", cstr("SCRAM-SHA-256") + struct.pack("!i", 9) + b"n,,n=,r=x")
    + msg(b"p", b"c=biws,r=x,p=abc")
    + msg(b"p", cstr("md5d41d8cd98f00b204e9800998ecf8427e"))
    + msg(b"Q", cstr("SELECT 1"))
    + msg(b"X"),
}

os.makedirs(HERE, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
