#pragma once
/// How a C++ object becomes checkpoint data and back. Dispatch is fixed, most explicit first:
///
///   1. a specialization of ckpt::codec<T> (full control: an HDF5 group of sub-entries), or
///      codec<T> deriving from use_boost<T> / use_direct<T> to force one of the paths below;
///   2. the direct path: arithmetic scalars, std::complex, std::vector/std::array/C arrays of
///      those, std::string, ckpt::ArrayView<T>, or any T with an ADL `ckpt_view(T&)` returning an
///      ArrayView; one typed dataset, no copy;
///   3. the Boost path (ckpt/boost.hpp): a uint8 dataset holding a binary archive. <ckpt.hpp>
///      includes it in the header-only mode; in the compiled mode a translation unit that
///      protects a Boost type includes <ckpt/boost.hpp> itself, and the others never parse Boost.
///
/// A custom codec is a struct with two static functions:
///   template <> struct ckpt::codec<Mesh> {
///       static void save(ckpt::Writer& w, const Mesh& m) { w.write("coords", m.coords); w.write("n", m.n); }
///       static void load(ckpt::Reader& r, Mesh& m)       { r.read("coords", m.coords);  r.read("n", m.n); }
///   };
/// Each field is dispatched again, so codecs compose. save and load must visit the same names.

#include "ckpt/array_view.hpp"
#include "ckpt/config.hpp"
#include "ckpt/detail/element.hpp"
#include "ckpt/detail/load_source.hpp"
#include "ckpt/detail/type_name.hpp"
#include "ckpt/error.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace boost::archive {
class binary_oarchive;  // only named, to recognise a Boost serialize() member without Boost's headers
}

