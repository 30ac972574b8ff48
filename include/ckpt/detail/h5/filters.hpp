#pragma once
/// The HDF5 filters behind ckpt::Compression (docs/compression.md): the chunk shape of a
/// compressed dataset, its filter pipeline, and ckpt's own LZ4 filter.
///
/// LZ4 is HDF5's registered filter 32004, in the stream format of the HDF Group's LZ4 plugin
/// (what Debian's hdf5-filter-plugin and hdf5plugin for h5py read): a big-endian 8-byte size of
/// the chunk and 4-byte block size, then per block a big-endian 4-byte stored size and the
/// block, LZ4-compressed or, when that saves nothing, as it is. ckpt registers its own
/// implementation, on liblz4, instead of loading the plugin: Debian builds the plugin against
/// the serial HDF5, which an MPI process must not load beside the parallel one.

#include "ckpt/compression.hpp"
#include "ckpt/detail/h5/check.hpp"

#if defined(CKPT_HAVE_LZ4) && CKPT_HAVE_LZ4
#include <lz4.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace ckpt::detail::h5 {

/// HDF5's registered id of the LZ4 filter.
constexpr H5Z_filter_t lz4_filter_id = 32004;
/// The most bytes a compressed dataset's chunk holds: HDF5's chunk cache (1 MiB by default)
/// then holds a whole chunk, for readers that read piece by piece (h5py slices).
constexpr std::uint64_t chunk_bytes = std::uint64_t{1} << 20;

/// A chunk shape for a dataset of shape `dims` (no dimension 0) and elements of `size` bytes:
/// whole trailing dimensions while they fit in chunk_bytes, then a part of the next one, 1 in
/// the rest; so a chunk is a run of consecutive elements of the global array.
inline std::vector<hsize_t> chunk_shape(const std::vector<std::uint64_t>& dims, std::size_t size) {
    std::vector<hsize_t> chunk(dims.size(), 1);
    std::uint64_t room = std::max<std::uint64_t>(1, chunk_bytes / std::max<std::size_t>(size, 1));
    for (std::size_t d = dims.size(); d-- > 0 && room > 1;) {
        chunk[d] = static_cast<hsize_t>(std::min(dims[d], room));
        room /= chunk[d];
        if (chunk[d] < dims[d]) break;
    }
    return chunk;
}

/// The most bytes a leaf of `bytes` raw bytes in `chunks` chunks can take once filtered, each
/// chunk starting in a fresh file-system block of `block` bytes. Deflate may add 0.1% and a few
/// bytes (zlib's bound); LZ4 stores a block that does not shrink as it is, behind 16 bytes.
inline std::uint64_t filtered_bound(std::uint64_t bytes, std::uint64_t chunks, std::uint64_t block) {
    return bytes + bytes / 512 + chunks * (block + 64);
}

#if defined(CKPT_HAVE_LZ4) && CKPT_HAVE_LZ4
namespace lz4_stream {
inline void put_be(unsigned char* at, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i, v >>= 8) at[i] = static_cast<unsigned char>(v & 0xff);
}
inline std::uint64_t get_be(const unsigned char* at, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = v << 8 | at[i];
    return v;
}
constexpr std::size_t header = 12;  ///< 8 bytes of size, 4 of block size

/// Compresses `n` bytes at `in`; returns the stream's length, or 0 (out of room, too large).
inline std::size_t encode(const unsigned char* in, std::size_t n, std::size_t block, unsigned char* out,
                          std::size_t room) {
    put_be(out, n, 8);
    put_be(out + 8, block, 4);
    std::size_t at = header;
    for (std::size_t done = 0; done < n;) {
        const std::size_t len = std::min(block, n - done);
        if (room - at < 4 + len) return 0;
        const int bound = LZ4_compressBound(static_cast<int>(len));
        int stored = 0;
        if (room - at - 4 >= static_cast<std::size_t>(bound))
            stored = LZ4_compress_default(reinterpret_cast<const char*>(in + done), reinterpret_cast<char*>(out + at + 4),
                                          static_cast<int>(len), bound);
        if (stored <= 0 || static_cast<std::size_t>(stored) >= len) {  // no gain: the block as it is
            std::memcpy(out + at + 4, in + done, len);
            stored = static_cast<int>(len);
        }
        put_be(out + at, static_cast<std::uint64_t>(stored), 4);
        at += 4 + static_cast<std::size_t>(stored);
        done += len;
    }
    return at;
}

