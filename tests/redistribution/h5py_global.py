#!/usr/bin/env python3
"""Reads nm_state's checkpoint with h5py alone, as a user without ckpt would: the block entries
are plain global arrays, the concatenated one a plain global sequence, the replicated one a
single value (docs/file-format.md, format 3).

    python3 h5py_global.py DIR        DIR: where `mpiexec -n N nm_state write DIR` wrote

Checks the newest ckpt.<seq>.h5 in DIR against nm_state.cpp's global functions, and every block
and concatenated part's position sum against the definition in docs/file-format.md, and prints
"h5py_global: ok ..." when every check holds; exits 1 (naming the first failure) otherwise.
"""
import glob
import math
import os
import re
import sys

import h5py
import numpy as np


def fail(what):
    print("h5py_global: FAIL: " + what, file=sys.stderr)
    sys.exit(1)


def text(value):
    """An attribute's string: fixed-length strings come back as bytes."""
    return value.decode() if isinstance(value, bytes) else str(value)


def written_count(r):
    """nm_state.cpp's written_count(): how many particles rank r writes."""
    return (r * 7) % 5 + 2 * r + (0 if r == 1 else 3)


M = (1 << 64) - 1


def term(v, k):
    x = ((v ^ k) * 0xC2B2AE3D27D4EB4F) & M
    x ^= x >> 31
    return (x * 0x165667B19E3779F9) & M


