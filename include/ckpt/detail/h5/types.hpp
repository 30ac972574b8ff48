#pragma once
/// HDF5 datatypes for ckpt element types. Complex numbers are the {r, i} compound h5py reads.

#include "ckpt/detail/element.hpp"
#include "ckpt/detail/h5/check.hpp"

namespace ckpt::detail::h5 {

/// A datatype for `e`; owned (closing a predefined native type is harmless to avoid, so we copy).
inline Handle datatype(Element e, const std::string& file) {
    auto native = [&](hid_t t) { return Handle(check(H5Tcopy(t), "H5Tcopy", file), H5Tclose); };
    auto complex = [&](hid_t part, std::size_t part_size) {
        Handle t(check(H5Tcreate(H5T_COMPOUND, 2 * part_size), "H5Tcreate", file), H5Tclose);
        check(H5Tinsert(t, "r", 0, part), "H5Tinsert", file);
        check(H5Tinsert(t, "i", part_size, part), "H5Tinsert", file);
        return t;
    };
    switch (e) {
        case Element::Char: return native(H5T_NATIVE_CHAR);
        case Element::Bool: return native(H5T_NATIVE_HBOOL);
        case Element::Int8: return native(H5T_NATIVE_INT8);
        case Element::UInt8: return native(H5T_NATIVE_UINT8);
        case Element::Int16: return native(H5T_NATIVE_INT16);
        case Element::UInt16: return native(H5T_NATIVE_UINT16);
        case Element::Int32: return native(H5T_NATIVE_INT32);
        case Element::UInt32: return native(H5T_NATIVE_UINT32);
        case Element::Int64: return native(H5T_NATIVE_INT64);
        case Element::UInt64: return native(H5T_NATIVE_UINT64);
        case Element::Float32: return native(H5T_NATIVE_FLOAT);
        case Element::Float64: return native(H5T_NATIVE_DOUBLE);
        case Element::Float128: return native(H5T_NATIVE_LDOUBLE);
        case Element::Complex64: return complex(H5T_NATIVE_FLOAT, sizeof(float));
        case Element::Complex128: return complex(H5T_NATIVE_DOUBLE, sizeof(double));
        case Element::Complex256: return complex(H5T_NATIVE_LDOUBLE, sizeof(long double));
    }
    return native(H5T_NATIVE_UINT8);
}

}  // namespace ckpt::detail::h5
