#!/usr/bin/env -S /usr/bin/python3
"""Minimal safetensors reader/writer using numpy only.

The `safetensors` package is not available here, and the format is simple:
  8 bytes   little-endian u64 N = length of the JSON header
  N bytes   JSON: {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
                   "__metadata__": {str: str}}
  rest      raw little-endian tensor data; offsets are relative to its start

write() pads the header with spaces so that 8 + N is a multiple of 8 (the data
section then starts 8-aligned), stores tensors in the order given, and uses
compact JSON with no key sorting, so identical inputs give identical bytes.
"""

import json
import struct

import numpy as np

# safetensors dtype names <-> numpy dtypes (all little-endian).
_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def write(path, tensors, metadata=None):
    """Write dict name -> np.ndarray (insertion order kept) and str->str metadata."""
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("metadata keys and values must be str: %r" % (k,))
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        if name == "__metadata__":
            raise ValueError("'__metadata__' is not a tensor name")
        arr = np.asarray(arr)
        dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        if dt not in _NAMES:
            raise TypeError("%s: unsupported dtype %s" % (name, arr.dtype))
        # tobytes() of a C-ordered little-endian copy gives the row-major layout.
        data = np.ascontiguousarray(arr, dtype=dt.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": _NAMES[dt],
            "shape": [int(s) for s in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def read(path):
    """Return (dict name -> np.ndarray in header order, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError("%s: header length %d exceeds the file" % (path, n))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = memoryview(raw)[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    tensors = {}
    for name, info in header.items():
        dt = _DTYPES[info["dtype"]]
        shape = tuple(info["shape"])
        begin, end = info["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64))
        if not (0 <= begin <= end <= len(data)) or end - begin != count * dt.itemsize:
            raise ValueError("%s: tensor %s has a bad byte range" % (path, name))
        # copy() so the arrays own writable memory independent of the file buffer.
        tensors[name] = np.frombuffer(data[begin:end], dtype=dt).reshape(shape).copy()
    return tensors, metadata


if __name__ == "__main__":
    import sys
    for p in sys.argv[1:]:
        t, m = read(p)
        print(p)
        for k, v in m.items():
            print("  meta %s = %s" % (k, v))
        for k, v in t.items():
            print("  %-48s %-6s %s" % (k, v.dtype, list(v.shape)))
