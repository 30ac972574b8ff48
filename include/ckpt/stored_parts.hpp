#pragma once
/// ckpt::StoredParts: what a per-rank entry's redistribute() hook is given when a checkpoint
/// written by N ranks is restored on M != N ranks (ckpt/distribution.hpp). Every rank's hook may
/// read any stored rank's part of the entry and rebuild its own object from them:
///
///   cp.protect("tally", tally, ckpt::per_rank().redistribute([&](ckpt::StoredParts& parts) {
///       tally = {};
///       for (int k = 0; k < parts.ranks(); ++k) {
///           if (k % cp.size() != cp.rank()) continue;  // this rank takes over rank k's share
///           Tally old;
///           parts.read(k, old);
///           tally.merge(old);
///       }
///   }));

#include "ckpt/codec.hpp"

#include <string>

namespace ckpt {

class StoredParts {
public:
    StoredParts(detail::LoadSource& source, std::string entry, int ranks) noexcept
        : source_(&source), entry_(std::move(entry)), ranks_(ranks) {}

    /// The number of ranks that wrote the checkpoint: parts 0 .. ranks()-1.
    int ranks() const noexcept { return ranks_; }
    /// The entry's name.
    const std::string& entry() const noexcept { return entry_; }

    /// Reads stored rank `k`'s part of the entry into `object`, of any type the entry could be
    /// protected as, verified against its checksum. Independent: not collective.
    /// Throws: UsageError (k out of range), FormatError, MismatchError, IoError.
    template <class T>
    void read(int k, T& object) {
        detail::PartScope scope(*source_, entry_, k, ranks_);
        Reader r(*source_, "/state");
        r.read(entry_, object);
    }

private:
    detail::LoadSource* source_;
    std::string entry_;
    int ranks_;
};

}  // namespace ckpt
