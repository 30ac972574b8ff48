#pragma once
/// Read-only inspection of checkpoint files for the `ckpt` command (docs/command.md): what a
/// directory holds, what a file holds, whether its layout is consistent, and whether every
/// rank's part still has the checksum it was written with. Nothing here writes, and a broken file
/// is a result to report, not an exception: only a missing file or directory throws.
///
/// Every format is read (1 to CKPT_FORMAT_VERSION). From format 3 on, each leaf says how it is
/// spread (`ckpt.distribution`, detail/layout_table.hpp): a block leaf's dataset is the global
/// N-d array and its rows carry the box's origin, a replicated leaf's table has one row, and the
/// parts of block and concatenated leaves are verified by their position sum
/// (detail/position_sum.hpp), each block part read from the global dataset box by box.
///
/// Files are opened through the same h5::File the library restores with, on MPI_COMM_SELF (the
/// tool is a serial MPI program; MPI starts as a singleton on first use).

#include "ckpt/detail/version_dir.hpp"
#include "ckpt/detail/checksum.hpp"
#include "ckpt/detail/element.hpp"
#include "ckpt/detail/box.hpp"
#include "ckpt/detail/h5/file.hpp"
#include "ckpt/detail/layout_table.hpp"
#include "ckpt/detail/mpi/comm.hpp"
#include "ckpt/detail/position_sum.hpp"
#include "ckpt/detail/store.hpp"
#include "ckpt/version.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::detail::inspect {

/// A file in a checkpoint directory whose name is a version's (version_dir.hpp).
struct Listed {
    std::string path;  ///< directory joined with the file name
    std::string file;  ///< the file name
    std::string name;  ///< the name prefix
    std::uint64_t sequence = 0;
    bool temporary = false;     ///< `.tmp` or `.reserve`: being written, or a failed write
    bool quarantined = false;   ///< `.bad`: failed verification at a restore, kept for inspection
    std::uint64_t size = 0;     ///< bytes
    std::int64_t mtime_ns = 0;  ///< last modification, nanoseconds since the epoch
};

/// Every version file in `dir` (of the prefix `only` if not empty), ordered by name prefix, then
/// sequence, then final before temporary. Throws: IoError (ENOENT: no such directory).
inline std::vector<Listed> scan(const std::string& dir, const std::string& only = {}) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        const int err = errno;
        raise(posix_error("opening checkpoint directory", dir, err));
    }
    if (!S_ISDIR(st.st_mode)) raise(posix_error("opening checkpoint directory", dir, ENOTDIR));
    std::vector<Listed> out;
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec), end;
    if (ec) raise(posix_error("opening checkpoint directory", dir, ec.value()));
    for (; it != end; it.increment(ec)) {
        Listed l;
        Version v;
        l.file = it->path().filename().string();
        if (!split_version_name(l.file, l.name, v) || (!only.empty() && l.name != only)) continue;
        l.path = join_path(dir, l.file);
        l.sequence = v.sequence;
        l.temporary = v.temporary;
        l.quarantined = v.quarantined;
        struct stat fs {};
        if (::stat(l.path.c_str(), &fs) != 0 || !S_ISREG(fs.st_mode)) continue;  // vanished, or not a file
        l.size = static_cast<std::uint64_t>(fs.st_size);
        l.mtime_ns = static_cast<std::int64_t>(fs.st_mtim.tv_sec) * 1000000000LL + fs.st_mtim.tv_nsec;
        out.push_back(std::move(l));
    }
    if (ec) raise(posix_error("listing checkpoint directory", dir, ec.value()));
    std::sort(out.begin(), out.end(), [](const Listed& a, const Listed& b) {
        if (a.name != b.name) return a.name < b.name;
        if (a.sequence != b.sequence) return a.sequence < b.sequence;
        return a.temporary < b.temporary;
    });
    return out;
}