/// The size a stream of `n` bytes says it decodes to, or SIZE_MAX if its header is not sound.
inline std::size_t decoded_size(const unsigned char* in, std::size_t n) {
    if (n < header) return std::numeric_limits<std::size_t>::max();
    const std::uint64_t size = get_be(in, 8), block = get_be(in + 8, 4);
    // LZ4 shrinks at most about 255-fold: a larger size is a corrupt header, not a chunk.
    if ((size > 0 && block == 0) || size / 256 > n) return std::numeric_limits<std::size_t>::max();
    return static_cast<std::size_t>(size);
}

/// Decodes the stream `in` of `n` bytes into `out` (decoded_size() bytes); false if it is corrupt.
inline bool decode(const unsigned char* in, std::size_t n, unsigned char* out, std::size_t size) {
    const std::size_t block = std::min<std::size_t>(static_cast<std::size_t>(get_be(in + 8, 4)), size);
    std::size_t at = header;
    for (std::size_t done = 0; done < size;) {
        const std::size_t len = std::min(block, size - done);
        if (n - at < 4) return false;
        const std::size_t stored = static_cast<std::size_t>(get_be(in + at, 4));
        at += 4;
        if (stored > n - at || stored > static_cast<std::size_t>(std::numeric_limits<int>::max())) return false;
        if (stored == len) {
            std::memcpy(out + done, in + at, len);
        } else if (LZ4_decompress_safe(reinterpret_cast<const char*>(in + at), reinterpret_cast<char*>(out + done),
                                       static_cast<int>(stored), static_cast<int>(len)) != static_cast<int>(len)) {
            return false;
        }
        at += stored;
        done += len;
    }
    return true;
}
}  // namespace lz4_stream

/// The filter callback (H5Z_func_t): replaces *buf with the other form; 0 on failure, when HDF5
/// keeps *buf (and, writing, stores that chunk unfiltered: the filter is optional).
inline std::size_t lz4_filter(unsigned flags, std::size_t cd_nelmts, const unsigned cd_values[], std::size_t nbytes,
                              std::size_t* buf_size, void** buf) {
    const auto* in = static_cast<const unsigned char*>(*buf);
    std::size_t out_size = 0, length = 0;
    void* out = nullptr;
    if (flags & H5Z_FLAG_REVERSE) {
        out_size = lz4_stream::decoded_size(in, nbytes);
        if (out_size == std::numeric_limits<std::size_t>::max()) return 0;
        out = H5allocate_memory(std::max<std::size_t>(out_size, 1), false);
        if (out == nullptr) return 0;
        if (!lz4_stream::decode(in, nbytes, static_cast<unsigned char*>(out), out_size)) {
            H5free_memory(out);
            return 0;
        }
        length = out_size;
    } else {
        std::size_t block = cd_nelmts > 0 && cd_values[0] > 0 ? cd_values[0] : std::size_t{1} << 30;
        if (nbytes > static_cast<std::size_t>(LZ4_MAX_INPUT_SIZE)) return 0;
        block = std::max<std::size_t>(1, std::min(block, nbytes));
        const std::size_t blocks = nbytes == 0 ? 0 : (nbytes - 1) / block + 1;
        out_size = lz4_stream::header + blocks * (4 + static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(block))));
        out = H5allocate_memory(out_size, false);
        if (out == nullptr) return 0;
        length = lz4_stream::encode(in, nbytes, block, static_cast<unsigned char*>(out), out_size);
        if (length == 0) {
            H5free_memory(out);
            return 0;
        }
    }
    H5free_memory(*buf);
    *buf = out;
    *buf_size = out_size;
    return length;
}

/// Registers the LZ4 filter with HDF5, once per process (any later HDF5 call may need it).
inline void register_lz4() {
    static const herr_t registered = [] {
        static const H5Z_class2_t lz4_class = {H5Z_CLASS_T_VERS, lz4_filter_id, 1, 1,
                                                "lz4 (ckpt, the format of HDF5 filter 32004)", nullptr, nullptr,
                                                &lz4_filter};
        Silence quiet;
        return H5Zregister(&lz4_class);
    }();
    check(registered, "H5Zregister (LZ4)", "");
}
#endif

