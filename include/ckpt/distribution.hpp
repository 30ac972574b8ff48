#pragma once
/// How a protected entry is spread over the ranks, declared at protect() (docs/distribution.md):
///
///   cp.protect("step", step, ckpt::replicated());                      // the same on every rank
///   cp.protect("u", ckpt::ArrayView<double>(u.data(), {rows + 2, n}),  // memory: rows + 2 halo rows
///              ckpt::block({n, n}, {first_row, 0}, {rows, n}).ghosts({1, 0}));
///   cp.protect("particles", particles, ckpt::concatenated());         // a different count per rank
///   cp.protect("rng", rng, ckpt::per_rank().redistribute([&](ckpt::StoredParts& p) { ... }));
///
/// An entry without a declaration is per-rank: restored only by as many ranks as wrote it. The
/// other three restore on any number of ranks. Any declaration can also be `.optional()`: a
/// checkpoint without the entry leaves it as it is; and `.compress(...)`: how its data is stored
/// (ckpt/compression.hpp).
///
/// Light on purpose (every application includes it): no <functional>, no <memory>.

#include "ckpt/compression.hpp"
#include "ckpt/config.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ckpt {

class StoredParts;  // ckpt/stored_parts.hpp

/// A list of per-dimension sizes or indices, in row-major (C) order. Built from a braced list of
/// one integer type (`{n, n}` with int n) or a vector; negative values are refused at protect().
class Extents {
public:
    Extents() = default;
    template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
    Extents(std::initializer_list<I> values) {  // NOLINT(google-explicit-constructor): {n, n} converts
        for (I v : values) push(static_cast<long long>(v), v < 0);
    }
    template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
    Extents(const std::vector<I>& values) {  // NOLINT(google-explicit-constructor)
        for (I v : values) push(static_cast<long long>(v), v < 0);
    }
    const std::vector<std::uint64_t>& values() const noexcept { return values_; }
    std::size_t size() const noexcept { return values_.size(); }
    /// Whether a value given was negative (reported by protect(), which knows the entry's name).
    bool negative() const noexcept { return negative_; }

private:
    void push(long long v, bool negative) {
        negative_ = negative_ || negative;
        values_.push_back(negative ? 0 : static_cast<std::uint64_t>(v));
    }
    std::vector<std::uint64_t> values_;
    bool negative_ = false;
};

/// What a replicated entry's check does when the ranks hold different values.
enum class OnDisagreement { Fail, Warn };

namespace detail {
/// A copyable, type-erased callable (no <functional> in this header).
class ErasedCallable {
public:
    ErasedCallable() = default;
    template <class F>
    explicit ErasedCallable(F&& f)
        : object_(new std::decay_t<F>(std::forward<F>(f))),
          clone_([](const void* p) -> void* { return new std::decay_t<F>(*static_cast<const std::decay_t<F>*>(p)); }),
          destroy_([](void* p) { delete static_cast<std::decay_t<F>*>(p); }) {}
    ErasedCallable(const ErasedCallable& o) : object_(o.object_ ? o.clone_(o.object_) : nullptr), clone_(o.clone_), destroy_(o.destroy_) {}
    ErasedCallable(ErasedCallable&& o) noexcept
        : object_(std::exchange(o.object_, nullptr)), clone_(o.clone_), destroy_(o.destroy_) {}
    ErasedCallable& operator=(ErasedCallable o) noexcept {
        std::swap(object_, o.object_);
        std::swap(clone_, o.clone_);
        std::swap(destroy_, o.destroy_);
        return *this;
    }
    ~ErasedCallable() {
        if (object_) destroy_(object_);
    }
    explicit operator bool() const noexcept { return object_ != nullptr; }
    template <class F>
    F& as() const noexcept {
        return *static_cast<F*>(object_);
    }
    void* get() const noexcept { return object_; }

private:
    void* object_ = nullptr;
    void* (*clone_)(const void*) = nullptr;
    void (*destroy_)(void*) = nullptr;
};
}  // namespace detail

/// An entry's declaration: its distribution and how strictly it is restored.
class Distribution {
public:
    enum class Kind { PerRank, Replicated, Block, Concatenated };

    Kind kind() const noexcept { return kind_; }

    /// Block only: where the owned box starts inside the rank's memory view, per dimension (the
    /// width of the lower ghost layers). The view's extents must hold ghosts + count.
    Distribution& ghosts(Extents lower) & {
        interior_ = std::move(lower);
        return *this;
    }
    Distribution&& ghosts(Extents lower) && { return std::move(ghosts(std::move(lower))); }

