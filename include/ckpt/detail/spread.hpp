#pragma once
/// An entry's declared distribution (ckpt/distribution.hpp), applied to the leaves its codec
/// produced, and the checks made of it across the ranks before anything is written or read:
/// replicated leaves hold the same value on every rank, block leaves tile their global array.

#include "ckpt/distribution.hpp"
#include "ckpt/detail/box.hpp"
#include "ckpt/detail/checksum.hpp"
#include "ckpt/detail/leaf.hpp"
#include "ckpt/error.hpp"

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
    if (!how.compression().valid())
        raise(declaration_error(name, "declares compression " + how.compression().text(),
                                "give a deflate level from 1 to 9"));
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
    for (std::size_t i = first; i < nodes.size(); ++i)
        if (how.declares_compression()) nodes[i].compression = how.compression(), nodes[i].compression_declared = true;
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

/// A replicated leaf's value and shape, hashed.
inline std::uint64_t replica_hash(const SaveNode& n) {
    Xxh64 h;
    if (n.count) h.update(n.data, n.count * element_size(n.element));
    h.update(n.extents.data(), n.extents.size() * sizeof(std::uint64_t));
    return h.digest();
}

/// What a rank contributes to the collective checks of its declarations, leaf by leaf: a block
/// leaf's box (origin, count); a replicated leaf's value hash. The ranks exchange these words in
/// the same round in which they agree on the structure (mpi::agree_and_gather).
inline std::vector<std::uint64_t> declaration_words(const std::vector<SaveNode>& nodes) {
    std::vector<std::uint64_t> words;
    for (const SaveNode& n : nodes) {
        if (n.spread == Spread::Block) {
            words.insert(words.end(), n.box.origin.begin(), n.box.origin.end());
            words.insert(words.end(), n.box.count.begin(), n.box.count.end());
        } else if (n.spread == Spread::Replicated && !n.is_group()) {
            words.push_back(replica_hash(n));
        }
    }
    return words;
}

/// The verdict on every rank's declaration_words, `rows[r]` from rank r, starting at word
/// `skip`, once the ranks are known to protect the same structure (so the rows line up): throws
/// UsageError when a block leaf's boxes do not tile its global array, and returns, for each
/// replicated leaf whose value differs between ranks, its index and the first rank that differs
/// from rank 0. Every rank holds the same rows, so every rank reaches the same verdict.
inline std::vector<std::pair<std::size_t, int>> check_declarations(const std::vector<SaveNode>& nodes,
                                                                   const std::vector<std::vector<std::uint64_t>>& rows,
                                                                   std::size_t skip) {
    std::vector<std::pair<std::size_t, int>> disagreements;
    std::size_t at = skip;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const SaveNode& n = nodes[i];
        if (n.spread == Spread::Block) {
            const std::size_t nd = n.global.size();
            std::vector<Box> boxes(rows.size());
            for (std::size_t r = 0; r < rows.size(); ++r) {
                const auto* row = rows[r].data() + at;
                boxes[r] = {std::vector<std::uint64_t>(row, row + nd), std::vector<std::uint64_t>(row + nd, row + 2 * nd)};
            }
            at += 2 * nd;
            const std::string problem = tiling_problem(boxes, n.global);
            if (!problem.empty())
                raise(UsageError({"entry \"" + entry_name(n.path) + "\": the ranks' blocks do not tile the global array: " +
                                      problem,
                                  "", n.path, -1, "give every element of the global array to exactly one rank"}));
        } else if (n.spread == Spread::Replicated && !n.is_group()) {
            for (std::size_t r = 1; r < rows.size(); ++r)
                if (rows[r][at] != rows[0][at]) {
                    disagreements.emplace_back(i, static_cast<int>(r));
                    break;
                }
            ++at;
        }
    }
    return disagreements;
}

}  // namespace ckpt::detail
