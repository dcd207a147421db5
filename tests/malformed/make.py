#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the malformed safetensors files of this folder and cases.tsv.

Each case is a file gauss must refuse to compress, and the reason its
message must give ("gauss: cannot compress 'FILE': REASON"). The files are
committed; run this script again after changing a case:
    python3 tests/malformed/make.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = []


def st(header, data=b"", raw=None, length=None):
    """A safetensors file: 8-byte length, JSON header (or raw bytes), data."""
    text = raw if raw is not None else json.dumps(
        header, separators=(",", ":")).encode()
    n = len(text) if length is None else length
    return struct.pack("<Q", n) + text + data


def case(name, content, reason):
    CASES.append((name + ".safetensors", content, reason))


def t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


W4 = {"w": t("BF16", [2], 0, 4)}
D4 = b"\x01\x02\x03\x04"

# -- the 8-byte length and the file size
case("empty", b"", "file is too short for a safetensors header (0 bytes)")
case("short-length", b"\x10\x00\x00",
     "file is too short for a safetensors header (3 bytes)")
case("length-past-file", st(W4, D4, length=4096),
     "header length 4096 exceeds the file size")
case("length-absurd", st(W4, D4, length=0x7fffffffffffffff),
     "header length 9223372036854775807 exceeds the limit of")
case("length-max", st(W4, D4, length=0xffffffffffffffff),
     "header length 18446744073709551615 exceeds the limit of")
case("length-zero", st(None, raw=b"", length=0),
     "header length 0 is too small (at least 2)")
# -- the JSON text
case("json-invalid", st(None, raw=b'{"w":{"dtype":"BF16",'),
     "invalid JSON header at line 1 column 21: string or '}' expected")
case("json-trailing-comma", st(None, raw=b'{"a":"b",}'),
     "invalid JSON header at line 1 column 10: string or '}' expected")
case("json-two-values", st(None, raw=b'{}{}'),
     "invalid JSON header at line 1 column 3: end of file expected")
case("json-nul-byte", st(None, raw=b'{"w"\x00:1}'),
     "header holds a NUL byte at byte 4 of its 8")
case("json-nul-padding", st(None, raw=b'{}\x00\x00\x00\x00\x00\x00'),
     "header holds a NUL byte at byte 2 of its 8")
case("json-leading-space", st(None, raw=b' {}     '),
     "header does not begin with '{' (it begins with byte 0x20)")
case("json-bom", st(None, raw=b'\xef\xbb\xbf{}'),
     "invalid JSON header at line 1 column 1: '[' or '{' expected")
case("json-array", st(None, raw=b'[{"w":1}]'), "header is not a JSON object")
case("json-string", st(None, raw=b'"weights"'),
     "invalid JSON header at line 1 column 9: '[' or '{' expected")
case("name-invalid-utf8", st(None, raw=b'{"w\xff":' + json.dumps(
    t("BF16", [2], 0, 4)).encode() + b'}', data=D4),
     "invalid JSON header at line 1 column 3: unable to decode byte 0xff")
case("name-nul", st({"w\u0000x": t("BF16", [2], 0, 4)}, D4),
     "invalid JSON header at line 1 column 11: NUL byte in object key not "
     "supported")
case("name-empty", st({"": t("BF16", [2], 0, 4)}, D4),
     "a tensor has an empty name")
case("names-duplicate", st(None, raw=b'{"w":' + json.dumps(
    t("U8", [2], 0, 2)).encode() + b',"w":' + json.dumps(
    t("U8", [2], 2, 4)).encode() + b'}', data=D4),
     "invalid JSON header at line 1 column 62: duplicate object key")
# -- one tensor's entry
case("entry-not-object", st({"w": [0, 4]}, D4),
     "tensor 'w': entry is not a JSON object")
case("dtype-missing", st({"w": {"shape": [2], "data_offsets": [0, 4]}}, D4),
     "tensor 'w': missing \"dtype\"")
case("dtype-unknown", st({"w": t("F4", [2], 0, 4)}, D4),
     "tensor 'w': unknown dtype 'F4'")
case("dtype-lowercase", st({"w": t("bf16", [2], 0, 4)}, D4),
     "tensor 'w': unknown dtype 'bf16'")
case("dtype-not-string", st({"w": t(16, [2], 0, 4)}, D4),
     "tensor 'w': \"dtype\" is not a string")