/// Newest first. Within one name prefix the sequence number decides (as for --restart latest);
/// between prefixes, which have independent sequences, the modification time does.
inline std::vector<Listed> newest_first(std::vector<Listed> files) {
    bool several = false;
    for (const auto& f : files) several = several || f.name != files.front().name;
    std::sort(files.begin(), files.end(), [several](const Listed& a, const Listed& b) {
        if (several && a.name != b.name) return a.mtime_ns != b.mtime_ns ? a.mtime_ns > b.mtime_ns : a.name > b.name;
        if (a.sequence != b.sequence) return a.sequence > b.sequence;
        return a.temporary < b.temporary;
    });
    return files;
}

/// One object under /state: a leaf dataset, or the group of a custom codec.
struct EntryInfo {
    std::string name;            ///< "grid", "mesh/coords"
    bool group = false;          ///< a custom codec's group: its parts follow as their own entries
    std::string codec, type;     ///< ckpt.codec, ckpt.type
    std::string element;         ///< ckpt.element (leaves)
    /// ckpt.distribution; per-rank where it is absent (format 1 and 2 files)
    Spread spread = Spread::PerRank;
    std::int64_t ndims = 0;      ///< extents per rank (leaves); a block leaf's: the global array's
    std::vector<std::uint64_t> shape;  ///< the dataset's shape: a block leaf's global array, else {elements}
    std::uint64_t elements = 0;  ///< elements of /state/<name>
    std::uint64_t bytes = 0;     ///< elements * element size
    /// One per rank (leaves); a replicated leaf's one, rank 0's. A block leaf's carry their origin.
    std::vector<Part> parts;
    /// Byte offset of the contiguous data in the file, if it has storage: with `parts[r].offset`
    /// it locates any rank's bytes for dd or a debugger.
    std::optional<std::uint64_t> file_offset;
    /// How the data is stored (h5::filters_text): "" as it is, else "lz4", "deflate:1", ...
    std::string compression;
    std::uint64_t stored_bytes = 0;  ///< bytes the data takes in the file (compressed: fewer)
    /// An incremental version's unchanged leaf: the older version's file that holds its data and
    /// layout (docs/incremental.md), read through the link; "" when stored in this file.
    std::string stored_in;
    std::string problem;  ///< why this entry is inconsistent; empty if it is fine
};

/// Everything `ckpt info` shows about one file.
struct FileInfo {
    std::string path;
    Listed listed;              ///< name, sequence, temporary, size, mtime
    bool version_name = false;  ///< the file name is `<name>.<seq>.h5[.tmp]`
    bool readable = false;      ///< opens as a ckpt file; metadata and entries were read
    bool complete = false;      ///< committed name, readable, every layout consistent
    std::string problem;        ///< the first reason it is not complete
    std::int64_t format_version = 0;
    std::string library_version;
    std::int64_t sequence = 0, step = -1, time = 0, ranks = 0;
    std::optional<std::int64_t> schema_version;  ///< ckpt.schema_version (format 3 on), if present
    std::optional<std::uint64_t> version_id;     ///< ckpt.version_id (which write), if present
    std::vector<std::string> references;         ///< ckpt.references: an incremental version's older files
    std::int64_t part = -1, parts = 0;           ///< a node cache file: rank `part` of `parts`
    std::vector<std::string> argv;
    std::string cwd;
    std::vector<EntryInfo> entries;
};

/// The Element a `ckpt.element` attribute names.
inline std::optional<Element> element_from_name(const std::string& name) {
    for (int i = 0; i <= static_cast<int>(Element::Complex256); ++i)
        if (name == element_name(static_cast<Element>(i))) return static_cast<Element>(i);
    return std::nullopt;
}