/// Why `c` cannot be written in this process ("" if it can): its filter is missing.
inline std::string filter_problem(const Compression& c) {
    switch (c.method()) {
        case Compression::Method::Off: return {};
        case Compression::Method::Deflate: {
            unsigned info = 0;
            if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0 && H5Zget_filter_info(H5Z_FILTER_DEFLATE, &info) >= 0 &&
                (info & H5Z_FILTER_CONFIG_ENCODE_ENABLED))
                return {};
            return "this HDF5 library has no deflate (zlib) encoder: use a build of HDF5 with zlib "
                   "(Debian's libhdf5-mpich-dev has it), or compression=lz4";
        }
        case Compression::Method::Lz4:
#if defined(CKPT_HAVE_LZ4) && CKPT_HAVE_LZ4
            return {};
#else
            return "this program was built without LZ4: install liblz4 (Debian: apt-get install liblz4-dev) and "
                   "reconfigure, so that ckpt's CMake target finds it (it then defines CKPT_HAVE_LZ4 and links "
                   "-llz4), or use compression=deflate";
#endif
    }
    return {};
}

/// Chunked layout and the filter pipeline of `c` on a dataset creation list, for a dataset of
/// shape `dims` (no dimension 0) and elements of `size` bytes. Shuffle first (bytes of equal
/// significance together), for elements wider than a byte. Both filters are optional: a chunk
/// that a filter fails on is stored as it is.
inline void set_filters(hid_t dcpl, const Compression& c, const std::vector<std::uint64_t>& dims, std::size_t size,
                        const std::string& file, const std::string& object) {
    const std::vector<hsize_t> chunk = chunk_shape(dims, size);
    check(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk", file, object);
    if (size > 1) check(H5Pset_shuffle(dcpl), "H5Pset_shuffle", file, object);
    if (c.method() == Compression::Method::Deflate)
        check(H5Pset_deflate(dcpl, static_cast<unsigned>(c.level())), "H5Pset_deflate", file, object);
#if defined(CKPT_HAVE_LZ4) && CKPT_HAVE_LZ4
    if (c.method() == Compression::Method::Lz4) {
        register_lz4();
        check(H5Pset_filter(dcpl, lz4_filter_id, H5Z_FLAG_OPTIONAL, 0, nullptr), "H5Pset_filter (LZ4)", file, object);
    }
#endif
}

/// What set_filters() made of a dataset, read back: "" (not filtered), "deflate:L", "lz4", or
/// "filters A,B" (HDF5 ids) for a pipeline ckpt does not write.
inline std::string filters_text(hid_t dset, const std::string& file, const std::string& object) {
    Handle dcpl(check(H5Dget_create_plist(dset), "H5Dget_create_plist", file, object), H5Pclose);
    const int n = check(H5Pget_nfilters(dcpl), "H5Pget_nfilters", file, object);
    std::vector<H5Z_filter_t> ids;
    unsigned level = 0;
    for (int k = 0; k < n; ++k) {
        unsigned flags = 0, values[8] = {};
        std::size_t count = 8;
        ids.push_back(check(H5Pget_filter2(dcpl, static_cast<unsigned>(k), &flags, &count, values, 0, nullptr, nullptr),
                            "H5Pget_filter2", file, object));
        if (ids.back() == H5Z_FILTER_DEFLATE && count > 0) level = values[0];
    }
    if (ids.empty()) return {};
    const std::size_t first = ids.front() == H5Z_FILTER_SHUFFLE ? 1 : 0;  // shuffle goes with either
    if (ids.size() == first + 1 && ids[first] == H5Z_FILTER_DEFLATE) return "deflate:" + std::to_string(level);
    if (ids.size() == first + 1 && ids[first] == lz4_filter_id) return "lz4";
    std::string text = "filters ";
    for (std::size_t k = 0; k < ids.size(); ++k) text += (k ? "," : "") + std::to_string(ids[k]);
    return text;
}

}  // namespace ckpt::detail::h5
