#pragma once
/// XXH64 (xxHash, 64-bit) written from the public algorithm description
/// (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md). ckpt stores one digest per
/// rank per checkpoint entry so a restart can tell a torn or corrupted file from a good one.
/// XXH64 is chosen because it runs near memory bandwidth, so checksumming never dominates the
/// cost of writing a checkpoint, and because `xxhsum -H1` lets anyone verify a digest by hand.
///
/// Digests are defined on the little-endian reading of the bytes, so they are identical on
/// every platform; loads go through std::memcpy, which is legal at any alignment and compiles
/// to a single move.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace ckpt::detail {

namespace xxh64_impl {

inline constexpr std::uint64_t prime1 = 0x9E3779B185EBCA87ULL;
inline constexpr std::uint64_t prime2 = 0xC2B2AE3D27D4EB4FULL;
inline constexpr std::uint64_t prime3 = 0x165667B19E3779F9ULL;
inline constexpr std::uint64_t prime4 = 0x85EBCA77C2B2AE63ULL;
inline constexpr std::uint64_t prime5 = 0x27D4EB2F165667C5ULL;

/// Bytes per stripe: four 8-byte lanes are hashed independently so the CPU can overlap them.
inline constexpr std::size_t stripe = 32;

inline constexpr std::uint64_t rotl(std::uint64_t x, int r) noexcept {
    return (x << r) | (x >> (64 - r));
}

/// Host is big-endian: loads must be byte-swapped to keep digests platform-independent.
/// C++17 has no std::endian, so use the predefined macro where the compiler offers one;
/// compilers without it (MSVC) only target little-endian machines.
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
inline constexpr bool big_endian_host = true;
#else
inline constexpr bool big_endian_host = false;
#endif

inline std::uint64_t bswap64(std::uint64_t x) noexcept {
    x = ((x & 0x00000000FFFFFFFFULL) << 32) | (x >> 32);
    x = ((x & 0x0000FFFF0000FFFFULL) << 16) | ((x >> 16) & 0x0000FFFF0000FFFFULL);
    return ((x & 0x00FF00FF00FF00FFULL) << 8) | ((x >> 8) & 0x00FF00FF00FF00FFULL);
}

inline std::uint32_t bswap32(std::uint32_t x) noexcept {
    x = (x << 16) | (x >> 16);
    return ((x & 0x00FF00FFU) << 8) | ((x >> 8) & 0x00FF00FFU);
}

/// Unaligned little-endian loads; memcpy avoids the UB of casting a byte pointer.
inline std::uint64_t read64(const unsigned char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (big_endian_host) v = bswap64(v);
    return v;
}

inline std::uint32_t read32(const unsigned char* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (big_endian_host) v = bswap32(v);
    return v;
}

inline std::uint64_t lane_round(std::uint64_t acc, std::uint64_t input) noexcept {
    acc += input * prime2;
    acc = rotl(acc, 31);
    return acc * prime1;
}

inline std::uint64_t merge_round(std::uint64_t acc, std::uint64_t lane) noexcept {
    acc ^= lane_round(0, lane);
    return acc * prime1 + prime4;
}

/// The four lane accumulators. Kept as a plain struct so the hot loop can copy them into locals
/// (registers) instead of updating memory that the input pointer might alias.
struct Lanes {
    std::uint64_t v1, v2, v3, v4;
};

inline Lanes init_lanes(std::uint64_t seed) noexcept {
    return {seed + prime1 + prime2, seed + prime2, seed, seed - prime1};
}

/// Hashes every whole stripe of [p, p + size) into `lanes`; returns how many bytes it consumed
/// (a multiple of 32). This is the only loop that sees large inputs.
inline std::size_t consume_stripes(Lanes& lanes, const unsigned char* p, std::size_t size) noexcept {
    std::uint64_t v1 = lanes.v1, v2 = lanes.v2, v3 = lanes.v3, v4 = lanes.v4;
    const std::size_t n = size - size % stripe;
    const unsigned char* const end = p + n;
    for (; p != end; p += stripe) {
        v1 = lane_round(v1, read64(p));
        v2 = lane_round(v2, read64(p + 8));
        v3 = lane_round(v3, read64(p + 16));
        v4 = lane_round(v4, read64(p + 24));
    }
    lanes = {v1, v2, v3, v4};
    return n;
}

inline std::uint64_t converge(const Lanes& l) noexcept {
    std::uint64_t h = rotl(l.v1, 1) + rotl(l.v2, 7) + rotl(l.v3, 12) + rotl(l.v4, 18);
    h = merge_round(h, l.v1);
    h = merge_round(h, l.v2);
    h = merge_round(h, l.v3);
    return merge_round(h, l.v4);
}

/// Mixes in the last (< 32) bytes and the length-dependent avalanche; `h` already includes the
/// total length.
inline std::uint64_t finalize(std::uint64_t h, const unsigned char* p, std::size_t size) noexcept {
    for (; size >= 8; size -= 8, p += 8) {
        h ^= lane_round(0, read64(p));
        h = rotl(h, 27) * prime1 + prime4;
    }
    if (size >= 4) {
        h ^= static_cast<std::uint64_t>(read32(p)) * prime1;
        h = rotl(h, 23) * prime2 + prime3;
        size -= 4;
        p += 4;
    }
    for (; size > 0; --size, ++p) {
        h ^= static_cast<std::uint64_t>(*p) * prime5;
        h = rotl(h, 11) * prime1;
    }
    h ^= h >> 33;
    h *= prime2;
    h ^= h >> 29;
    h *= prime3;
    h ^= h >> 32;
    return h;
}

}  // namespace xxh64_impl

