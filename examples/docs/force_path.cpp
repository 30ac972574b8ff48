// Forcing a path (docs/extending.md): when a type matches more than one path, the priority
// order decides; a codec<T> deriving from ckpt::use_boost<T> or ckpt::use_direct<T> overrides it.
#include <ckpt.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace stats {

// Has both a direct form (ckpt_view) and a Boost serialize(). By priority it would take the
// direct path and save only the bins; the label and the count would be lost.
struct Histogram {
    std::vector<double> bins = std::vector<double>(10, 0.0);
    std::string label = "speed";
    long count = 0;
    template <class Archive>
    void serialize(Archive& ar, const unsigned /*version*/) {
        ar & bins & label & count;
    }
};
inline ckpt::ArrayView<double> ckpt_view(Histogram& h) { return {h.bins.data(), {h.bins.size()}}; }

// Only a direct form. use_direct<T> pins that choice: it states the file format in code, and
// stops compiling if the type ever loses its direct form.
struct Vec3 {
    double xyz[3] = {0, 0, 0};
};
inline ckpt::ArrayView<double> ckpt_view(Vec3& v) { return {v.xyz, {3}}; }

}  // namespace stats

template <>
struct ckpt::codec<stats::Histogram> : ckpt::use_boost<stats::Histogram> {};
template <>
struct ckpt::codec<stats::Vec3> : ckpt::use_direct<stats::Vec3> {};

// is_checkpointable_v<T>: is there any path for T? Check your own types where they are defined.
static_assert(ckpt::is_checkpointable_v<stats::Histogram>);
static_assert(ckpt::is_checkpointable_v<stats::Vec3>);
static_assert(!ckpt::is_checkpointable_v<std::vector<std::wstring>>, "std::wstring has no path: neither direct nor Boost");

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    stats::Histogram h;
    stats::Vec3 origin;
    cp.protect("histogram", h).protect("origin", origin);  // boost.binary and direct
    if (cp.restore_if_requested()) {
        std::cout << "restored histogram \"" << h.label << "\" with " << h.count << " samples\n";
        return 0;
    }
    h.count = 7;
    std::cout << "wrote " << cp.checkpoint() << "\n";
}