/// A whole 2-D uint64 table (a layout), read in one call; rows x cols in `rows`/`cols`.
inline std::vector<std::uint64_t> read_table(const h5::File& file, const std::string& object, hsize_t& rows,
                                             hsize_t& cols) {
    h5::Silence quiet;
    h5::Handle dset = file.open_dataset(object);
    h5::Handle space(h5::check(H5Dget_space(dset), "H5Dget_space", file.path(), object), H5Sclose);
    hsize_t dims[2] = {0, 0};
    if (H5Sget_simple_extent_ndims(space) != 2) raise(file.bad_layout(object, "is not a 2-D table"));
    H5Sget_simple_extent_dims(space, dims, nullptr);
    rows = dims[0];
    cols = dims[1];
    std::vector<std::uint64_t> out(static_cast<std::size_t>(rows * cols));
    if (!out.empty())
        h5::check(H5Dread(dset, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "H5Dread", file.path(),
                  object);
    return out;
}

/// Size in bytes of a dataset's stored element type (to compare with ckpt.element).
inline std::size_t stored_element_size(const h5::File& file, const std::string& object) {
    h5::Silence quiet;
    h5::Handle dset = file.open_dataset(object);
    h5::Handle type(h5::check(H5Dget_type(dset), "H5Dget_type", file.path(), object), H5Tclose);
    return H5Tget_size(type);
}

/// Where a contiguous dataset's data starts in the file; nullopt if it has no storage.
inline std::optional<std::uint64_t> data_offset(const h5::File& file, const std::string& object) {
    h5::Silence quiet;
    h5::Handle dset = file.open_dataset(object);
    const haddr_t at = H5Dget_offset(dset);
    if (at == HADDR_UNDEF) return std::nullopt;
    return static_cast<std::uint64_t>(at);
}

namespace impl {

/// An error's sentence and object, for a problem already filed under its checkpoint file.
inline std::string text_of(const Error& e) {
    std::string s = e.sentence();
    if (!e.object().empty() && e.object() != "/") s += " (object \"" + e.object() + "\")";
    if (e.rank() >= 0) s += " (rank " + std::to_string(e.rank()) + ")";
    return s;
}

/// Reads the `ckpt.distribution` of `path` into `entry.spread` (absent: per-rank); false, with
/// the problem recorded, if it names no distribution.
inline bool read_spread(const h5::File& file, const std::string& path, EntryInfo& entry) {
    if (!file.has_attribute(path, "ckpt.distribution")) return true;
    const std::string name = file.read_string_attribute(path, "ckpt.distribution");
    if (parse_spread(name, entry.spread)) return true;
    entry.problem = "unknown ckpt.distribution \"" + name + "\" of " + path;
    return false;
}

/// Reads one leaf's attributes and layout; records the first inconsistency in `entry.problem`.
inline void read_leaf(const h5::File& file, const std::string& path, std::int64_t ranks, bool one_part,
                      EntryInfo& entry) {
    const std::string layout = layout_path(path);
    try {
        entry.codec = file.read_string_attribute(path, "ckpt.codec");
        entry.type = file.has_attribute(path, "ckpt.type") ? file.read_string_attribute(path, "ckpt.type") : "";
        entry.element = file.read_string_attribute(path, "ckpt.element");
        entry.ndims = file.read_int_attribute(path, "ckpt.ndims");
        if (!read_spread(file, path, entry)) return;
        const bool block = entry.spread == Spread::Block;
        const auto dims = file.dims(path);
        entry.shape.assign(dims.begin(), dims.end());
        if (block && (entry.ndims < 1 || dims.size() != static_cast<std::size_t>(entry.ndims))) {
            entry.problem = path + " is a block of a " + std::to_string(entry.ndims) +
                            "-D array (ckpt.ndims), but its dataset has " + std::to_string(dims.size()) + " dimensions";
            return;
        }
        if (!block && dims.size() != 1) {
            entry.problem = path + " is not a 1-D dataset";
            return;
        }
        entry.elements = 1;
        for (auto d : dims) entry.elements *= d;
        const auto element = element_from_name(entry.element);
        if (!element) {
            entry.problem = "unknown element type \"" + entry.element + "\" in " + path;
            return;
        }
        entry.bytes = entry.elements * element_size(*element);
        if (stored_element_size(file, path) != element_size(*element)) {
            entry.problem = path + " stores " + std::to_string(stored_element_size(file, path)) +
                            "-byte elements, but ckpt.element " + entry.element + " has " +
                            std::to_string(element_size(*element));
            return;
        }
        entry.stored_in = file.link_target(path).value_or("");
        entry.file_offset = data_offset(file, path);
        {
            h5::Silence quiet;
            h5::Handle dset = file.open_dataset(path);
            entry.compression = h5::filters_text(dset, file.path(), path);
            entry.stored_bytes = H5Dget_storage_size(dset);
        }
        if (!file.exists(layout)) {
            entry.problem = "no layout table " + layout;
            return;
        }
        hsize_t rows = 0, cols = 0;
        const auto table = read_table(file, layout, rows, cols);
        // A replicated leaf's table has rank 0's row only; every other, one row per rank.
        const bool replicated = entry.spread == Spread::Replicated;
        const std::int64_t want_rows = replicated ? 1 : ranks;
        const std::size_t width = entry.ndims < 0 ? 0 : Part::width(static_cast<std::size_t>(entry.ndims), entry.spread);
        if (entry.ndims < 0 || static_cast<std::int64_t>(rows) != want_rows || cols != width) {
            entry.problem = layout + " is " + std::to_string(rows) + " x " + std::to_string(cols) + ", expected " +
                            std::to_string(want_rows) + " x " + std::to_string(width) + " (" +
                            (replicated ? "rank 0's row" : "ranks") + " x (" + layout_columns(entry.spread) + "))";
            return;
        }
        std::uint64_t next = 0;
        std::vector<Box> boxes;
        for (hsize_t r = 0; r < rows; ++r) {
            Part p = Part::from_row(table.data() + r * cols, static_cast<std::size_t>(cols), entry.spread);
            const std::string where = layout + ", rank " + std::to_string(r) + ": ";
            if (block) {
                if (const std::string problem = p.block_problem(entry.shape); !problem.empty() && entry.problem.empty())
                    entry.problem = where + problem;
                boxes.push_back(p.box());
            } else {
                if (const std::string problem = p.problem(entry.elements); !problem.empty() && entry.problem.empty())
                    entry.problem = where + problem;
                if (p.offset != next && entry.problem.empty())
                    entry.problem = where + "offset " + std::to_string(p.offset) + ", expected " + std::to_string(next);
                next = p.offset + p.count;
            }
            entry.parts.push_back(std::move(p));
        }
        if (block) {
            if (const std::string problem = tiling_problem(boxes, entry.shape, !one_part);
                !problem.empty() && entry.problem.empty())
                entry.problem = layout + ": the rows do not " + (one_part ? "fit in " : "tile ") + path + ": " + problem;
        } else if (next != entry.elements && entry.problem.empty()) {
            entry.problem = layout + ": " + (replicated ? "rank 0's part has " : "the ranks' parts add up to ") +
                            std::to_string(next) + " elements, " + path + " has " + std::to_string(entry.elements);
        }
    } catch (const Error& e) {
        entry.problem = text_of(e);
    }
}

/// Appends the entries under /state group `group` (recursively), names relative to /state.
/// `one_part`: a node cache file, which holds one rank's part of each block entry's global array.
inline void read_entries(const h5::File& file, const std::string& group, std::int64_t ranks, bool one_part,
                         std::vector<EntryInfo>& out) {
    for (const auto& child : file.list(group)) {
        const std::string path = group + "/" + child;
        EntryInfo entry;
        entry.name = entry_name(path);
        if (file.is_group(path)) {
            entry.group = true;
            try {
                entry.codec = file.read_string_attribute(path, "ckpt.codec");
                entry.type = file.has_attribute(path, "ckpt.type") ? file.read_string_attribute(path, "ckpt.type") : "";
                read_spread(file, path, entry);
            } catch (const Error& e) {
                entry.problem = text_of(e);
            }
            out.push_back(std::move(entry));
            read_entries(file, path, ranks, one_part, out);
        } else {
            read_leaf(file, path, ranks, one_part, entry);
            out.push_back(std::move(entry));
        }
    }
}

}  // namespace impl

/// Opens a checkpoint file read-only on MPI_COMM_SELF. Throws IoError (from HDF5) if it cannot.
inline h5::File open(const std::string& path) {
    mpi::ensure_initialized();
    return h5::File(path, MPI_COMM_SELF, h5::Access::Read);
}

/// Everything about one file: metadata, entries, layout consistency. Never throws for what is in
/// the file (see `readable`, `complete`, `problem`). Throws: IoError ENOENT if it does not exist.
inline FileInfo examine(const std::string& path) {
    FileInfo info;
    info.path = path;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        const int err = errno;
        raise(posix_error("opening checkpoint", path, err));
    }
    if (S_ISDIR(st.st_mode)) raise(posix_error("opening checkpoint", path, EISDIR));
    info.listed.path = path;
    info.listed.file = std::filesystem::path(path).filename().string();
    info.listed.size = static_cast<std::uint64_t>(st.st_size);
    info.listed.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    Version v;
    CachedPart part;  // a node cache file: <name>.<seq>.rank<r>.h5
    info.version_name = split_version_name(info.listed.file, info.listed.name, v);
    if (split_cached_part_name(info.listed.file, info.listed.name, part)) {
        info.version_name = true;
        v = part.version;
    }
    info.listed.sequence = v.sequence;
    info.listed.temporary = v.temporary;
    info.listed.quarantined = v.quarantined;

    try {
        h5::File file = open(path);
        if (!file.has_attribute("/", "ckpt.format_version")) {
            info.problem = "not a ckpt checkpoint (no ckpt.format_version attribute)";
            return info;
        }
        info.format_version = file.read_int_attribute("/", "ckpt.format_version");
        if (info.format_version < 1 || info.format_version > CKPT_FORMAT_VERSION) {
            info.problem = impl::text_of(FormatError::version(path, info.format_version, CKPT_FORMAT_VERSION));
            return info;
        }
        info.library_version = file.read_string_attribute("/", "ckpt.library_version");
        info.sequence = file.read_int_attribute("/", "ckpt.sequence");
        info.step = file.read_int_attribute("/", "ckpt.step");
        info.time = file.read_int_attribute("/", "ckpt.time");
        info.ranks = file.read_int_attribute("/", "ckpt.ranks");
        info.argv = file.read_strings_attribute("/", "ckpt.argv");
        info.cwd = file.read_string_attribute("/", "ckpt.cwd");
        if (file.has_attribute("/", "ckpt.schema_version"))
            info.schema_version = file.read_int_attribute("/", "ckpt.schema_version");
        if (file.has_attribute("/", "ckpt.version_id"))
            info.version_id = static_cast<std::uint64_t>(file.read_int_attribute("/", "ckpt.version_id"));
        if (file.has_attribute("/", "ckpt.references"))
            info.references = file.read_strings_attribute("/", "ckpt.references");
        if (file.has_attribute("/", "ckpt.part")) {
            info.part = file.read_int_attribute("/", "ckpt.part");
            info.parts = file.read_int_attribute("/", "ckpt.parts");
        }
        if (!file.exists("/state") || !file.exists("/layout")) {
            info.problem = "not a valid ckpt checkpoint: no /state or /layout group";
            return info;
        }
        impl::read_entries(file, "/state", info.ranks, info.part >= 0, info.entries);
        file.close();
        info.readable = true;
    } catch (const Error& e) {
        info.problem = "cannot read: " + impl::text_of(e);
        return info;
    }
    for (const auto& e : info.entries)
        if (!e.problem.empty()) {
            info.problem = "entry \"" + e.name + "\": " + e.problem;
            return info;
        }
    if (info.version_name && info.listed.temporary) {
        info.problem = "temporary file: not committed (being written, or the write failed)";
        return info;
    }
    if (info.version_name && info.listed.quarantined) {
        info.problem = "quarantined: a restore found it corrupt (kept for inspection, never restored)";
        return info;
    }
    if (info.version_name && static_cast<std::uint64_t>(info.sequence) != info.listed.sequence) {
        info.problem = "the file name says sequence " + std::to_string(info.listed.sequence) + ", ckpt.sequence says " +
                       std::to_string(info.sequence);
        return info;
    }
    info.complete = true;
    return info;
}