/// One-shot XXH64 of [data, data + size). Same digest as `xxhsum -H1` for seed 0.
/// Null `data` is allowed when `size` is 0.
inline std::uint64_t xxh64(const void* data, std::size_t size, std::uint64_t seed = 0) noexcept {
    using namespace xxh64_impl;
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint64_t h;
    std::size_t done = 0;
    if (size >= stripe) {
        Lanes lanes = init_lanes(seed);
        done = consume_stripes(lanes, p, size);
        h = converge(lanes);
    } else {
        h = seed + prime5;
    }
    h += static_cast<std::uint64_t>(size);
    return finalize(h, p + done, size - done);
}

/// Streaming XXH64 so a checksum can be computed over several buffers (e.g. a blob in pieces).
/// Any split of the input gives the same digest as xxh64() over the concatenation.
class Xxh64 {
public:
    explicit Xxh64(std::uint64_t seed = 0) noexcept
        : lanes_(xxh64_impl::init_lanes(seed)), seed_(seed) {}

    /// Appends [data, data + size). Null `data` is allowed when `size` is 0.
    void update(const void* data, std::size_t size) noexcept {
        using namespace xxh64_impl;
        if (size == 0) return;
        const auto* p = static_cast<const unsigned char*>(data);
        total_ += size;
        // Top up a partial stripe left by an earlier call first, so stripes stay 32-byte aligned
        // to the start of the stream, not to each buffer.
        if (buffered_ != 0) {
            const std::size_t take = size < stripe - buffered_ ? size : stripe - buffered_;
            std::memcpy(buffer_ + buffered_, p, take);
            buffered_ += take;
            p += take;
            size -= take;
            if (buffered_ < stripe) return;
            consume_stripes(lanes_, buffer_, stripe);
            buffered_ = 0;
        }
        const std::size_t done = consume_stripes(lanes_, p, size);
        buffered_ = size - done;
        if (buffered_ != 0) std::memcpy(buffer_, p + done, buffered_);
    }

    /// Digest of everything appended so far; does not change the state, so update() may continue.
    std::uint64_t digest() const noexcept {
        using namespace xxh64_impl;
        std::uint64_t h = total_ >= stripe ? converge(lanes_) : seed_ + prime5;
        h += total_;
        return finalize(h, buffer_, buffered_);
    }

private:
    xxh64_impl::Lanes lanes_;
    std::uint64_t seed_;
    std::uint64_t total_ = 0;
    unsigned char buffer_[xxh64_impl::stripe] = {};
    std::size_t buffered_ = 0;
};

/// A digest as 16 lowercase hex digits, zero-padded: the form stored in checkpoint metadata
/// and printed by `xxhsum -H1`, so the two can be compared by eye.
inline std::string checksum_hex(std::uint64_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 0xF];
    return s;
}

}  // namespace ckpt::detail
