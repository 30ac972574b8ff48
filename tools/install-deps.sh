#!/bin/sh
# Installs every Debian 12 package that ckpt's build, tests, examples and benchmarks need.
# Run as root, or as a user with sudo. Does nothing (and needs no network) when all are present.
set -eu

# python3-h5py (it brings numpy): tests/redistribution/h5py_global.py reads a checkpoint without ckpt.
# liblz4-dev: compression=lz4 (docs/compression.md; optional for ckpt, needed by its tests);
# hdf5-filter-plugin: the LZ4 filter for h5py and h5dump, which the compressed h5py tests use.
packages="g++ make cmake mpich libmpich-dev libhdf5-mpich-dev hdf5-tools
libboost-serialization-dev catch2 liblz4-dev
python3-h5py hdf5-filter-plugin"

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages already installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "install-deps: need root or sudo to install:$missing" >&2
    exit 1
fi

echo "install-deps: installing$missing"
# shellcheck disable=SC2086  # word splitting of $as_root and $missing is intended
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
