#pragma once
/// An entry's declared distribution (ckpt/distribution.hpp), applied to the leaves its codec
/// produced, and the collective checks a checkpoint makes of it before anything is written:
/// replicated leaves hold the same value on every rank, block leaves tile their global array.

#include "ckpt/distribution.hpp"
#include "ckpt/detail/box.hpp"
#include "ckpt/detail/checksum.hpp"
#include "ckpt/detail/leaf.hpp"
#include "ckpt/detail/mpi/comm.hpp"
#include "ckpt/error.hpp"

#include <climits>
#include <string>
#include <vector>

namespace ckpt::detail {

inline Spread spread_of(Distribution::Kind k) {
    switch (k) {
        case Distribution::Kind::Replicated: return Spread::Replicated;
        case Distribution::Kind::Block: return Spread::Block;
        case Distribution::Kind::Concatenated: return Spread::Concatenated;
        default: return Spread::PerRank;
    }
}

inline UsageError declaration_error(const std::string& name, const std::string& what, const std::string& hint) {
    return UsageError({"entry \"" + name + "\" " + what, "", "/state/" + name, -1, hint});
}

/// At protect(): what is wrong with the declaration on its own (not collective, no data yet).
inline void check_declaration(const std::string& name, const Distribution& how) {
    const bool block = how.kind() == Distribution::Kind::Block;
    if (!block && how.interior().size() > 0)
        raise(declaration_error(name, "declares ghosts() but is not block-distributed", "ghosts() belongs to ckpt::block(...)"));
    if (how.has_split() && how.kind() != Distribution::Kind::Concatenated)
        raise(declaration_error(name, "declares split() but is not concatenated", "split() belongs to ckpt::concatenated()"));
    if (how.has_redistribute() && how.kind() != Distribution::Kind::PerRank)
        raise(declaration_error(name, "declares redistribute() but is not per-rank",
                                "the other distributions restore on any rank count by themselves"));
    if (!block) return;
    const std::size_t nd = how.global().size();
    if (nd == 0) raise(declaration_error(name, "is a block of a global array with no dimensions", "give the global shape"));
    if (how.offset().size() != nd || how.count().size() != nd || (how.interior().size() != 0 && how.interior().size() != nd))
        raise(declaration_error(name,
                                "declares a block whose global shape, offset, count and ghosts have different numbers "
                                "of dimensions (" + std::to_string(nd) + ", " + std::to_string(how.offset().size()) + ", " +
                                    std::to_string(how.count().size()) + ", " + std::to_string(how.interior().size()) + ")",
                                "give one value per dimension of the global array in each"));
    if (how.global().negative() || how.offset().negative() || how.count().negative() || how.interior().negative())
        raise(declaration_error(name, "declares a block with a negative size or index", ""));
    for (std::size_t d = 0; d < nd; ++d)
        if (how.offset().values()[d] > how.global().values()[d] ||
            how.count().values()[d] > how.global().values()[d] - how.offset().values()[d])
            raise(declaration_error(name, "declares a block that lies outside its global shape in dimension " + std::to_string(d),
                                    "offset + count must not exceed the global extent"));
}

/// At a checkpoint: applies `how` to the leaves entry `name` produced, nodes[first..].
inline void apply_distribution(std::vector<SaveNode>& nodes, std::size_t first, const std::string& name,
                               const Distribution& how) {
    const Spread spread = spread_of(how.kind());
    if (spread == Spread::PerRank) return;
    if (spread == Spread::Replicated) {
        for (std::size_t i = first; i < nodes.size(); ++i) {
            nodes[i].spread = spread;
            nodes[i].warn_if_ranks_differ = how.disagreement() == OnDisagreement::Warn;
        }
        return;
    }
    const char* what = spread == Spread::Block ? "block-distributed" : "concatenated";
    if (nodes.size() != first + 1 || nodes[first].codec != "direct")
        raise(declaration_error(name, std::string("is declared ") + what + " but is not one array of numbers",
                                "declare arrays (std::vector, ckpt::ArrayView, ckpt_view) only"));
    SaveNode& n = nodes[first];
    n.spread = spread;
    if (spread == Spread::Concatenated) {
        if (n.extents.size() != 1)
            raise(declaration_error(name, "is declared concatenated but has " + std::to_string(n.extents.size()) + " dimensions",
                                    "concatenate 1-D arrays (a std::vector); declare an N-d array ckpt::block(...)"));
        return;
    }
    const std::size_t nd = how.global().size();
    if (n.extents.size() != nd)
        raise(declaration_error(name, "is a " + std::to_string(n.extents.size()) + "-D view declared as a block of a " +
                                          std::to_string(nd) + "-D array",
                                "the view must have the global array's number of dimensions"));
    n.global = how.global().values();
    n.box = {how.offset().values(), how.count().values()};
    n.interior = how.interior().size() ? how.interior().values() : std::vector<std::uint64_t>(nd, 0);
    for (std::size_t d = 0; d < nd; ++d)
        if (n.interior[d] + n.box.count[d] > n.extents[d])
            raise(declaration_error(name, "is a view of " + std::to_string(n.extents[d]) + " elements in dimension " +
                                              std::to_string(d) + ", too few for ghosts " + std::to_string(n.interior[d]) +
                                              " + count " + std::to_string(n.box.count[d]),
                                    "the view must hold the ghost layers and the owned box"));
    n.count = n.box.volume();
}

/// Collective, after the ranks agreed on the structure. Throws UsageError on every rank when a
/// block leaf's boxes do not tile its global array.
inline void check_tiling(const mpi::Comm& comm, const std::vector<SaveNode>& nodes) {
    for (const SaveNode& n : nodes) {
        if (n.spread != Spread::Block) continue;
        const std::size_t nd = n.global.size();
        std::vector<std::uint64_t> mine = n.box.origin;
        mine.insert(mine.end(), n.box.count.begin(), n.box.count.end());
        mine.insert(mine.end(), n.global.begin(), n.global.end());
        const std::vector<std::uint64_t> all = comm.allgather(mine);
        std::vector<Box> boxes(static_cast<std::size_t>(comm.size()));
        for (std::size_t r = 0; r < boxes.size(); ++r) {
            const auto* row = all.data() + r * 3 * nd;
            if (!std::equal(row + 2 * nd, row + 3 * nd, n.global.begin()))
                raise(UsageError({"entry \"" + entry_name(n.path) + "\": ranks declare different global shapes (rank " +
                                      std::to_string(r) + " differs from rank " + std::to_string(comm.rank()) + ")",
                                  "", n.path, -1, "every rank declares the same global shape"}));
            boxes[r] = {std::vector<std::uint64_t>(row, row + nd), std::vector<std::uint64_t>(row + nd, row + 2 * nd)};
        }
        const std::string problem = tiling_problem(boxes, n.global);
        if (!problem.empty())
            raise(UsageError({"entry \"" + entry_name(n.path) + "\": the ranks' blocks do not tile the global array: " + problem,
                              "", n.path, -1, "give every element of the global array to exactly one rank"}));
    }
}

/// A replicated leaf's value and shape, hashed.
inline std::uint64_t replica_hash(const SaveNode& n) {
    Xxh64 h;
    if (n.count) h.update(n.data, n.count * element_size(n.element));
    h.update(n.extents.data(), n.extents.size() * sizeof(std::uint64_t));
    return h.digest();
}

/// Collective. For each replicated leaf whose value differs between ranks: its index and the
/// first rank that differs from rank 0.
inline std::vector<std::pair<std::size_t, int>> replica_disagreements(const mpi::Comm& comm,
                                                                      const std::vector<SaveNode>& nodes) {
    std::vector<std::size_t> which;
    std::vector<std::uint64_t> hashes;
    for (std::size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].spread == Spread::Replicated && !nodes[i].is_group()) {
            which.push_back(i);
            hashes.push_back(replica_hash(nodes[i]));
        }
    std::vector<std::pair<std::size_t, int>> out;
    if (which.empty() || comm.size() == 1) return out;
    std::vector<std::uint64_t> first = hashes;
    comm.bcast(first.data(), static_cast<int>(first.size()));
    std::vector<int> differs(which.size());
    for (std::size_t j = 0; j < which.size(); ++j) differs[j] = hashes[j] != first[j] ? comm.rank() : INT_MAX;
    comm.allreduce(differs.data(), static_cast<int>(differs.size()), MPI_MIN);
    for (std::size_t j = 0; j < which.size(); ++j)
        if (differs[j] != INT_MAX) out.emplace_back(which[j], differs[j]);
    return out;
}

}  // namespace ckpt::detail