case("shape-missing", st({"w": {"dtype": "BF16", "data_offsets": [0, 4]}},
                         D4), "tensor 'w': missing \"shape\"")
case("shape-not-array", st({"w": t("BF16", 2, 0, 4)}, D4),
     "tensor 'w': \"shape\" is not an array")
case("shape-negative", st({"w": t("BF16", [-2], 0, 4)}, D4),
     "tensor 'w': shape[0] is not a non-negative integer")
case("shape-fraction", st({"w": t("BF16", [1, 2.5], 0, 4)}, D4),
     "tensor 'w': shape[1] is not a non-negative integer")
case("shape-string", st({"w": t("BF16", ["2"], 0, 4)}, D4),
     "tensor 'w': shape[0] is not a non-negative integer")
case("shape-overflow", st({"w": t("U8", [4294967296, 4294967296], 0, 0)}),
     "tensor 'w': shape [4294967296, 4294967296] has more than 2^64 - 1 "
     "elements")
case("shape-bytes-overflow", st({"w": t("F64", [4611686018427387904, 2],
                                        0, 0)}),
     "tensor 'w': shape [4611686018427387904, 2] of F64 needs more than "
     "2^64 - 1 bytes")
case("shape-too-many-dims", st({"w": t("U8", [1] * 65, 0, 1)}, b"\x00"),
     "tensor 'w': shape has 65 dimensions, more than 64")
case("offsets-missing", st({"w": {"dtype": "BF16", "shape": [2]}}, D4),
     "tensor 'w': missing \"data_offsets\"")
case("offsets-three", st({"w": {"dtype": "BF16", "shape": [2],
                                "data_offsets": [0, 2, 4]}}, D4),
     "tensor 'w': \"data_offsets\" has 3 entries, not 2")
case("offsets-negative", st({"w": t("BF16", [2], -4, 0)}, D4),
     "tensor 'w': data_offsets[0] is not a non-negative integer")
case("offsets-too-big", st(None, raw=b'{"w":{"dtype":"U8","shape":[1],'
                           b'"data_offsets":[0,18446744073709551616]}}'),
     "invalid JSON header at line 1 column 69: too big integer")
case("offsets-reversed", st({"w": t("U8", [0], 4, 0)}, D4),
     "tensor 'w': data_offsets [4, 0] end before they begin")
case("size-mismatch", st({"fc.weight": t("BF16", [3], 0, 4)}, D4),
     "tensor 'fc.weight': data_offsets [0, 4] hold 4 bytes but shape [3] "
     "of BF16 needs 6")
case("offsets-past-data", st({"w": t("BF16", [2], 2, 6)}, D4),
     "file is truncated: tensor data ends at byte")
case("offsets-overlap", st({"a": t("U8", [4], 0, 4),
                            "b": t("U8", [2], 2, 4)}, D4),
     "tensors 'a' and 'b' overlap: data_offsets [0, 4] and [2, 4]")
case("offsets-same-bytes", st({"a": t("BF16", [2], 0, 4),
                               "b": t("I16", [2], 0, 4)}, D4),
     "tensors 'a' and 'b' overlap")
# -- metadata
case("metadata-not-object", st({"__metadata__": ["pt"], **W4}, D4),
     "\"__metadata__\" is not a JSON object")
case("metadata-number", st({"__metadata__": {"step": 100}, **W4}, D4),
     "\"__metadata__\": value of 'step' is not a string")
case("metadata-nested", st({"__metadata__": {"cfg": {"lr": "1"}}, **W4},
                           D4),
     "\"__metadata__\": value of 'cfg' is not a string")
# -- the data
case("data-truncated", st(W4, D4[:3]),
     "file is truncated: tensor data ends at byte")
case("data-missing", st({"a": t("F32", [1024], 0, 4096)}),
     "file is truncated: tensor data ends at byte")
case("trailing-bytes", st(W4, D4 + b"\x00" * 5),
     "file has 5 trailing bytes after the last tensor")
case("trailing-after-header", st({"__metadata__": {}}, b"junk"),
     "file has 4 trailing bytes after the header")


def main():
    with open(os.path.join(HERE, "cases.tsv"), "w") as f:
        f.write("# file\treason the message must give "
                "(written by make.py)\n")
        for name, content, reason in CASES:
            with open(os.path.join(HERE, name), "wb") as g:
                g.write(content)
            f.write(f"{name}\t{reason}\n")
    print(f"{len(CASES)} cases")


main()
