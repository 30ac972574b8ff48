#pragma once
/// The checksum of a distributed entry (block or concatenated): the sum, modulo 2^64, of one
/// 64-bit term per element, mixed from the element's bits and its index in the global array.
/// A sum over any partition of the array adds up to the same value, so a restore on another
/// number of ranks verifies every stored part from the pieces the new ranks read (one
/// reduction), without reading any element twice. Each term is a bijection of the element's
/// bits at a given index (an odd multiply, an xor-shift, an odd multiply), so changing any one element always
/// changes the sum; several changes cancel with probability 2^-64.

#include "ckpt/detail/box.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

namespace ckpt::detail {

/// The term of an element whose (8 bytes of) bits are `v`, keyed by `key` (its index's): two
/// odd multiplies around an xor-shift, each a bijection, so a bijection of v at a given key.
inline std::uint64_t position_term(std::uint64_t v, std::uint64_t key) {
    std::uint64_t x = (v ^ key) * 0xC2B2AE3D27D4EB4FULL;
    x ^= x >> 31;
    return x * 0x165667B19E3779F9ULL;
}

/// The sum of the terms of `count` consecutive elements of `size` bytes at `data`, whose first
/// element has global index `index`.
inline std::uint64_t position_sum_run(const unsigned char* data, std::size_t size, std::uint64_t index,
                                      std::uint64_t count) {
    constexpr std::uint64_t step = 0x9E3779B97F4A7C15ULL;
    std::uint64_t sum = 0, key = (index + 1) * step;
    if (size == 8) {
        for (std::uint64_t i = 0; i < count; ++i, key += step) {
            std::uint64_t v;
            std::memcpy(&v, data + i * 8, 8);
            sum += position_term(v, key);
        }
    } else if (size < 8) {
        for (std::uint64_t i = 0; i < count; ++i, key += step) {
            std::uint64_t v = 0;
            std::memcpy(&v, data + i * size, size);
            sum += position_term(v, key);
        }
    } else {  // 16 or 32 bytes: one term per 8-byte word, each keyed by its word
        for (std::uint64_t i = 0; i < count; ++i, key += step)
            for (std::size_t w = 0; w < size / 8; ++w) {
                std::uint64_t v;
                std::memcpy(&v, data + i * size + w * 8, 8);
                sum += position_term(v, key + w * 0xD6E8FEB86659FD93ULL);
            }
    }
    return sum;
}

/// The position sum of `region` (global coordinates) of an array of shape `global`, held in a
/// rank's memory `data` of shape `memory` where element `memory_start` is the region's first.
inline std::uint64_t position_sum(const void* data, std::size_t size, const std::vector<std::uint64_t>& memory,
                                  const std::vector<std::uint64_t>& memory_start, const Box& region,
                                  const std::vector<std::uint64_t>& global) {
    std::uint64_t sum = 0;
    const auto* bytes = static_cast<const unsigned char*>(data);
    for_each_run(memory, memory_start, region, global, [&](std::uint64_t mem, std::uint64_t index, std::uint64_t n) {
        sum += position_sum_run(bytes + mem * size, size, index, n);
    });
    return sum;
}

}  // namespace ckpt::detail
