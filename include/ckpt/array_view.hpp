#pragma once
/// ckpt::ArrayView<T>: a non-owning view of contiguous arithmetic data with 1..N extents,
/// checkpointed directly as a typed HDF5 dataset. Restoring requires the same extents.

#include <cstddef>
#include <initializer_list>
#include <type_traits>
#include <vector>

namespace ckpt {

template <class T>
class ArrayView {
    static_assert(!std::is_const_v<T>, "ckpt: ArrayView<const T> cannot be restored into; use ArrayView<T>");

public:
    using element_type = T;

    /// `extents` are in row-major (C) order; the view covers their product of elements.
    ArrayView(T* data, std::initializer_list<std::size_t> extents) : data_(data), extents_(extents) {}
    ArrayView(T* data, std::vector<std::size_t> extents) : data_(data), extents_(std::move(extents)) {}
    /// `{rows + 2, n}` with int `rows` and `n`: any one integer type (negative extents are 0).
    template <class I, class = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, std::size_t>>>
    ArrayView(T* data, std::initializer_list<I> extents) : data_(data) {
        for (I e : extents) extents_.push_back(e > 0 ? static_cast<std::size_t>(e) : 0);
    }

    T* data() const noexcept { return data_; }
    const std::vector<std::size_t>& extents() const noexcept { return extents_; }
    std::size_t size() const noexcept {
        std::size_t n = 1;
        for (auto e : extents_) n *= e;
        return n;
    }

private:
    T* data_;
    std::vector<std::size_t> extents_;
};

template <class T>
ArrayView(T*, std::initializer_list<std::size_t>) -> ArrayView<T>;
template <class T, class I>
ArrayView(T*, std::initializer_list<I>) -> ArrayView<T>;

}  // namespace ckpt