namespace ckpt {

namespace detail {
struct SaveNode;  // detail/leaf.hpp: what a Writer produces, seen only by the library
}

/// The customization point. The primary template marks "no codec"; specialize it for full control.
template <class T, class Enable = void>
struct codec {
    using ckpt_unspecialized = void;
};

struct use_boost_tag {};
struct use_direct_tag {};
/// Derive codec<T> from this to force the Boost path (e.g. a type that also has ckpt_view).
template <class T>
struct use_boost : use_boost_tag {};
/// Derive codec<T> from this to force the direct path.
template <class T>
struct use_direct : use_direct_tag {};

namespace detail {

template <class T, class = void>
struct has_codec : std::true_type {};
template <class T>
struct has_codec<T, std::void_t<typename codec<T>::ckpt_unspecialized>> : std::false_type {};

template <class T, class = void>
struct has_serialize_member : std::false_type {};
template <class T>
struct has_serialize_member<T, std::void_t<decltype(std::declval<T&>().serialize(
                                   std::declval<boost::archive::binary_oarchive&>(), 0u))>> : std::true_type {};

/// The Boost path for T, once ckpt/boost.hpp is included: a specialization with value true and
/// save(const T&) -> bytes, load(bytes, T&). Without it, no type takes the Boost path.
template <class T, class = void>
struct boost_bridge : std::false_type {};
/// The codec name stored with Boost blobs.
inline constexpr const char* boost_codec_name = "boost.binary";

/// Has a floating value_type and real()/imag(): std::complex, or a container of it, when
/// ckpt/complex.hpp was not included (the compiled mode's message below).
template <class T, class = void>
struct looks_complex : std::false_type {};
template <class T>
struct looks_complex<T, std::void_t<typename T::value_type, decltype(std::declval<const T&>().real()),
                                    decltype(std::declval<const T&>().imag())>>
    : std::is_floating_point<typename T::value_type> {};
template <class T, class = void>
struct holds_complex : looks_complex<T> {};
template <class T>
struct holds_complex<T, std::void_t<typename T::value_type>>
    : std::bool_constant<looks_complex<T>::value || looks_complex<typename T::value_type>::value> {};

template <class T, class = void>
struct has_view_hook : std::false_type {};
template <class T>
struct has_view_hook<T, std::void_t<decltype(ckpt_view(std::declval<T&>()))>> : std::true_type {};

inline std::uint64_t product(const std::vector<std::uint64_t>& extents) {
    std::uint64_t n = 1;
    for (auto e : extents) n *= e;
    return n;
}
inline std::string shape_text(const std::string& element, const std::vector<std::uint64_t>& extents) {
    std::string s = element;
    for (auto e : extents) s += "[" + std::to_string(e) + "]";
    return s;
}

/// The direct path for T: where its elements are, its shape, and how to make room on restore.
template <class T, class = void>
struct direct_traits : std::false_type {};

template <class T>  // scalars
struct direct_traits<T, std::enable_if_t<is_direct_element_v<T>>> : std::true_type {
    using element = T;
    static const T* data(const T& v) { return &v; }
    static std::vector<std::uint64_t> extents(const T&) { return {}; }
    static T* prepare(T& v, const std::vector<std::uint64_t>& ext, std::string& expected) {
        if (!ext.empty()) return expected = "a scalar", nullptr;
        return &v;
    }
};

template <class C, class E>  // resizable contiguous containers: std::vector, std::string
struct resizable_traits : std::true_type {
    using element = E;
    static const E* data(const C& v) { return v.data(); }
    static std::vector<std::uint64_t> extents(const C& v) { return {v.size()}; }
    static E* prepare(C& v, const std::vector<std::uint64_t>& ext, std::string& expected) {
        if (ext.size() != 1) return expected = "a one-dimensional array", nullptr;
        v.resize(static_cast<std::size_t>(ext[0]));
        return v.data();
    }
};
template <class E, class A>
struct direct_traits<std::vector<E, A>, std::enable_if_t<is_direct_element_v<E> && !std::is_same_v<E, bool>>>
    : resizable_traits<std::vector<E, A>, E> {};
template <>
struct direct_traits<std::string> : resizable_traits<std::string, char> {};

template <class E, std::size_t N>  // fixed-size arrays: extents must match on restore
struct fixed_traits : std::true_type {
    using element = E;
    static std::vector<std::uint64_t> extents_of() { return {N}; }
    static E* check(E* p, const std::vector<std::uint64_t>& ext, std::string& expected) {
        if (ext != extents_of()) return expected = shape_text(element_name(element_of<E>()), extents_of()), nullptr;
        return p;
    }
};
template <class E, std::size_t N>
struct direct_traits<std::array<E, N>, std::enable_if_t<is_direct_element_v<E>>> : fixed_traits<E, N> {
    static const E* data(const std::array<E, N>& v) { return v.data(); }
    static std::vector<std::uint64_t> extents(const std::array<E, N>&) { return {N}; }
    static E* prepare(std::array<E, N>& v, const std::vector<std::uint64_t>& ext, std::string& expected) {
        return fixed_traits<E, N>::check(v.data(), ext, expected);
    }
};
template <class E, std::size_t N>
struct direct_traits<E[N], std::enable_if_t<is_direct_element_v<E>>> : fixed_traits<E, N> {
    static const E* data(const E (&v)[N]) { return v; }
    static std::vector<std::uint64_t> extents(const E (&)[N]) { return {N}; }
    static E* prepare(E (&v)[N], const std::vector<std::uint64_t>& ext, std::string& expected) {
        return fixed_traits<E, N>::check(v, ext, expected);
    }
};

template <class E>
struct direct_traits<ArrayView<E>, std::enable_if_t<is_direct_element_v<E>>> : std::true_type {
    using element = E;
    static const E* data(const ArrayView<E>& v) { return v.data(); }
    static std::vector<std::uint64_t> extents(const ArrayView<E>& v) {
        return {v.extents().begin(), v.extents().end()};
    }
    static E* prepare(const ArrayView<E>& v, const std::vector<std::uint64_t>& ext, std::string& expected) {
        if (ext != extents(v)) return expected = shape_text(element_name(element_of<E>()), extents(v)), nullptr;
        return v.data();
    }
};

template <class T>  // an ADL hook `ArrayView<E> ckpt_view(T&)` in T's namespace
struct view_hook_traits : std::true_type {
    using view = decltype(ckpt_view(std::declval<T&>()));
    using element = typename view::element_type;
    static view get(const T& v) { return ckpt_view(const_cast<T&>(v)); }  // the view is only read on save
    static const element* data(const T& v) { return get(v).data(); }
    static std::vector<std::uint64_t> extents(const T& v) { return direct_traits<view>::extents(get(v)); }
    static element* prepare(T& v, const std::vector<std::uint64_t>& ext, std::string& expected) {
        return direct_traits<view>::prepare(ckpt_view(v), ext, expected);
    }
};

template <class T>
using direct_path = std::conditional_t<direct_traits<T>::value, direct_traits<T>,
                                       std::conditional_t<has_view_hook<T>::value, view_hook_traits<T>,
                                                          direct_traits<void>>>;  // direct_traits<void>: false

template <class T>
struct dependent_false : std::false_type {};
/// Incomplete on purpose: the compiler names T when it reports this type (fmt's trick).
template <class T>
struct type_is_not_checkpointable;

}  // namespace detail

/// Whether T can be protected (any of the three paths). Users may static_assert on it.
template <class T>
inline constexpr bool is_checkpointable_v =
    detail::has_codec<T>::value || detail::has_view_hook<T>::value || detail::direct_traits<T>::value ||
    detail::boost_bridge<T>::value;

class Writer;
class Reader;

namespace detail {
template <class T>
void save_entry(Writer& w, const std::string& path, const T& value);
template <class T>
void load_entry(Reader& r, const std::string& path, T& value);
/// Names are on-disk schema: explicit, non-empty, no '/', no leading '.'. Throws UsageError.
CKPT_INLINE void check_entry_name(const std::string& name);
/// `prefix/name`, once `name` passed check_entry_name() (compiled once, not in every caller).
CKPT_INLINE std::string child_path(const std::string& prefix, const std::string& name);
}  // namespace detail

/// Given to codec<T>::save: writes named sub-entries under the entry's HDF5 group.
class Writer {
public:
    Writer(std::vector<detail::SaveNode>& sink, std::string prefix) : sink_(&sink), prefix_(std::move(prefix)) {}
    /// A writer for a custom codec's group at `prefix`, into the same checkpoint as `parent`.
    Writer(const Writer& parent, std::string prefix) : sink_(parent.sink_), prefix_(std::move(prefix)) {}

