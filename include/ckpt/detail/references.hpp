#pragma once
/// Which older versions a version's file refers to (docs/incremental.md): read from the file's
/// ckpt.references, for retention (the library's rotation and `ckpt prune`), which must keep them.

#include "ckpt/detail/h5/file.hpp"
#include "ckpt/detail/version_dir.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

namespace ckpt::detail {

/// The sequence numbers of the versions of `name` that `file` refers to, sorted; none for a full
/// version. A name that is not a version file of `name` is the file's fault: a FormatError.
inline std::vector<std::uint64_t> referenced_sequences(const h5::File& file, const std::string& name) {
    std::vector<std::uint64_t> out;
    if (!file.has_attribute("/", "ckpt.references")) return out;
    for (const auto& f : file.read_strings_attribute("/", "ckpt.references")) {
        Version v;
        if (!parse_version_name(f, name, v) || !v.committed())
            raise(file.bad_layout("/", "has ckpt.references naming \"" + f + "\", not a committed version of \"" + name + "\""));
        out.push_back(v.sequence);
    }
    std::sort(out.begin(), out.end());
    return out;
}

/// Adds to `known` the references of every committed version in `versions` that it does not hold
/// yet, and forgets those of versions no longer there; each file opened by this process alone. A file that cannot be read is not added (it is
/// asked again next time) and so refers to nothing this time: it cannot be restored either, and a
/// restore quarantines it.
inline void add_references(References& known, const std::vector<Version>& versions, const std::string& name) {
    for (auto it = known.begin(); it != known.end();) {
        const bool there = std::any_of(versions.begin(), versions.end(),
                                       [&](const Version& v) { return v.committed() && v.sequence == it->first; });
        it = there ? std::next(it) : known.erase(it);
    }
    for (const auto& v : versions) {
        if (!v.committed() || known.count(v.sequence)) continue;
        try {
            h5::File file(v.path, MPI_COMM_NULL, h5::Access::ReadAlone);  // no MPI: also inside MPI_Finalize
            known[v.sequence] = referenced_sequences(file, name);
        } catch (const Error&) {
        }
    }
}

}  // namespace ckpt::detail