def position_sum(part, indices):
    """The position sum of docs/file-format.md, written from its definition there (not from
    ckpt's code): `part` a numpy array, `indices` each element's global index, in C order."""
    raw, size, total = part.tobytes(), part.dtype.itemsize, 0
    for n, g in enumerate(indices):
        key, e = ((g + 1) * 0x9E3779B97F4A7C15) & M, raw[n * size:(n + 1) * size]
        words = [e] if size <= 8 else [e[w * 8:w * 8 + 8] for w in range(size // 8)]
        for w, word in enumerate(words):
            v = int.from_bytes(word, "little")
            total += term(v, (key + w * 0xD6E8FEB86659FD93) & M)
    return total & M


def check_position_sums(f, name):
    """Every row of /layout/NAME: its position sum, recomputed from its box or stretch."""
    data = f["/state/" + name]
    block = text(data.attrs["ckpt.distribution"]) == "block"
    for r, row in enumerate(f["/layout/" + name][...]):
        row = [int(x) for x in row]
        if block:
            n = data.ndim
            extents, origin = row[3:3 + n], row[3 + n:3 + 2 * n]
            part = data[tuple(slice(o, o + e) for o, e in zip(origin, extents))]
            grid = np.indices(extents).reshape(n, -1).T + origin
            indices = [int(np.ravel_multi_index(tuple(i), data.shape)) for i in grid] if row[1] else []
        else:
            part = data[row[0]:row[0] + row[1]]
            indices = range(row[0], row[0] + row[1])
        if position_sum(part, indices) != row[2]:
            fail("/layout/%s, rank %d: the position sum of docs/file-format.md is %x, the layout has %x"
                 % (name, r, position_sum(part, indices), row[2]))


def newest(directory):
    found = []
    for path in glob.glob(os.path.join(directory, "ckpt.*.h5")):
        m = re.fullmatch(r"ckpt\.(\d+)\.h5", os.path.basename(path))
        if m:
            found.append((int(m.group(1)), path))
    if not found:
        fail("no ckpt.<seq>.h5 in " + directory)
    return max(found)[1]


def main():
    if len(sys.argv) != 2:
        print("usage: h5py_global.py DIR", file=sys.stderr)
        sys.exit(2)
    path = newest(sys.argv[1])
    with h5py.File(path, "r") as f:
        if int(f.attrs["ckpt.format_version"]) < 3:
            fail(path + ": format %d, expected 3 or later" % int(f.attrs["ckpt.format_version"]))
        ranks = int(f.attrs["ckpt.ranks"])
        for name, spread in (("u", "block"), ("w", "block"), ("particles", "concatenated"), ("step", "replicated")):
            got = text(f["/state/" + name].attrs["ckpt.distribution"])
            if got != spread:
                fail("/state/%s: ckpt.distribution %r, expected %r" % (name, got, spread))

        # u: the 2-D block, a float64 array of the global shape.
        u = f["/state/u"]
        if u.shape != (37, 23) or u.dtype != np.float64:
            fail("/state/u is %s %s, expected (37, 23) float64" % (u.shape, u.dtype))
        u = u[...]
        i, j = np.meshgrid(np.arange(37, dtype=np.float64), np.arange(23, dtype=np.float64), indexing="ij")
        sine = np.sin(0.37 * i) * 1000.0  # numpy's sin may differ from libm's in the last ulp
        want = sine + j / 7.0
        # Within 1e-12 of the terms' size (not of the sum's, which cancels near zero).
        scale = np.abs(sine) + np.abs(j / 7.0)
        bad = np.argwhere(np.abs(u - want) > 1e-12 * scale)
        if bad.size:
            a, b = bad[0]
            fail("/state/u[%d, %d] = %r, expected %r" % (a, b, u[a, b], want[a, b]))

        # w: the 3-D block, int32, exactly i*10007 + j*101 + k.
        w = f["/state/w"]
        if w.shape != (11, 9, 7) or w.dtype != np.int32:
            fail("/state/w is %s %s, expected (11, 9, 7) int32" % (w.shape, w.dtype))
        w = w[...]
        wi, wj, wk = np.meshgrid(np.arange(11), np.arange(9), np.arange(7), indexing="ij")
        wwant = (wi * 10007 + wj * 101 + wk).astype(np.int32)
        if not np.array_equal(w, wwant):
            a, b, c = np.argwhere(w != wwant)[0]
            fail("/state/w[%d, %d, %d] = %d, expected %d" % (a, b, c, w[a, b, c], wwant[a, b, c]))

        # particles: every rank's part, concatenated in rank order: sqrt(g) + 0.25 for each
        # global index g (sqrt is correctly rounded in numpy and libm alike: exact).
        p = f["/state/particles"]
        total = sum(written_count(r) for r in range(ranks))
        if p.shape != (total,) or p.dtype != np.float64:
            fail("/state/particles is %s %s, expected (%d,) float64 (%d ranks)" % (p.shape, p.dtype, total, ranks))
        p = p[...]
        pwant = np.sqrt(np.arange(total, dtype=np.float64)) + 0.25
        if not np.array_equal(p, pwant):
            g = int(np.argwhere(p != pwant)[0][0])
            fail("/state/particles[%d] = %r, expected %r" % (g, p[g], pwant[g]))
        for g in range(total):  # and against Python's own sqrt, element by element
            if p[g] != math.sqrt(g) + 0.25:
                fail("/state/particles[%d] = %r, expected %r" % (g, p[g], math.sqrt(g) + 0.25))

        # step: replicated, stored once.
        step = f["/state/step"]
        if step.shape != (1,) or int(step[0]) != 4242:
            fail("/state/step is %s %s, expected [4242]" % (step.shape, step[...]))

        # The checksums: the definition in docs/file-format.md gives the stored position sums.
        for name in ("u", "w", "particles", "ids"):
            check_position_sums(f, name)

        # With NM_STATE_COMPRESSION: every entry was read through its filters (above), and its
        # pipeline is the one docs/compression.md names.
        compression = os.environ.get("NM_STATE_COMPRESSION", "")
        if compression:
            for name in ("u", "w", "particles", "ids", "step", "table"):
                check_pipeline(f["/state/" + name], compression)

    print("h5py_global: ok: %s (%d ranks): /state/u (37, 23), /state/w (11, 9, 7), %d particles, step 4242%s"
          % (path, ranks, total, ", compressed " + compression if compression else ""))


def check_pipeline(dset, compression):
    """The dataset's filters: shuffle (for elements of more than a byte), then deflate at the
    level given or LZ4 (HDF5 filter 32004)."""
    plist = dset.id.get_create_plist()
    filters = [plist.get_filter(k) for k in range(plist.get_nfilters())]
    ids = [f[0] for f in filters]
    want = [h5py.h5z.FILTER_SHUFFLE] if dset.dtype.itemsize > 1 else []
    if compression == "lz4":
        want.append(32004)
    else:
        want.append(h5py.h5z.FILTER_DEFLATE)
        level = int(filters[-1][2][0]) if filters and filters[-1][2] else -1
        if level != int(compression.split(":")[1]):
            fail("%s: deflate level %d, expected %s" % (dset.name, level, compression))
    if ids != want:
        fail("%s: filters %s, expected %s" % (dset.name, ids, want))


if __name__ == "__main__":
    main()
