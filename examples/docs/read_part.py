"""Read one rank's part of a ckpt entry without ckpt (docs/file-format.md).

Illustrative: needs h5py and xxhash (Debian: python3-h5py python3-xxhash); not run by CI.
    python3 read_part.py ckpt/ckpt.000001.h5 grid 1
"""
import sys

import h5py
import xxhash


def read_part(path, entry, rank):
    """Rank `rank`'s part of `entry` ("u", "mesh/coords"), checksum-verified and reshaped."""
    with h5py.File(path, "r") as f:
        data = f["/state/" + entry]
        row = [int(v) for v in f["/layout/" + entry][rank]]  # offset, count, xxh64, extents...
        offset, count, digest, extents = row[0], row[1], row[2], tuple(row[3:])
        part = data[offset:offset + count]                   # a 1-D numpy array
        if xxhash.xxh64_intdigest(part.tobytes(), seed=0) != digest:
            raise ValueError(f"{path}: /state/{entry}, rank {rank}: checksum mismatch")
        codec = data.attrs["ckpt.codec"]                     # fixed-length strings come back as bytes
        if codec != b"direct":
            return part.tobytes()                            # boost.binary: the archive's bytes
        return part.reshape(extents)                         # extents () give a 0-d array (a scalar)


if __name__ == "__main__":
    print(read_part(sys.argv[1], sys.argv[2], int(sys.argv[3])))
