#pragma once
/// The Boost.Serialization bridge: which types take the Boost path, and how they become bytes.
///
/// A type takes this path if it has a public member `template <class Ar> void serialize(Ar&, unsigned)`,
/// if it is opted in with CKPT_BOOST_SERIALIZABLE(T) (free-function serialize, or a private member
/// made visible to Boost by `friend class boost::serialization::access`), or if it is a std
/// container (vector, array, map, unordered_map, set, list, deque, pair) of such types,
/// arithmetic types, std::complex or std::string.
///
/// Why non-intrusive types must opt in: boost/serialization/serialization.hpp declares a
/// catch-all free serialize(Archive&, T&, unsigned) for every T, so "is serializable" cannot be
/// detected; it only fails deep inside Boost. A member can be detected, so it is.
///
/// <ckpt.hpp> includes this header in the header-only mode. In the compiled mode it is opt-in:
/// include it in the translation units that protect Boost types, so that the others never parse
/// Boost.Serialization (a type with a serialize() member protected without it fails to compile
/// with a message that says so).

#include "ckpt/codec.hpp"
#include "ckpt/complex.hpp"  // containers of std::complex: direct where they can be, in both modes

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/array.hpp>
#include <boost/serialization/complex.hpp>
#include <boost/serialization/deque.hpp>
#include <boost/serialization/list.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/set.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/unordered_map.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>

#include <array>
#include <complex>
#include <deque>
#include <list>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ckpt {

/// Opt-in for types whose Boost serialize() cannot be detected; specialize through
/// CKPT_BOOST_SERIALIZABLE(T) at global namespace scope.
template <class T>
struct boost_serializable : std::false_type {};

namespace detail {

template <class T>
struct is_boost_path;  // forward, for the recursive container rules below

template <class T>
struct is_boost_value
    : std::bool_constant<std::is_arithmetic_v<T> || std::is_same_v<T, std::string> || is_boost_path<T>::value> {};

template <class T>
struct is_boost_container : std::false_type {};
template <class T, class A>
struct is_boost_container<std::vector<T, A>> : is_boost_value<T> {};
template <class T, std::size_t N>
struct is_boost_container<std::array<T, N>> : is_boost_value<T> {};
template <class T, class A>
struct is_boost_container<std::deque<T, A>> : is_boost_value<T> {};
template <class T, class A>
struct is_boost_container<std::list<T, A>> : is_boost_value<T> {};
template <class T, class C, class A>
struct is_boost_container<std::set<T, C, A>> : is_boost_value<T> {};
template <class K, class V, class C, class A>
struct is_boost_container<std::map<K, V, C, A>> : std::conjunction<is_boost_value<K>, is_boost_value<V>> {};
template <class K, class V, class H, class E, class A>
struct is_boost_container<std::unordered_map<K, V, H, E, A>>
    : std::conjunction<is_boost_value<K>, is_boost_value<V>> {};
template <class A, class B>
struct is_boost_container<std::pair<A, B>> : std::conjunction<is_boost_value<A>, is_boost_value<B>> {};
template <class T>
struct is_boost_container<std::complex<T>> : std::is_floating_point<T> {};

template <class T>
struct is_boost_path
    : std::bool_constant<has_serialize_member<T>::value || boost_serializable<T>::value ||
                         is_boost_container<T>::value> {};

template <class T>
std::vector<unsigned char> boost_save(const T& value) {
    std::ostringstream os(std::ios::binary);
    {
        boost::archive::binary_oarchive ar(os);
        ar << value;
    }
    const std::string s = std::move(os).str();
    return {s.begin(), s.end()};
}

template <class T>
void boost_load(const std::vector<unsigned char>& bytes, T& value) {
    std::istringstream is(std::string(bytes.begin(), bytes.end()), std::ios::binary);
    boost::archive::binary_iarchive ar(is);
    ar >> value;
}

/// Connects the Boost path to the dispatch in ckpt/codec.hpp.
template <class T>
struct boost_bridge<T, std::enable_if_t<is_boost_path<T>::value>> : std::true_type {
    static std::vector<unsigned char> save(const T& value) { return boost_save(value); }
    static void load(const std::vector<unsigned char>& bytes, T& value) { boost_load(bytes, value); }
};

}  // namespace detail
}  // namespace ckpt

/// Opt a type with a free-function (or friend-only) Boost serialize() into the Boost path.
/// Use at global namespace scope: CKPT_BOOST_SERIALIZABLE(my::Type);
#define CKPT_BOOST_SERIALIZABLE(...)                                                                   \
    namespace ckpt {                                                                                   \
    template <>                                                                                        \
    struct boost_serializable<__VA_ARGS__> : std::true_type {};                                        \
    }
