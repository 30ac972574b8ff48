#pragma once
/// A checkpoint's state copied out of the application's memory, so that it can be written while
/// the application goes on (asynchronous checkpoints, docs/async.md). The copy is the only time
/// the application waits for; hashing and writing happen later, on the worker, from the copy.

#include "ckpt/detail/box.hpp"
#include "ckpt/detail/element.hpp"
#include "ckpt/detail/leaf.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace ckpt::detail {

class Snapshot {
public:
    /// The leaves of `nodes`, each pointing into this snapshot's staging memory: a leaf that
    /// points into the application's memory is copied (a block leaf's box packed, without its
    /// ghost layers, so its view becomes the box itself); a blob the node owns already moves.
    /// The staging memory of the last take() is reused when it is large enough, so it holds at
    /// most one copy of the state.
    std::vector<SaveNode> take(std::vector<SaveNode> nodes) {
        std::uint64_t need = 0;
        for (const auto& n : nodes)
            if (copied(n)) need += padded(n.count * element_size(n.element));
        if (need > capacity_) {
            staging_.reset();  // the old copy goes first: the peak is one copy, not two
            staging_.reset(new unsigned char[static_cast<std::size_t>(need)]);
            capacity_ = need;
        }
        bytes_ = 0;
        unsigned char* at = staging_.get();
        for (auto& n : nodes) {
            if (!copied(n)) continue;
            const std::size_t size = element_size(n.element);
            if (n.spread == Spread::Block) {
                const std::vector<std::uint64_t> zero(n.box.count.size(), 0);
                const auto* view = static_cast<const unsigned char*>(n.data);
                std::uint64_t to = 0;
                for_each_run(n.extents, n.interior, Box{zero, n.box.count}, n.box.count,
                             [&](std::uint64_t mem, std::uint64_t, std::uint64_t len) {
                                 std::memcpy(at + to * size, view + mem * size, static_cast<std::size_t>(len * size));
                                 to += len;
                             });
                n.extents = n.box.count;
                n.interior = zero;
            } else if (n.count > 0) {
                std::memcpy(at, n.data, static_cast<std::size_t>(n.count * size));
            }
            n.data = at;
            at += padded(n.count * size);
            bytes_ += n.count * size;
        }
        return nodes;
    }

    /// Bytes copied by the last take().
    std::uint64_t bytes() const noexcept { return bytes_; }
    /// Bytes of staging memory held.
    std::uint64_t capacity() const noexcept { return capacity_; }

private:
    /// Whether `n` points into memory the application may change once the checkpoint returns.
    static bool copied(const SaveNode& n) {
        if (n.is_group() || n.keep_alive) return false;
        return !(n.data != nullptr && !n.owned.empty() && n.data == static_cast<const void*>(n.owned.data()));
    }
    /// Each leaf starts on a cache line of its own.
    static std::uint64_t padded(std::uint64_t bytes) { return (bytes + 63) / 64 * 64; }

    std::unique_ptr<unsigned char[]> staging_;
    std::uint64_t capacity_ = 0, bytes_ = 0;
};

}  // namespace ckpt::detail
