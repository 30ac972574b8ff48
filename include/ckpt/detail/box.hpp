#pragma once
/// Boxes of a global N-d array (row-major): a block-distributed entry's parts, their
/// intersections on a restore on another rank count, and the check that parts tile the array.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::detail {

struct Box {
    std::vector<std::uint64_t> origin, count;  ///< per dimension

    std::uint64_t volume() const {
        std::uint64_t v = 1;
        for (auto c : count) v *= c;
        return v;
    }
    bool empty() const { return volume() == 0; }
    std::string text() const {
        std::string s = "[";
        for (std::size_t d = 0; d < count.size(); ++d)
            s += (d ? ", " : "") + std::to_string(origin[d]) + ":" + std::to_string(origin[d] + count[d]);
        return s + "]";
    }
};

/// The common part of two boxes of the same rank (empty if none).
inline Box intersect(const Box& a, const Box& b) {
    Box r;
    for (std::size_t d = 0; d < a.count.size(); ++d) {
        const std::uint64_t lo = std::max(a.origin[d], b.origin[d]);
        const std::uint64_t hi = std::min(a.origin[d] + a.count[d], b.origin[d] + b.count[d]);
        r.origin.push_back(lo);
        r.count.push_back(hi > lo ? hi - lo : 0);
    }
    return r;
}

/// Row-major linear index of `at` in an array of shape `global`.
inline std::uint64_t linear_index(const std::vector<std::uint64_t>& at, const std::vector<std::uint64_t>& global) {
    std::uint64_t i = 0;
    for (std::size_t d = 0; d < global.size(); ++d) i = i * global[d] + at[d];
    return i;
}

/// Why `boxes` (one per rank) do not tile an array of shape `global` exactly once, or "".
/// Quadratic in the rank count, for the pairwise overlap test (milliseconds at a thousand ranks).
/// `whole` false: they need only lie inside it without overlapping (some ranks' parts of it).
inline std::string tiling_problem(const std::vector<Box>& boxes, const std::vector<std::uint64_t>& global,
                                  bool whole = true) {
    std::uint64_t total = 1, covered = 0;
    for (auto g : global) total *= g;
    for (std::size_t r = 0; r < boxes.size(); ++r) {
        for (std::size_t d = 0; d < global.size(); ++d)
            if (boxes[r].origin[d] > global[d] || boxes[r].count[d] > global[d] - boxes[r].origin[d])
                return "rank " + std::to_string(r) + "'s box " + boxes[r].text() + " lies outside the global shape";
        covered += boxes[r].volume();
    }
    for (std::size_t a = 0; a < boxes.size(); ++a) {
        if (boxes[a].empty()) continue;
        for (std::size_t b = a + 1; b < boxes.size(); ++b)
            if (!intersect(boxes[a], boxes[b]).empty())
                return "the boxes of ranks " + std::to_string(a) + " " + boxes[a].text() + " and " + std::to_string(b) +
                       " " + boxes[b].text() + " overlap";
    }
    if (whole && covered != total)
        return "the ranks' boxes cover " + std::to_string(covered) + " of the " + std::to_string(total) +
               " elements of the global array";
    return {};
}

/// Calls `run(memory_offset, global_index, length)` for each innermost row of `region` (global
/// coordinates), lying in a rank's memory of shape `memory` whose element `memory_start`
/// holds the region's first element. Offsets and indices count elements; nothing if empty.
template <class F>
void for_each_run(const std::vector<std::uint64_t>& memory, const std::vector<std::uint64_t>& memory_start,
                  const Box& region, const std::vector<std::uint64_t>& global, F&& run) {
    const std::size_t nd = region.count.size();
    if (region.empty()) return;
    if (nd == 0) return run(std::uint64_t{0}, std::uint64_t{0}, std::uint64_t{1});
    std::vector<std::uint64_t> at(nd, 0);  // position inside the region, innermost fixed at 0
    while (true) {
        std::uint64_t mem = 0, glob = 0;
        for (std::size_t d = 0; d < nd; ++d) {
            mem = mem * memory[d] + memory_start[d] + at[d];
            glob = glob * global[d] + region.origin[d] + at[d];
        }
        run(mem, glob, region.count[nd - 1]);
        std::size_t d = nd - 1;
        while (d > 0) {
            --d;
            if (++at[d] < region.count[d]) break;
            at[d] = 0;
            if (d == 0) return;
        }
        if (nd == 1) return;
    }
}

}  // namespace ckpt::detail
