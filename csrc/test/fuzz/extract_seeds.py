#!/usr/bin/env python3
"""Writes the seed corpora csrc/test/fuzz/corpus/<target>/ from the byte
vectors of the C unit tests (every `uint8_t NAME[] = { ... };` whose
elements are all integer literals). Run from anywhere; rerun after adding
test vectors. Files are named <test>-<vector>; the round-trip targets get
the MIDI vectors behind their few configuration octets."""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.normpath(os.path.join(HERE, ".."))
OUT = os.path.join(HERE, "corpus")

# test file -> [(target, prefix octets)]
MAP = {
    "test_rtp.c": [("rtp", b"")],
    "test_rtcp.c": [("rtcp", b"")],
    "test_midi_cmd.c": [("midi_cmd", b""), ("cmd_roundtrip", b"\x00\x40\x01\x00")],
    "test_midi_msg.c": [("midi_msg", b""), ("cmd_roundtrip", b"\x00\x00\x02\x07"),
                        ("journal_roundtrip", b"\x55\x01")],
    "test_journal_chapters.c": [("journal", b"\x00")],
    "test_journal_sendrecv.c": [("journal", b"\x00"), ("journal_roundtrip", b"\x14\x02")],
    "test_journal_converge.c": [("journal_roundtrip", b"\x24\x03")],
    "test_applemidi.c": [("applemidi", b""), ("applemidi_roundtrip", b"")],
}

ARRAY = re.compile(r"uint8_t\s+(\w+)\s*\[\s*(\d*)\s*\]\s*=\s*\{([^{}]*)\}\s*;", re.S)
INT = re.compile(r"^(0[xX][0-9a-fA-F]+|\d+)[uU]?$")


def vectors(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    for name, size, body in ARRAY.findall(text):
        toks = [t.strip() for t in body.split(",") if t.strip()]
        if not toks or not all(INT.match(t) for t in toks):
            continue
        vals = [int(t.rstrip("uU"), 0) for t in toks]
        if size and int(size) > len(vals):
            vals += [0] * (int(size) - len(vals))  # the rest of an initializer is zero
        if all(0 <= v < 256 for v in vals):
            yield name, bytes(vals)


def main():
    total = 0
    for test, dests in MAP.items():
        path = os.path.join(TESTS, test)
        if not os.path.exists(path):
            continue
        seen = {}
        for name, data in vectors(path):
            n = seen.get(name, 0)
            seen[name] = n + 1
            tag = f"{test[:-2]}-{name}" + (f"-{n}" if n else "")
            for target, prefix in dests:
                d = os.path.join(OUT, target)
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, tag), "wb") as f:
                    f.write(prefix + data)
                total += len(prefix) + len(data)
    print(f"wrote seeds ({total} octets) under {OUT}")


if __name__ == "__main__":
    main()