    /// Writes `value` as the sub-entry `name` (dispatched like a protected object). An lvalue is
    /// referenced, not copied: it must live until the checkpoint is written (a member of the
    /// object being saved, not a local variable of save()).
    template <class T>
    Writer& write(const std::string& name, const T& value) {
        detail::save_entry(*this, detail::child_path(prefix_, name), value);
        return *this;
    }
    /// An rvalue (`w.write("n", v.size())`, `w.write("tmp", std::move(local))`) is moved into the
    /// checkpoint's own storage, so it lives as long as the write needs it.
    template <class T, class = std::enable_if_t<!std::is_lvalue_reference_v<T>>>
    Writer& write(const std::string& name, T&& value) {
        using V = std::decay_t<T>;
        const std::size_t first = node_count();
        const V* held = new V(std::move(value));
        try {
            write(name, *held);
        } catch (...) {
            delete held;
            throw;
        }
        keep_alive(first, held, [](const void* p) { delete static_cast<const V*>(p); });
        return *this;
    }

    /// Where this writer's entries go (an HDF5 group path).
    const std::string& path() const noexcept { return prefix_; }

    // One node each, for the dispatch in detail::save_entry (codecs call write()).
    void add_group(const std::string& path, std::string type_name);
    void add_direct(const std::string& path, std::string type_name, detail::Element element, const void* data,
                    std::vector<std::uint64_t> extents);
    void add_blob(const std::string& path, std::string type_name, const char* codec, std::vector<unsigned char> bytes);

private:
    std::size_t node_count() const noexcept;
    /// Takes ownership of `object`, freed with `destroy` once no node from `first` on needs it.
    void keep_alive(std::size_t first, const void* object, void (*destroy)(const void*));

    std::vector<detail::SaveNode>* sink_;
    std::string prefix_;
};

/// Given to codec<T>::load: reads named sub-entries from the entry's HDF5 group.
class Reader {
public:
    Reader(detail::LoadSource& source, std::string prefix) : source_(&source), prefix_(std::move(prefix)) {}