/// One finding of verify(): file, entry ("" for the file as a whole), rank (-1: not one rank).
struct Problem {
    std::string file, entry;
    int rank = -1;
    std::string what;
};

/// Counters verify() fills in.
struct VerifyStats {
    std::uint64_t parts = 0;  ///< rank parts whose checksum was recomputed
    std::uint64_t bytes = 0;  ///< bytes read
};

namespace impl {

/// Calls `piece(sub)` for sub-boxes of `box` that together are `box`, each of at least one and
/// at most `limit` elements (`limit` >= 1): whole innermost rows, or pieces of one where a row
/// is longer. Nothing for an empty box.
template <class F>
void for_each_piece(const Box& box, std::uint64_t limit, F&& piece) {
    if (box.empty()) return;
    const std::size_t nd = box.count.size();
    // `cut`: the outermost dimension from which on the box's trailing dimensions fit in `limit`
    // elements together (0: the whole box fits). Dimensions before `split` = cut - 1 go one
    // index at a time, `split` itself `step` indices at a time, the ones from `cut` on whole.
    std::size_t cut = nd;
    std::uint64_t inner = 1;  // elements of dimensions cut.. of the box
    while (cut > 0 && inner * box.count[cut - 1] <= limit) inner *= box.count[--cut];
    if (cut == 0) return piece(box);
    const std::size_t split = cut - 1;
    const std::uint64_t step = std::max<std::uint64_t>(1, limit / inner);
    Box sub = box;
    for (std::size_t d = 0; d < split; ++d) sub.count[d] = 1;
    std::vector<std::uint64_t> at(split, 0);  // position in the dimensions before `split`
    while (true) {
        for (std::size_t d = 0; d < split; ++d) sub.origin[d] = box.origin[d] + at[d];
        for (std::uint64_t i = 0; i < box.count[split]; i += step) {
            sub.origin[split] = box.origin[split] + i;
            sub.count[split] = std::min(step, box.count[split] - i);
            piece(sub);
        }
        std::size_t d = split;
        while (d > 0 && ++at[d - 1] == box.count[d - 1]) at[--d] = 0;
        if (d == 0) return;
    }
}

/// A leaf's dataset, opened on its first read (an entry whose parts are all empty is never
/// opened: it may have no storage).
struct LeafReader {
    h5::File& file;
    std::string path;
    Element element;
    h5::Handle dset, type;
    void open_once() {
        if (dset.valid()) return;
        dset = file.open_dataset(path);
        type = h5::datatype(element, file.path());
    }
};

/// The checksum of stored part `p` of leaf `e`, recomputed from the file: the xxh64 of its bytes,
/// or for a block or concatenated leaf its position sum (a block's box read hyperslab by
/// hyperslab from the global dataset). Reads at most `chunk` elements at a time into `buffer`.
inline std::uint64_t stored_checksum(LeafReader& in, const EntryInfo& e, const Part& p, std::uint64_t chunk,
                                     std::vector<unsigned char>& buffer, VerifyStats& stats) {
    const std::size_t size = element_size(in.element);
    if (e.spread == Spread::Block) {
        std::uint64_t sum = 0;
        for_each_piece(p.box(), chunk, [&](const Box& sub) {
            in.open_once();
            const std::uint64_t n = sub.volume();
            buffer.resize(static_cast<std::size_t>(n * size));
            const std::vector<std::uint64_t> zero(sub.count.size(), 0);
            in.file.transfer_box(in.dset, in.path, in.type, buffer.data(), sub.count, zero, sub.origin, sub.count, false,
                                 false);
            sum += position_sum(buffer.data(), size, sub.count, zero, sub, e.shape);
            stats.bytes += n * size;
        });
        return sum;
    }
    const bool positional = has_position_sum(e.spread);
    Xxh64 h;
    std::uint64_t sum = 0;
    for (std::uint64_t done = 0; done < p.count;) {
        in.open_once();
        const std::uint64_t n = std::min(chunk, p.count - done);
        buffer.resize(static_cast<std::size_t>(n * size));
        in.file.read_block(in.dset, in.path, in.type, buffer.data(), p.offset + done, n);
        // A concatenated leaf's element i of the part has global index offset + i of {elements}.
        if (positional)
            sum += position_sum(buffer.data(), size, {n}, {0}, Box{{p.offset + done}, {n}}, {e.elements});
        else
            h.update(buffer.data(), buffer.size());
        done += n;
        stats.bytes += n * size;
    }
    return positional ? sum : h.digest();
}

/// "the stored data hashes to X" or "the stored box [..] sums to X", for a mismatch message.
inline std::string mismatch_text(const EntryInfo& e, const Part& p, std::uint64_t found) {
    if (e.spread == Spread::Block)
        return "checksum mismatch: the layout has position sum " + checksum_hex(p.checksum) + ", the stored box " +
               p.box().text() + " sums to " + checksum_hex(found);
    if (e.spread == Spread::Concatenated)
        return "checksum mismatch: the layout has position sum " + checksum_hex(p.checksum) + ", the stored part [" +
               std::to_string(p.offset) + ", " + std::to_string(p.offset + p.count) + ") sums to " + checksum_hex(found);
    return "checksum mismatch: the layout has xxh64 " + checksum_hex(p.checksum) + ", the stored data hashes to " +
           checksum_hex(found);
}

}  // namespace impl