    /// Concatenated only: how many elements rank `rank` of `size` takes of the `total` stored,
    /// on restore. The counts must add up to `total`. Default: an even split, the first
    /// total % size ranks taking one more.
    template <class F>
    Distribution& split(F&& counts) & {
        static_assert(std::is_convertible_v<std::invoke_result_t<F&, std::uint64_t, int, int>, std::uint64_t>,
                      "ckpt: split() takes a callable (std::uint64_t total, int rank, int size) -> std::uint64_t");
        split_ = detail::ErasedCallable(std::forward<F>(counts));
        split_call_ = [](void* f, std::uint64_t total, int rank, int size) -> std::uint64_t {
            return (*static_cast<std::decay_t<F>*>(f))(total, rank, size);
        };
        return *this;
    }
    template <class F>
    Distribution&& split(F&& counts) && {
        return std::move(split(std::forward<F>(counts)));
    }

    /// Per-rank only: lets a restore on a different number of ranks run `hook(StoredParts&)` on
    /// every rank instead of reading the rank's own part; the hook reads any stored rank's part
    /// (StoredParts::read) and rebuilds the object itself.
    template <class F>
    Distribution& redistribute(F&& hook) & {
        redistribute_ = detail::ErasedCallable(std::forward<F>(hook));
        redistribute_call_ = [](void* f, StoredParts& parts) { (*static_cast<std::decay_t<F>*>(f))(parts); };
        return *this;
    }
    template <class F>
    Distribution&& redistribute(F&& hook) && {
        return std::move(redistribute(std::forward<F>(hook)));
    }

    /// A checkpoint without this entry leaves the object as it is (one log line), instead of
    /// being refused: for state added after checkpoints were written.
    Distribution& optional() & {
        optional_ = true;
        return *this;
    }
    Distribution&& optional() && { return std::move(optional()); }

    /// Replicated only: what a checkpoint does when the ranks' values differ (default: fails).
    Distribution& when_ranks_differ(OnDisagreement what) & {
        disagreement_ = what;
        return *this;
    }
    Distribution&& when_ranks_differ(OnDisagreement what) && { return std::move(when_ranks_differ(what)); }

    /// How this entry's data is stored, over the job's default (Options::compression), which
    /// covers only leaves of at least 64 KiB; this covers every leaf of the entry, even
    /// Compression::off() to keep one entry uncompressed.
    Distribution& compress(Compression how) & {
        compression_ = how;
        compression_declared_ = true;
        return *this;
    }
    Distribution&& compress(Compression how) && { return std::move(compress(how)); }

    // Read by the library.
    const Extents& global() const noexcept { return global_; }
    const Extents& offset() const noexcept { return offset_; }
    const Extents& count() const noexcept { return count_; }
    const Extents& interior() const noexcept { return interior_; }
    bool is_optional() const noexcept { return optional_; }
    OnDisagreement disagreement() const noexcept { return disagreement_; }
    bool declares_compression() const noexcept { return compression_declared_; }
    const Compression& compression() const noexcept { return compression_; }
    bool has_split() const noexcept { return static_cast<bool>(split_); }
    std::uint64_t call_split(std::uint64_t total, int rank, int size) const {
        return split_call_(split_.get(), total, rank, size);
    }
    bool has_redistribute() const noexcept { return static_cast<bool>(redistribute_); }
    void call_redistribute(StoredParts& parts) const { redistribute_call_(redistribute_.get(), parts); }

private:
    friend Distribution per_rank();
    friend Distribution replicated();
    friend Distribution block(Extents global, Extents offset, Extents count);
    friend Distribution concatenated();
    explicit Distribution(Kind kind) : kind_(kind) {}

    Kind kind_;
    Extents global_, offset_, count_, interior_;
    bool optional_ = false;
    OnDisagreement disagreement_ = OnDisagreement::Fail;
    Compression compression_;
    bool compression_declared_ = false;
    detail::ErasedCallable split_;
    std::uint64_t (*split_call_)(void*, std::uint64_t, int, int) = nullptr;
    detail::ErasedCallable redistribute_;
    void (*redistribute_call_)(void*, StoredParts&) = nullptr;
};

/// This rank's own part, as today: restored only on as many ranks as wrote it (unless it has a
/// redistribute() hook). The default for an entry protected without a declaration.
inline Distribution per_rank() { return Distribution(Distribution::Kind::PerRank); }
/// The same value on every rank (step, dt, parameters, any type): stored once, restored on any
/// number of ranks. Each checkpoint compares a hash of every rank's value.
inline Distribution replicated() { return Distribution(Distribution::Kind::Replicated); }
/// The rank's box of a global N-d array: the array's `global` shape, the box's `offset` in it
/// and its `count` per dimension. The boxes of all ranks must tile the array. Stored as one
/// dataset of the global shape; a restore on any number of ranks reads each rank's new box.
inline Distribution block(Extents global, Extents offset, Extents count) {
    Distribution d(Distribution::Kind::Block);
    d.global_ = std::move(global);
    d.offset_ = std::move(offset);
    d.count_ = std::move(count);
    return d;
}
/// A 1-D sequence with a different length on every rank (a std::vector): stored as one global
/// sequence in rank order, split again on restore (see split()).
inline Distribution concatenated() { return Distribution(Distribution::Kind::Concatenated); }

}  // namespace ckpt