    template <class T>
    Reader& read(const std::string& name, T& value) {
        detail::load_entry(*this, detail::child_path(prefix_, name), value);
        return *this;
    }

    const std::string& path() const noexcept { return prefix_; }
    detail::LoadSource& source() noexcept { return *source_; }

private:
    detail::LoadSource* source_;
    std::string prefix_;
};

namespace detail {

template <class T>
constexpr int path_of() {  // 1 codec, 2 direct, 3 boost, 0 none
    if constexpr (has_codec<T>::value) {
        if constexpr (std::is_base_of_v<use_boost_tag, codec<T>>) return 3;
        else if constexpr (std::is_base_of_v<use_direct_tag, codec<T>>) return 2;
        else return 1;
    } else if constexpr (direct_traits<T>::value || has_view_hook<T>::value) {
        return 2;
    } else if constexpr (boost_bridge<T>::value) {
        return 3;
    } else {
        return 0;
    }
}

template <class T>
void report_not_checkpointable() {
    static_assert(CKPT_HEADER_ONLY || !holds_complex<T>::value,
                  "ckpt: std::complex data needs #include <ckpt/complex.hpp> in the compiled mode");
    static_assert(!has_serialize_member<T>::value || boost_bridge<T>::value,
                  "ckpt: this type has a Boost serialize() member: #include <ckpt/boost.hpp> to checkpoint it "
                  "(the compiled mode leaves Boost out of <ckpt.hpp>)");
    static_assert(dependent_false<T>::value,
                  "ckpt: no way to checkpoint this type. Give it ONE of:\n"
                  "  (1) contiguous arithmetic storage: std::vector<double>, std::array<int,N>, ckpt::ArrayView<T>,\n"
                  "      or an ADL function `ckpt::ArrayView<E> ckpt_view(T&)` in T's namespace;\n"
                  "  (2) a public Boost.Serialization member `template<class Ar> void serialize(Ar&, unsigned)`,\n"
                  "      or CKPT_BOOST_SERIALIZABLE(T) for a free or friend-only serialize() (with <ckpt/boost.hpp>);\n"
                  "  (3) a specialization of ckpt::codec<T> with save(Writer&, const T&) and load(Reader&, T&).\n"
                  "See docs/extending.md");
    [[maybe_unused]] type_is_not_checkpointable<T> the_type_named_here;
}

template <class T>
void save_entry(Writer& w, const std::string& path, const T& value) {
    constexpr int route = path_of<T>();
    if constexpr (route == 1) {
        w.add_group(path, type_name<T>());
        Writer sub(w, path);
        codec<T>::save(sub, value);
    } else if constexpr (route == 2) {
        using traits = direct_path<T>;
        using E = typename traits::element;
        w.add_direct(path, type_name<T>(), element_of<E>(), traits::data(value), traits::extents(value));
    } else if constexpr (route == 3) {
        w.add_blob(path, type_name<T>(), boost_codec_name, boost_bridge<T>::save(value));
    } else {
        report_not_checkpointable<T>();
    }
}

template <class T>
void load_entry(Reader& r, const std::string& path, T& value) {
    constexpr int route = path_of<T>();
    if constexpr (route == 1) {
        r.source().open_group(path, type_name<T>());
        Reader sub(r.source(), path);
        codec<T>::load(sub, value);
    } else if constexpr (route == 2) {
        using traits = direct_path<T>;
        using E = typename traits::element;
        r.source().read_direct(path, element_of<E>(), type_name<T>(),
                               [&value](const std::vector<std::uint64_t>& ext, std::string& expected) -> void* {
                                   return traits::prepare(value, ext, expected);
                               });
    } else if constexpr (route == 3) {
        boost_bridge<T>::load(r.source().read_blob(path, boost_codec_name, type_name<T>()), value);
    } else {
        report_not_checkpointable<T>();
    }
}

}  // namespace detail
}  // namespace ckpt

#if CKPT_HEADER_ONLY
#include "ckpt/impl/codec.hpp"
#endif