/// Recomputes the checksum of every stored part of every leaf and compares it with /layout (the
/// xxh64 of a per-rank or replicated part, the position sum of a block or concatenated one);
/// also reports every reason `info` (from examine()) is not complete. Empty result: the file is
/// valid.
inline std::vector<Problem> verify(const FileInfo& info, VerifyStats* stats = nullptr) {
    std::vector<Problem> problems;
    VerifyStats local;
    if (!info.readable) {
        problems.push_back({info.path, "", -1, info.problem});
        return problems;
    }
    if (info.listed.temporary) problems.push_back({info.path, "", -1, "temporary file: not committed"});
    if (info.listed.quarantined) problems.push_back({info.path, "", -1, "quarantined: a restore found it corrupt"});
    for (const auto& e : info.entries)
        if (!e.problem.empty()) problems.push_back({info.path, e.name, -1, e.problem});
    if (problems.empty() && !info.complete) problems.push_back({info.path, "", -1, info.problem});
    try {
        h5::File file = open(info.path);
        std::vector<unsigned char> buffer;
        for (const auto& e : info.entries) {
            if (e.group || !e.problem.empty()) continue;
            const Element element = *element_from_name(e.element);
            // Streamed in pieces of at most 16 MiB, so a rank part of any size fits in memory.
            const std::uint64_t chunk = std::max<std::uint64_t>(1, (16u << 20) / element_size(element));
            impl::LeafReader in{file, "/state/" + e.name, element, {}, {}};
            for (std::size_t r = 0; r < e.parts.size(); ++r) {
                const Part& p = e.parts[r];
                try {
                    const std::uint64_t found = impl::stored_checksum(in, e, p, chunk, buffer, local);
                    ++local.parts;
                    if (found != p.checksum)
                        problems.push_back({info.path, e.name, static_cast<int>(r), impl::mismatch_text(e, p, found)});
                } catch (const Error& ex) {
                    problems.push_back({info.path, e.name, static_cast<int>(r), "cannot read: " + impl::text_of(ex)});
                }
            }
        }
        file.close();
    } catch (const Error& ex) {
        problems.push_back({info.path, "", -1, "cannot read: " + impl::text_of(ex)});
    }
    if (stats) *stats = local;
    return problems;
}

}  // namespace ckpt::detail::inspect
