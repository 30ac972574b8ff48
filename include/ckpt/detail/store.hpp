#pragma once
/// Reading and writing one checkpoint file (format: docs/file-format.md).
///
/// Every leaf is one dataset `/state/<path>` holding all ranks' parts back to back (a block leaf:
/// the global array, each rank's box in its place; a replicated leaf: rank 0's value), and one
/// table `/layout/<path>` with a row per rank (detail/layout_table.hpp). So the object count does
/// not grow with the rank count, and h5py reads any part, or a global array, without ckpt.

#include "ckpt/codec.hpp"
#include "ckpt/detail/checksum.hpp"
#include "ckpt/detail/h5/file.hpp"
#include "ckpt/detail/mpi/agree.hpp"
#include "ckpt/detail/space_reserve.hpp"
#include "ckpt/detail/io_watchdog.hpp"
#include "ckpt/detail/layout_table.hpp"
#include "ckpt/detail/position_sum.hpp"
#include "ckpt/detail/spread.hpp"
#include "ckpt/version.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace ckpt::detail {

/// File-level facts recorded as attributes of "/".
struct FileMeta {
    std::uint64_t sequence = 0;
    std::int64_t step = -1;      ///< -1: checkpoint taken outside poll(step)
    double time = 0;             ///< seconds since the epoch
    std::int64_t ranks = 0;
    std::vector<std::string> argv;
    std::string cwd;
    std::int64_t schema_version = 0;  ///< the application's (Checkpointer::schema_version)
    /// Drawn by rank 0 for each version, the same in every file of it: the files of one version
    /// in the node caches are told from a stale file of another job with the same number.
    std::uint64_t version_id = 0;
    /// A node cache's file holds one rank's part (ranks = 1): which world rank, of how many.
    std::int64_t part = -1, parts = 0;
};


/// A digest of what every rank is about to write; ranks must agree on it before any collective
/// HDF5 call, or they would create different datasets and hang.
inline void add_structure(Xxh64& h, const SaveNode& n) {
    std::string d = n.path + '\0' + n.codec + '\0' + std::to_string(static_cast<int>(n.element)) + '\0' +
                    std::to_string(n.extents.size()) + '\0' + spread_name(n.spread) + '\0' + n.compression.text() +
                    (n.compression_declared ? "!" : "") + '\n';
    h.update(d.data(), d.size());
    h.update(n.global.data(), n.global.size() * sizeof(std::uint64_t));
}
inline std::uint64_t structure_digest(const std::vector<SaveNode>& nodes) {
    Xxh64 h;
    for (const auto& n : nodes) add_structure(h, n);
    return h.digest();
}

/// Where one leaf of a version is stored, as the next version of the same process sees it
/// (docs/incremental.md): the file holding its data, and what this rank's part of it was.
struct StoredLeaf {
    std::string home;                 ///< file name, in the version directory, of the version holding its data
    std::uint64_t home_id = 0;        ///< that version's ckpt.version_id
    std::uint64_t signature = 0;      ///< the leaf's structure and C++ type (leaf_signature())
    std::uint64_t sum = 0;            ///< this rank's checksum of its part (also in `row`)
    std::vector<std::uint64_t> row;   ///< this rank's layout row: count, checksum, extents, box
    /// Whether its content differed from the version before that (false with no version to
    /// compare with): the next version predicts that it changes again (write_file()).
    bool changed = false;
};
using StoredLeaves = std::map<std::string, StoredLeaf>;

/// An incremental write (write_file()): the leaves of the version before, and the name and id of
/// the file being written (for the leaves it stores itself).
struct Increment {
    const StoredLeaves* previous = nullptr;  ///< the version before, to compare with (null: none)
    bool link = false;                       ///< whether leaves unchanged since then become links (else: a full version)
    std::string home;                        ///< this version's file name once committed
    StoredLeaves stored;                     ///< out: where each leaf of the version written is
};

inline std::uint64_t leaf_signature(const SaveNode& n) {
    Xxh64 h;
    add_structure(h, n);
    h.update(n.type_name.data(), n.type_name.size());
    return h.digest();
}

/// The checksum of a leaf's part: the xxh64 of its bytes, or for a block or concatenated leaf its
/// position sum, given where its part starts in the leaf's global sequence (`offset`) and that
/// sequence's length (`total`).
inline std::uint64_t part_checksum(const SaveNode& n, std::uint64_t offset, std::uint64_t total) {
    if (n.spread == Spread::Block)
        return position_sum(n.data, element_size(n.element), n.extents, n.interior, n.box, n.global);
    if (n.spread == Spread::Concatenated)
        return position_sum(n.data, element_size(n.element), {n.count}, {0}, Box{{offset}, {n.count}}, {total});
    return xxh64(n.data, n.count * element_size(n.element));
}

/// Local: the per-leaf checksum of this rank's part; with `only`, of those leaves only (0 for
/// the others).
inline std::vector<std::uint64_t> checksums(const std::vector<SaveNode>& nodes, const std::vector<std::uint64_t>& offsets,
                                            const std::vector<std::uint64_t>& totals,
                                            const std::vector<bool>& only = {}) {
    std::vector<std::uint64_t> sums(nodes.size(), 0);
    for (std::size_t i = 0; i < nodes.size(); ++i)
        if (!nodes[i].is_group() && (only.empty() || only[i])) sums[i] = part_checksum(nodes[i], offsets[i], totals[i]);
    return sums;
}

/// checksums(), on a helper thread while the caller writes the same bytes (both only read them):
/// the hashing then costs no time where a core is free, as during the data's fsync. A small
/// state is hashed at once, where a thread would cost more than the hashing.
class BackgroundChecksums {
public:
    BackgroundChecksums(const std::vector<SaveNode>& nodes, const std::vector<std::uint64_t>& offsets,
                        const std::vector<std::uint64_t>& totals, std::vector<bool> only = {})
        : nodes_(nodes), offsets_(offsets), totals_(totals), only_(std::move(only)) {
        std::uint64_t bytes = 0;
        for (std::size_t i = 0; i < nodes.size(); ++i)
            if (!nodes[i].is_group() && (only_.empty() || only_[i])) bytes += nodes[i].count * element_size(nodes[i].element);
        if (bytes >= (std::uint64_t{1} << 20)) {
            try {
                thread_ = std::thread([this] { sums_ = checksums(nodes_, offsets_, totals_, only_); });
                return;
            } catch (const std::system_error&) {  // no thread to be had: hash here instead
            }
        }
        sums_ = checksums(nodes_, offsets_, totals_, only_);
    }
    BackgroundChecksums(const BackgroundChecksums&) = delete;
    BackgroundChecksums& operator=(const BackgroundChecksums&) = delete;
    ~BackgroundChecksums() { wait(); }

    /// Waits for the hashing; one checksum per node (0 for a group).
    const std::vector<std::uint64_t>& get() {
        wait();
        return sums_;
    }

private:
    void wait() noexcept {
        if (thread_.joinable()) thread_.join();
    }
    const std::vector<SaveNode>& nodes_;
    const std::vector<std::uint64_t>& offsets_;
    const std::vector<std::uint64_t>& totals_;
    const std::vector<bool> only_;
    std::vector<std::uint64_t> sums_;
    std::thread thread_;
};

/// The two datasets of a leaf, created before any raw data is written.
struct NodeObjects {
    h5::Handle data;
    h5::Handle layout;
};

/// The job's default compression covers leaves of at least this many bytes: a smaller one gains
/// little, and each compressed leaf costs a collective write of its own.
constexpr std::uint64_t compress_min_bytes = std::uint64_t{64} << 10;

/// Which leaves are stored through filters (the same answer on every rank: from the totals).
inline std::vector<bool> filtered_leaves(const std::vector<SaveNode>& nodes, const std::vector<std::uint64_t>& totals) {
    std::vector<bool> filtered(nodes.size(), false);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const SaveNode& n = nodes[i];
        filtered[i] = !n.is_group() && n.compression.on() && totals[i] > 0 &&
                      (n.compression_declared || totals[i] * element_size(n.element) >= compress_min_bytes);
    }
    return filtered;
}

/// The shape of a leaf's dataset: the global array, or the ranks' parts back to back.
inline std::vector<std::uint64_t> dataset_shape(const SaveNode& n, std::uint64_t total) {
    return n.spread == Spread::Block ? n.global : std::vector<std::uint64_t>{total};
}

/// Disk the filtered leaves may take, at most, in blocks of `block` bytes (h5::filtered_bound).
inline std::uint64_t filtered_room(const std::vector<SaveNode>& nodes, const std::vector<std::uint64_t>& totals,
                                   const std::vector<bool>& filtered, std::uint64_t block) {
    std::uint64_t room = 0;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (!filtered[i]) continue;
        const std::vector<std::uint64_t> shape = dataset_shape(nodes[i], totals[i]);
        const std::vector<hsize_t> chunk = h5::chunk_shape(shape, element_size(nodes[i].element));
        std::uint64_t chunks = 1;
        for (std::size_t d = 0; d < shape.size(); ++d) chunks *= (shape[d] + chunk[d] - 1) / chunk[d];
        room += h5::filtered_bound(totals[i] * element_size(nodes[i].element), chunks, block);
    }
    return room;
}

/// Collective. Metadata only: a group, or a leaf's dataset, its layout table and their
/// attributes; a `filtered` leaf's dataset is chunked, through its compression's filters.
inline NodeObjects create_node(h5::File& file, const mpi::Comm& comm, const SaveNode& n, std::uint64_t total,
                               bool filtered) {
    NodeObjects made;
    if (n.is_group()) {
        file.create_group(n.path);
        file.create_group(layout_path(n.path));
    } else {
        h5::Handle type = h5::datatype(n.element, file.path());
        const std::vector<std::uint64_t> shape = dataset_shape(n, total);
        made.data = file.create_dataset(n.path, type, std::vector<hsize_t>(shape.begin(), shape.end()),
                                        filtered ? n.compression : Compression{});
        file.write_attribute(n.path, "ckpt.element", std::string(element_name(n.element)));
        file.write_attribute(n.path, "ckpt.ndims", static_cast<std::int64_t>(n.extents.size()));
        h5::Handle u64 = h5::datatype(Element::UInt64, file.path());
        const hsize_t width = Part::width(n.extents.size(), n.spread);
        const hsize_t rows = n.spread == Spread::Replicated ? 1 : static_cast<hsize_t>(comm.size());
        made.layout = file.create_dataset(layout_path(n.path), u64, {rows, width});
        file.write_attribute(layout_path(n.path), "ckpt.columns", std::string(layout_columns(n.spread)));
    }
    file.write_attribute(n.path, "ckpt.codec", n.codec);
    file.write_attribute(n.path, "ckpt.type", n.type_name);
    file.write_attribute(n.path, "ckpt.distribution", std::string(spread_name(n.spread)));
    return made;
}

/// Collective. An unchanged leaf of an incremental version: its dataset and layout table are
/// external links to those of the version `home` that stores them. No objects to write into.
inline NodeObjects link_node(h5::File& file, const SaveNode& n, const std::string& home) {
    file.create_external_link(n.path, home, n.path);
    file.create_external_link(layout_path(n.path), home, layout_path(n.path));
    return {};
}

/// Entries up to this size are gathered to rank 0 and written by it alone.
constexpr std::uint64_t small_entry_bytes = std::uint64_t{4} << 20;

/// Independent. Raw data only: this rank's part of a leaf, `count` elements (0: a replicated
/// leaf's copy on a rank other than 0).
inline void fill_node(h5::File& file, const SaveNode& n, const NodeObjects& made, std::uint64_t offset,
                      std::uint64_t count) {
    if (n.is_group() || count == 0) return;
    h5::Handle type = h5::datatype(n.element, file.path());
    file.write_block(made.data, n.path, type, n.data, offset, count, false);
}

/// This rank's row of every leaf's layout table, back to back (the same length on every rank).
inline void append_layout_row(const SaveNode& n, std::uint64_t offset, std::uint64_t sum, std::vector<std::uint64_t>& rows) {
    if (n.spread == Spread::Block)
        Part{n.count ? linear_index(n.box.origin, n.global) : 0, n.count, sum, n.box.count, n.box.origin}.append_to(rows);
    else
        Part{offset, n.count, sum, n.extents, {}}.append_to(rows);
}
inline std::vector<std::uint64_t> layout_rows(const std::vector<SaveNode>& nodes,
                                              const std::vector<std::uint64_t>& offsets,
                                              const std::vector<std::uint64_t>& sums) {
    std::vector<std::uint64_t> rows;
    for (std::size_t i = 0; i < nodes.size(); ++i)
        if (!nodes[i].is_group()) append_layout_row(nodes[i], offsets[i], sums[i], rows);
    return rows;
}

/// Collective. The leaves an incremental version may link to where the version before stores
/// them, if their checksums agree: those whose structure, type and layout row but for the
/// checksum (count, shape, box) are what they were, on every rank. The same answer everywhere
/// (one reduction).
inline std::vector<bool> candidate_leaves(const mpi::Comm& comm, const std::vector<SaveNode>& nodes,
                                          const std::vector<std::uint64_t>& offsets, const StoredLeaves& previous) {
    std::vector<int> same(nodes.size(), 0);
    std::vector<std::uint64_t> row;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i].is_group()) continue;
        const auto found = previous.find(nodes[i].path);
        if (found == previous.end()) continue;
        row.clear();
        append_layout_row(nodes[i], offsets[i], found->second.sum, row);
        same[i] = found->second.signature == leaf_signature(nodes[i]) && found->second.row == row;
    }
    if (!same.empty()) comm.allreduce(same.data(), static_cast<int>(same.size()), MPI_MIN);
    return std::vector<bool>(same.begin(), same.end());
}

/// Collective. Of the candidate leaves `among`, those whose checksum is what it was on every
/// rank: unchanged since the version before. The same answer everywhere (one reduction).
inline std::vector<bool> unchanged_leaves(const mpi::Comm& comm, const std::vector<SaveNode>& nodes,
                                          const std::vector<std::uint64_t>& sums, const StoredLeaves& previous,
                                          const std::vector<bool>& among) {
    std::vector<int> same(nodes.size(), 0);
    for (std::size_t i = 0; i < nodes.size(); ++i)
        same[i] = among[i] && previous.at(nodes[i].path).sum == sums[i];
    if (!same.empty()) comm.allreduce(same.data(), static_cast<int>(same.size()), MPI_MIN);
    return std::vector<bool>(same.begin(), same.end());
}

/// Rank 0 only: every leaf's layout table from the gathered rows (`per_rank` values per rank).
inline void write_layouts(h5::File& file, const std::vector<SaveNode>& nodes, const std::vector<NodeObjects>& made,
                          const std::vector<std::uint64_t>& gathered, std::size_t per_rank, std::size_t ranks) {
    std::size_t column = 0;
    std::vector<std::uint64_t> table;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i].is_group()) continue;
        const std::size_t width = Part::width(nodes[i].extents.size(), nodes[i].spread);
        if (!made[i].layout.valid()) {  // linked to an older version's table
            column += width;
            continue;
        }
        table.clear();
        const std::size_t rows = nodes[i].spread == Spread::Replicated ? 1 : ranks;  // rank 0's value only
        for (std::size_t r = 0; r < rows; ++r) {
            const auto row = gathered.begin() + static_cast<std::ptrdiff_t>(r * per_rank + column);
            table.insert(table.end(), row, row + static_cast<std::ptrdiff_t>(width));
        }
        file.write_whole(made[i].layout, layout_path(nodes[i].path), table.data());
        column += width;
    }
}

/// Small leaves gathered to rank 0 in one call: at most this many bytes of them in all.
constexpr std::uint64_t gathered_bytes_per_call = std::uint64_t{16} << 20;

/// Raw data, after the metadata flush. Independent writes: a failed write (a full disk) fails on
/// the rank that made it, not inside a collective call half the ranks have left; the caller has
/// the ranks agree after. Leaves of at most small_entry_bytes are gathered to rank 0, which
/// writes each in one call instead of every rank writing a few bytes into the same file block;
/// they travel together, up to gathered_bytes_per_call per gather, so that a checkpoint of many
/// small entries costs a few collective calls, not one per entry.
inline void write_data(h5::File& file, const mpi::Comm& comm, const std::vector<SaveNode>& nodes,
                       const std::vector<NodeObjects>& made, const std::vector<std::uint64_t>& counts,
                       const std::vector<std::uint64_t>& offsets, const std::vector<std::uint64_t>& totals,
                       const std::vector<bool>& filtered, mpi::Outcome& local) {
    const bool gathering = comm.size() > 1;
    const std::vector<std::uint64_t> all_counts = gathering ? comm.gather(counts) : std::vector<std::uint64_t>{};
    const std::size_t ranks = static_cast<std::size_t>(comm.size());
    auto bytes_of = [&](std::size_t i, std::size_t r) { return all_counts[r * nodes.size() + i] * element_size(nodes[i].element); };
    std::vector<std::size_t> batch;  // small leaves waiting for their gather, in order
    std::uint64_t batch_bytes = 0;
    auto gather_batch = [&] {
        if (batch.empty()) return;
        std::vector<char> mine;  // this rank's part of each leaf of the batch, back to back
        for (std::size_t i : batch) {
            const char* data = static_cast<const char*>(nodes[i].data);
            mine.insert(mine.end(), data, data + counts[i] * element_size(nodes[i].element));
        }
        std::vector<int> sent(comm.rank() == 0 ? ranks : 0, 0);  // rank 0: every rank's bytes
        for (std::size_t r = 0; r < sent.size(); ++r)
            for (std::size_t i : batch) sent[r] += static_cast<int>(bytes_of(i, r));
        const std::vector<char> all = comm.gatherv(mine.data(), static_cast<int>(mine.size()), sent);
        if (comm.rank() == 0)
            local.run([&] {
                // `all` holds rank by rank, leaf by leaf; each leaf's dataset wants rank by rank.
                std::vector<std::size_t> at(ranks, 0);  // where rank r's part of the batch starts
                for (std::size_t r = 1; r < ranks; ++r) at[r] = at[r - 1] + static_cast<std::size_t>(sent[r - 1]);
                std::vector<char> leaf;
                for (std::size_t i : batch) {
                    leaf.clear();
                    for (std::size_t r = 0; r < ranks; ++r) {
                        const std::size_t b = bytes_of(i, r);
                        leaf.insert(leaf.end(), all.begin() + static_cast<std::ptrdiff_t>(at[r]),
                                    all.begin() + static_cast<std::ptrdiff_t>(at[r] + b));
                        at[r] += b;
                    }
                    if (totals[i] == 0) continue;
                    h5::Handle type = h5::datatype(nodes[i].element, file.path());
                    file.write_block(made[i].data, nodes[i].path, type, leaf.data(), 0, totals[i], false);
                }
            });
        batch.clear();
        batch_bytes = 0;
    };
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const SaveNode& n = nodes[i];
        // write_blocks(), write_filtered(); no dataset: linked to an older version
        if (n.is_group() || n.spread == Spread::Block || filtered[i] || !made[i].data.valid()) continue;
        const std::uint64_t bytes = totals[i] * element_size(n.element);
        if (!gathering || bytes > small_entry_bytes) {
            local.run([&] { fill_node(file, n, made[i], offsets[i], counts[i]); });
            continue;
        }
        if (batch_bytes + bytes > gathered_bytes_per_call) gather_batch();
        batch.push_back(i);
        batch_bytes += bytes;
    }
    gather_batch();
}

/// Raw data of the block leaves, before the others: one independent call per leaf and rank, its
/// box from its view into the global dataset (ghost layers left out by the memory selection, no
/// copy). Independent, like the other raw data: a collective write that fails on some ranks
/// (a full disk) leaves the others inside HDF5 (measured: heat's ENOSPC test at 4 ranks), so
/// the ranks agree once, after all raw data, instead.
inline void write_blocks(h5::File& file, const std::vector<SaveNode>& nodes, const std::vector<NodeObjects>& made,
                         const std::vector<bool>& filtered, mpi::Outcome& local) {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const SaveNode& n = nodes[i];
        if (n.spread != Spread::Block || filtered[i] || !made[i].data.valid()) continue;
        local.run([&] {
            h5::Handle type = h5::datatype(n.element, file.path());
            file.transfer_box(made[i].data, n.path, type, const_cast<void*>(n.data), n.extents, n.interior, n.box.origin,
                              n.box.count, false, true);
        });
    }
}

/// Collective. Raw data of the filtered leaves, after the others: one collective call per leaf
/// (parallel HDF5 1.10 filters no other way), each rank giving its part, HDF5 sending each
/// chunk's pieces to one rank that compresses it. A full disk cannot fail these calls: their
/// room was held back until now (write_file). `agreed` runs between leaves: a rank that failed
/// before a call (not inside one) stops every rank before the next.
template <class Agreed>
void write_filtered(h5::File& file, const std::vector<SaveNode>& nodes, const std::vector<NodeObjects>& made,
                    const std::vector<bool>& filtered, const std::vector<std::uint64_t>& counts,
                    const std::vector<std::uint64_t>& offsets, mpi::Outcome& local, Agreed&& agreed) {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (!filtered[i]) continue;
        const SaveNode& n = nodes[i];
        local.run([&] {
            h5::Handle type = h5::datatype(n.element, file.path());
            if (n.spread == Spread::Block)
                file.transfer_box(made[i].data, n.path, type, const_cast<void*>(n.data), n.extents, n.interior,
                                  n.box.origin, n.box.count, true, true);
            else
                file.write_block(made[i].data, n.path, type, n.data, offsets[i], counts[i], true);
        });
        if (!agreed()) return;
    }
}

/// Datasets created between two agreements. Creation is metadata only, held in every rank's
/// metadata cache, with no communication, until HDF5 syncs the caches collectively: at the
/// writer's flush, or earlier once the dirty metadata passes the cache's threshold (32 MiB,
/// some 16000 leaves at about 2 KiB each). A rank whose creation failed stops creating, so the
/// others must agree before that early sync; in a file that stays under the threshold (the one
/// flush the space reserve is sized for) none happens, and one agreement per 2048 leaves bounds
/// how much metadata the others create for nothing.
constexpr std::size_t nodes_per_agreement = 2048;

/// Disk space the metadata flush of a file holding `nodes` may newly take, in file-system blocks
/// of `block` bytes. Measured: about 1 KiB of metadata per entry, in two pieces (the data's and
/// the layout table's object headers) that sit between raw data and so may each take a block of
/// their own before the data is written; twice that, plus room for the root's attributes and
/// the groups' link indexes.
inline std::uint64_t metadata_room(std::size_t nodes, std::uint64_t block) {
    return 16 * block + nodes * (4 * block + 1024);
}
inline std::uint64_t metadata_room(const std::vector<SaveNode>& nodes, std::uint64_t block) {
    return metadata_room(nodes.size(), block);
}

/// A process may not write a file past RLIMIT_FSIZE (`ulimit -f`); HDF5 1.10 cannot close a file
/// it failed to extend, so a checkpoint that could outgrow the limit is refused before it starts.
inline void check_file_size_limit(const std::string& path, std::uint64_t bound) {
    struct rlimit limit {};
    if (::getrlimit(RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || bound <= limit.rlim_cur) return;
    ErrorInfo i("a checkpoint of up to " + std::to_string(bound) + " bytes would exceed the file size limit (ulimit -f) of " +
                    std::to_string(limit.rlim_cur) + " bytes: " + std::strerror(EFBIG),
                path, "", -1, "raise the limit (ulimit -f), or protect less state");
    i.errno_value = EFBIG;
    raise(IoError(std::move(i)));
}

/// Where an asynchronous checkpoint's raw data goes (docs/async.md): per node, the file address
/// of its dataset and of its layout table (none: an empty dataset, or a group), and this rank's
/// part of each leaf's sequence (as write_file computes them).
struct Placement {
    std::vector<std::optional<std::uint64_t>> data, layout;
    std::vector<std::uint64_t> counts, offsets, totals;
};

/// Collective. Writes `nodes` (identical structure on every rank, already agreed) into a new file.
/// A failure on any rank, at any step, throws the same error on every rank: the ranks agree after
/// each step (one small reduction; nine per file, whatever the number of entries below 2048, a
/// few more for an incremental one), so none is left inside a collective HDF5 call that the
/// others have abandoned. Where HDF5 or
/// ROMIO strand ranks all the same (an I/O error inside one of their collectives), the write's
/// IoWatchdog ends every rank that makes no progress with 74, instead of a hang.
///
/// The order makes a full disk safe. HDF5 1.10 does not agree a failed collective write across
/// ranks (the ranks that failed skip the rest of the call; the others wait in it), so:
/// every metadata write happens at one flush, before the raw data, with the room it needs held
/// back until then (SpaceReserve), and a disk too full for the reserve fails before HDF5 opens
/// anything; the raw data is then written independently. If that fails, the close has no
/// metadata left to write and every rank reaches it.
///
/// Rank 0 creates the file itself first, exclusively (never through a file or link someone else
/// put at the name), and returns its identity, for the commit to check that it renames that file.
///
/// With `placement`, the file gets its metadata only: every dataset is created and allocated at
/// a fixed address, given in `placement`, and the file is closed without raw data or layout
/// rows, which each rank then writes there itself with plain POSIX calls (write_placed()).
///
/// With `increment` (not with `placement`) that may link, the leaves unchanged since
/// `increment->previous` on every rank become links to the older file that stores them. Which
/// are unchanged is known only once they are hashed, so the hashing overlaps the writing: the
/// leaves that changed in the version before are written at once, while a helper thread hashes;
/// those that did not (the candidates to link) wait for their checksums, after the data's fsync,
/// and become links then, or datasets written after all. That second round of metadata has its
/// room held in the reserve until its own flush, as the first. A compressed candidate cannot
/// wait (its write is collective and comes before that point): it is hashed first. Once the
/// file is written, `increment->stored` says where each leaf of this version is, and whether it
/// changed.
inline FileIdentity write_file(const std::string& path, const mpi::Comm& comm, const std::vector<SaveNode>& nodes,
                               const FileMeta& meta, Placement* placement = nullptr, Increment* increment = nullptr) {
    FileIdentity created;
    // Elements each rank adds to each leaf's dataset: a replicated leaf stores rank 0's only.
    std::vector<std::uint64_t> counts;
    for (const auto& n : nodes)
        counts.push_back(n.is_group() || (n.spread == Spread::Replicated && comm.rank() != 0) ? 0 : n.count);
    std::vector<std::uint64_t> offsets = comm.exscan_sum(counts);
    std::vector<std::uint64_t> totals = counts;
    if (!totals.empty()) comm.allreduce(totals.data(), static_cast<int>(totals.size()), MPI_SUM);
    std::vector<bool> filtered = filtered_leaves(nodes, totals);
    // Incremental (docs/incremental.md): the candidates, of the same shape and type as in the
    // version before; of those, the compressed ones hashed now (`early`), the others that did not
    // change in the version before decided after the data (`deferred`).
    const StoredLeaves* previous = increment && !placement ? increment->previous : nullptr;
    const bool linking = previous && increment->link;
    const std::vector<bool> candidate =
        previous ? candidate_leaves(comm, nodes, offsets, *previous) : std::vector<bool>(nodes.size(), false);
    std::vector<bool> early(nodes.size(), false), deferred(nodes.size(), false), linked(nodes.size(), false);
    std::size_t deferred_count = 0;
    for (std::size_t i = 0; linking && i < nodes.size(); ++i) {
        if (!candidate[i]) continue;
        if (filtered[i])
            early[i] = true;
        else if (!previous->at(nodes[i].path).changed)
            deferred[i] = true, ++deferred_count;
    }
    std::map<std::string, std::uint64_t> references;  // the older files linked to, and their version ids
    auto link_to_previous = [&](std::size_t i) {
        linked[i] = true;
        filtered[i] = false;
        const StoredLeaf& old = previous->at(nodes[i].path);
        references.emplace(old.home, old.home_id);
    };
    std::vector<std::uint64_t> early_sums;
    if (std::find(early.begin(), early.end(), true) != early.end()) {
        early_sums = checksums(nodes, offsets, totals, early);
        const std::vector<bool> same = unchanged_leaves(comm, nodes, early_sums, *previous, early);
        for (std::size_t i = 0; i < nodes.size(); ++i)
            if (same[i]) link_to_previous(i);
    }
    const bool any_filtered = std::find(filtered.begin(), filtered.end(), true) != filtered.end();
    // The others' checksums, hashed while the data is written, for the deferred leaves and the
    // layout tables written last (placed: by each rank, from its own sums).
    std::optional<BackgroundChecksums> sums;
    if (!placement) {
        std::vector<bool> rest(nodes.size(), true);
        for (std::size_t i = 0; i < nodes.size(); ++i) rest[i] = !early[i];
        sums.emplace(nodes, offsets, totals, std::move(rest));
    }

    mpi::Outcome local;
    // Before anything is created: a write that cannot fit fails here, cleanly, on every rank.
    const std::uint64_t block = SpaceReserve::block_size(path);
    const std::uint64_t room = metadata_room(nodes.size() - deferred_count, block);
    // The filtered leaves' room is held back until their collective writes (write_filtered());
    // the deferred leaves' (and the list of references'), until their objects are made.
    const std::uint64_t compressed_room = filtered_room(nodes, totals, filtered, block);
    const std::uint64_t late_room = linking ? metadata_room(deferred_count, block) : 0;
    std::uint64_t data_bytes = 0;
    for (std::size_t i = 0; i < nodes.size(); ++i)
        if (!nodes[i].is_group())
            data_bytes += totals[i] * element_size(nodes[i].element) +
                          static_cast<std::uint64_t>(nodes[i].spread == Spread::Replicated ? 1 : comm.size()) *
                              Part::width(nodes[i].extents.size(), nodes[i].spread) * 8;
    // From here on, an I/O error on one rank can strand the others inside HDF5 and ROMIO: a rank
    // that makes no progress (no step completed by all ranks) for a step's budget ends itself
    // with 74. At 1 rank no peer can strand it. Before the first HDF5 call, so a rank that has
    // no watchdog (a bad CKPT_STUCK_SECONDS, no thread) fails cleanly at the first agreement.
    // Declared before the file, whose destructor may close it collectively.
    std::optional<IoWatchdog> watchdog;
    if (comm.size() > 1)
        local.run([&] {
            const double budget = io_budget_seconds(data_bytes + room, std::getenv(stuck_seconds_variable()));
            watchdog.emplace("the checkpoint write of " + path, comm.rank(), budget);
        });
    auto all_ok = [&] {
        if (watchdog && local.failed()) watchdog->failed(local.info());  // its line, if the others never come
        const bool ok = mpi::all_ok(comm, local);
        if (watchdog) watchdog->progress();
        return ok;
    };
    local.run([&] {
        check_file_size_limit(path, data_bytes + room + compressed_room + late_room);
        if (placement && any_filtered)  // refused earlier (Options, protect()); never written unfiltered
            raise(UsageError({"an asynchronous checkpoint cannot write compressed entries", path, "", -1,
                              "drop async, or compression"}));
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            const std::string problem = filtered[i] ? h5::filter_problem(nodes[i].compression) : std::string();
            if (!problem.empty())
                raise(ConfigError({"entry \"" + entry_name(nodes[i].path) + "\" is to be stored with compression " +
                                       nodes[i].compression.text() + ", but " + problem.substr(0, problem.find(':')),
                                   path, nodes[i].path, comm.rank(), problem.substr(problem.find(':') + 2)}));
        }
    });
    SpaceReserve reserve;
    const std::string base = path.size() > 4 && path.compare(path.size() - 4, 4, ".tmp") == 0 ? path.substr(0, path.size() - 4) : path;
    if (comm.rank() == 0)
        local.run([&] {
            created = create_exclusive(path, "the temporary checkpoint file");
            reserve.hold(base + ".reserve", room + compressed_room + late_room,
                         compressed_room > 0 ? "the checkpoint's metadata and compressed data" : "the checkpoint's metadata");
        });
    if (!all_ok()) agree(comm, local);  // throws: nothing was opened

    std::optional<h5::File> file;
    local.run([&] { file.emplace(path, comm.get(), h5::Access::Create); });
    const bool opened_everywhere = all_ok();
    bool ok = opened_everywhere;
    std::vector<NodeObjects> made(nodes.size());
    if (ok) {
        local.run([&] {
            file->write_attribute("/", "ckpt.format_version", std::int64_t{CKPT_FORMAT_VERSION});
            file->write_attribute("/", "ckpt.library_version", std::string(CKPT_VERSION_STRING));
            file->write_attribute("/", "ckpt.sequence", static_cast<std::int64_t>(meta.sequence));
            file->write_attribute("/", "ckpt.step", meta.step);
            file->write_attribute("/", "ckpt.time", static_cast<std::int64_t>(meta.time));
            file->write_attribute("/", "ckpt.ranks", meta.ranks);
            file->write_attribute("/", "ckpt.argv", meta.argv);
            file->write_attribute("/", "ckpt.cwd", meta.cwd);
            file->write_attribute("/", "ckpt.schema_version", meta.schema_version);
            file->write_attribute("/", "ckpt.version_id", static_cast<std::int64_t>(meta.version_id));
            if (meta.part >= 0) {
                file->write_attribute("/", "ckpt.part", meta.part);
                file->write_attribute("/", "ckpt.parts", meta.parts);
            }
            file->create_group("/state");
            file->create_group("/layout");
        });
    }
    // The leaves' objects: links, or datasets (metadata only, no communication but at the
    // agreements). `late`: the deferred leaves only, else all others.
    auto make_objects = [&](bool late) {
        std::size_t done = 0;
        for (std::size_t i = 0; ok && i < nodes.size(); ++i) {
            if (deferred[i] != late) continue;
            local.run([&] {
                made[i] = linked[i] ? link_node(*file, nodes[i], previous->at(nodes[i].path).home)
                                    : create_node(*file, comm, nodes[i], totals[i], filtered[i]);
            });
            if (++done % nodes_per_agreement == 0) ok = all_ok();
        }
    };
    if (ok) make_objects(false);
    // Rank 0: the metadata flush (now, or the close's on an error) has room; the filtered and
    // deferred leaves' stays held.
    if (compressed_room + late_room > 0 && reserve.held())
        local.run([&] { reserve.shrink_to(compressed_room + late_room); });
    else
        reserve.release();
    // Also the barrier before the flush: no rank is past it before rank 0 has freed the room.
    ok = all_ok() && ok;
    if (ok) {
        local.run([&] { file->flush(); });
        ok = all_ok();
    }
    if (ok && placement) {
        local.run([&] {
            placement->data.assign(nodes.size(), std::nullopt);
            placement->layout.assign(nodes.size(), std::nullopt);
            for (std::size_t i = 0; i < nodes.size(); ++i) {
                if (nodes[i].is_group()) continue;
                placement->data[i] = file->address(made[i].data);
                placement->layout[i] = file->address(made[i].layout);
                if (!placement->layout[i] || (totals[i] > 0 && !placement->data[i]))
                    raise(IoError({"HDF5 allocated no storage for a dataset", path, nodes[i].path, -1, {}}));
            }
            placement->counts = counts;
            placement->offsets = offsets;
            placement->totals = totals;
        });
        ok = all_ok();
    } else if (ok) {
        write_blocks(*file, nodes, made, filtered, local);
        write_data(*file, comm, nodes, made, counts, offsets, totals, filtered, local);
        ok = all_ok();
        if (ok && any_filtered) {
            // Rank 0; the agreement after it is the barrier before any write.
            if (late_room > 0 && reserve.held())
                local.run([&] { reserve.shrink_to(late_room); });
            else
                reserve.release();
            ok = all_ok();
            if (ok) write_filtered(*file, nodes, made, filtered, counts, offsets, local, [&] { return ok = all_ok(); });
        }
    }
    if (ok && !placement) {
        local.run([&] { file->flush(); });  // collective: MPI_File_sync (no metadata is left)
        ok = all_ok();
    }
    // Every checksum, once hashed: the early ones and the others'.
    std::vector<std::uint64_t> all_sums;
    if (sums) {
        all_sums = sums->get();
        for (std::size_t i = 0; i < nodes.size(); ++i)
            if (early[i]) all_sums[i] = early_sums[i];
    }
    // Which candidates are unchanged (the same answer on every rank): the deferred ones among
    // them become links now; the others that did change are written now.
    std::vector<bool> same(nodes.size(), false);
    if (ok && previous) {
        same = unchanged_leaves(comm, nodes, all_sums, *previous, candidate);
        for (std::size_t i = 0; i < nodes.size(); ++i)
            if (deferred[i] && same[i]) link_to_previous(i);
    }
    if (ok && linking) {
        local.run([&] {
            if (references.empty()) return;
            std::vector<std::string> names, ids;
            for (const auto& [name, id] : references) names.push_back(name), ids.push_back(std::to_string(static_cast<std::int64_t>(id)));  // as ckpt.version_id
            file->write_attribute("/", "ckpt.references", names);
            file->write_attribute("/", "ckpt.reference_ids", ids);
        });
        make_objects(true);
        reserve.release();  // rank 0; the agreement after it is the barrier before the flush
        ok = all_ok() && ok;
        if (ok) {
            local.run([&] { file->flush(); });
            ok = all_ok();
        }
        std::vector<bool> written(nodes.size(), true);  // write_data()'s mask: all but the late datasets
        bool any_late = false;
        for (std::size_t i = 0; i < nodes.size(); ++i)
            if (deferred[i] && !linked[i]) written[i] = false, any_late = true;
        if (ok && any_late) {
            write_blocks(*file, nodes, made, written, local);
            write_data(*file, comm, nodes, made, counts, offsets, totals, written, local);
            ok = all_ok();
            if (ok) {
                local.run([&] { file->flush(); });
                ok = all_ok();
            }
        }
    }
    if (ok && !placement) {
        // The layout tables hold the checksums, hashed meanwhile. Rank 0 writes them after the
        // data's fsync; its fsync of the file at the commit makes them durable.
        const std::vector<std::uint64_t> rows = layout_rows(nodes, offsets, all_sums);
        const std::vector<std::uint64_t> gathered = comm.gather(rows);
        if (comm.rank() == 0)
            local.run([&] { write_layouts(*file, nodes, made, gathered, rows.size(), static_cast<std::size_t>(comm.size())); });
        ok = all_ok();
    }
    made.clear();
    if (ok) {
        local.run([&] { file->close(); });  // rank 0 writes the superblock: it may fail alone
    } else if (opened_everywhere) {
        file->close_quietly();  // every rank is here, so the collective close cannot hang
    } else if (file) {
        file->abandon();  // open on some ranks only: a collective close would wait for the others
    }
    all_ok();
    agree(comm, local);
    if (increment && !placement) {
        increment->stored.clear();
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            if (nodes[i].is_group()) continue;
            StoredLeaf& leaf = increment->stored[nodes[i].path];
            if (linked[i]) {
                leaf = previous->at(nodes[i].path);
            } else {
                leaf.home = increment->home;
                leaf.home_id = meta.version_id;
                leaf.signature = leaf_signature(nodes[i]);
                leaf.sum = all_sums[i];
                append_layout_row(nodes[i], offsets[i], all_sums[i], leaf.row);
            }
            leaf.changed = previous && !same[i];
        }
    }
    return created;
}

/// Whether a helper thread that hashes while the rank reads can pay: only where the node has a
/// CPU for each of its ranks. On a node with more ranks than CPUs every core is already taken,
/// and the thread only adds switching; the hashing then follows each read on the same thread,
/// while the slab is still in cache.
inline bool hashing_thread_pays(const mpi::Comm& comm) {
    const unsigned cpus = std::thread::hardware_concurrency();
    return cpus == 0 || static_cast<unsigned>(comm.ranks_on_node()) <= cpus;
}

/// Runs read(0), read(1), ... read(n-1) here, and hash(i) as soon as read(i) is done, in order:
/// with `overlap`, on a second thread, so that the hashing overlaps the next read; else here,
/// after each read. `hash` makes no HDF5 or MPI call. A read's exception is rethrown once the
/// second thread has stopped.
template <class Read, class Hash>
void read_overlapping_hash(std::size_t n, Read&& read, Hash&& hash, bool overlap) {
    std::mutex m;
    std::condition_variable cv;
    std::size_t ready = 0;  // reads done
    bool stop = false;
    std::thread hashing;
    if (n > 1 && overlap) {
        try {
            hashing = std::thread([&] {
                for (std::size_t done = 0; done < n;) {
                    std::unique_lock<std::mutex> lock(m);
                    cv.wait(lock, [&] { return ready > done || stop; });
                    if (ready == done) return;  // stopped: a read failed
                    const std::size_t upto = ready;
                    lock.unlock();
                    for (; done < upto; ++done) hash(done);
                }
            });
        } catch (const std::system_error&) {  // no thread to be had: hash after each read
        }
    }
    if (!hashing.joinable()) {
        for (std::size_t i = 0; i < n; ++i) read(i), hash(i);
        return;
    }
    try {
        for (std::size_t i = 0; i < n; ++i) {
            read(i);
            {
                std::lock_guard<std::mutex> lock(m);
                ready = i + 1;
            }
            cv.notify_one();
        }
    } catch (...) {
        {
            std::lock_guard<std::mutex> lock(m);
            stop = true;
        }
        cv.notify_one();
        hashing.join();
        throw;
    }
    hashing.join();
}

/// Reads a checkpoint file for restore: every rank reads its own part, independently. A file
/// written by another number of ranks is read as each entry's distribution allows (replicated:
/// rank 0's value; concatenated: a new split of the sequence; block: the rank's new box), and the
/// position sums of those parts are verified together at the end (verify_distributed()).
class FileSource final : public LoadSource {
public:
    /// Collective (the open). Checks it is a ckpt file this version reads.
    FileSource(const std::string& path, const mpi::Comm& comm)
        : rank_(comm.rank()), size_(comm.size()), part_(comm.rank()), overlap_(hashing_thread_pays(comm)),
          file_(open(path, comm)) {
        if (!file_.has_attribute("/", "ckpt.format_version"))
            raise(FormatError({"not a ckpt checkpoint (no ckpt.format_version attribute)", path, "/", -1,
                               "point --restart at a file written by ckpt"}));
        const auto version = file_.read_int_attribute("/", "ckpt.format_version");
        if (version < 1 || version > CKPT_FORMAT_VERSION) raise(FormatError::version(path, version, CKPT_FORMAT_VERSION));
        meta_.sequence = static_cast<std::uint64_t>(file_.read_int_attribute("/", "ckpt.sequence"));
        meta_.step = file_.read_int_attribute("/", "ckpt.step");
        meta_.time = static_cast<double>(file_.read_int_attribute("/", "ckpt.time"));
        meta_.ranks = file_.read_int_attribute("/", "ckpt.ranks");
        if (meta_.ranks < 1) raise(file_.bad_layout("/", "records " + std::to_string(meta_.ranks) + " ranks"));
        if (file_.has_attribute("/", "ckpt.schema_version"))
            meta_.schema_version = file_.read_int_attribute("/", "ckpt.schema_version");
        if (file_.has_attribute("/", "ckpt.version_id"))
            meta_.version_id = static_cast<std::uint64_t>(file_.read_int_attribute("/", "ckpt.version_id"));
        if (file_.has_attribute("/", "ckpt.part")) {
            meta_.part = file_.read_int_attribute("/", "ckpt.part");
            meta_.parts = file_.read_int_attribute("/", "ckpt.parts");
        }
    }

    const FileMeta& meta() const noexcept { return meta_; }
    const std::string& path() const noexcept { return file_.path(); }
    int stored_ranks() const noexcept { return static_cast<int>(meta_.ranks); }
    void close() { file_.close(); }

    /// The declaration of the entry being restored next (per-rank if never called).
    void declare(const Distribution& how) { declared_ = &how; }
    bool has_entry(const std::string& name) const { return file_.exists("/state/" + name); }
    /// The top-level entries the file holds.
    std::vector<std::string> entries() const { return file_.list("/state"); }
    /// How the file spreads the object at `path` (per-rank in files before format 3).
    Spread stored_spread(const std::string& path) const {
        if (!file_.has_attribute(path, "ckpt.distribution")) return Spread::PerRank;
        Spread s = Spread::PerRank;
        if (!parse_spread(file_.read_string_attribute(path, "ckpt.distribution"), s))
            raise(file_.bad_layout(path, "has an unknown ckpt.distribution"));
        return s;
    }

    int use_part(const std::string& entry, int k, int ranks) override {
        if (ranks >= 0 && (k < 0 || k >= ranks))
            raise(UsageError({"StoredParts::read(" + std::to_string(k) + ") of \"" + entry + "\": the checkpoint has parts 0 to " +
                                  std::to_string(ranks - 1),
                              file_.path(), "/state/" + entry, rank_, ""}));
        const int previous = chosen_part_ ? part_ : -1;
        chosen_part_ = k >= 0;
        part_ = k >= 0 ? k : rank_;
        return previous;
    }

    void read_direct(const std::string& path, Element element, const std::string& type_name,
                     const Prepare& prepare) override {
        expect_entry(path, "direct", type_name);
        const Element stored = stored_element(path, element);
        const Spread spread = stored_spread(path);
        if (spread == Spread::Block)
            raise(mismatch(path, "it is a block of a global array in the checkpoint", "an undeclared array",
                           "ckpt::block", "protect it with ckpt::block(global, offset, count)"));
        if (spread == Spread::Concatenated) return read_concatenated(path, element, stored, prepare);
        const Part part = layout_row(path, row_for(path, spread), spread);
        std::string expected;
        void* dest = prepare(part.extents, expected);  // null for an empty vector, which is no mismatch
        if (!expected.empty())
            raise(mismatch(path, "shape differs", expected, shape_text(element_name(stored), part.extents),
                           "restart with the same decomposition, or protect a resizable std::vector"));
        if (stored == element) return read_checked(path, element, dest, part);
        std::vector<unsigned char> raw = widened_buffer(part.count, stored, element);
        read_checked(path, stored, raw.data(), part);
        convert_into(path, stored, element, raw, dest, part.count);
    }

    std::vector<unsigned char> read_blob(const std::string& path, const std::string& codec,
                                         const std::string& type_name) override {
        expect_entry(path, codec, type_name);
        const Spread spread = stored_spread(path);
        const Part part = layout_row(path, row_for(path, spread), spread);
        std::vector<unsigned char> bytes(static_cast<std::size_t>(part.count));
        read_checked(path, Element::UInt8, bytes.data(), part);
        return bytes;
    }

    void open_group(const std::string& path, const std::string& type_name) override {
        expect_entry(path, "custom", type_name);
        row_for(path, stored_spread(path));  // refuses a per-rank group on another rank count
    }

    /// A block-distributed entry: the rank's new box, declared in `n` (from the entry's save), read
    /// from the global dataset straight into the view's interior.
    void read_block(const SaveNode& n) {
        const std::string& path = n.path;
        expect_entry(path, "direct", n.type_name);
        const Element stored = stored_element(path, n.element);
        const Spread spread = stored_spread(path);
        if (spread == Spread::PerRank && meta_.ranks == size_) return read_part_into_block(n, stored);
        if (spread != Spread::Block)
            raise(mismatch(path, "it is declared a block of a global array, the checkpoint has it " +
                                     std::string(spread_name(spread)),
                           "ckpt::block", spread_name(spread),
                           spread == Spread::PerRank ? "restore it once on " + std::to_string(meta_.ranks) +
                                                           " ranks and checkpoint again"
                                                     : "restore this checkpoint with the declaration it was written with"));
        const auto dims = file_.dims(path);
        if (std::vector<std::uint64_t>(dims.begin(), dims.end()) != n.global)
            raise(mismatch(path, "global shape differs", shape_text(element_name(n.element), n.global),
                           shape_text(element_name(stored), std::vector<std::uint64_t>(dims.begin(), dims.end())),
                           "declare the global shape the checkpoint was written with"));
        const std::vector<Part> parts = all_rows(path, Spread::Block, n.global);
        h5::Handle dset = file_.open_dataset(path);
        const std::size_t size = element_size(stored);
        Pending pending{path, {}, std::vector<std::uint64_t>(parts.size(), 0)};
        for (const Part& p : parts) pending.stored.push_back(p.checksum);
        // Adds the position sums of `region` (a part of the rank's box) to each stored part's.
        auto sum_pieces = [&](const Box& region, const void* memory, const std::vector<std::uint64_t>& extents,
                              const std::vector<std::uint64_t>& start) {
            for (std::size_t k = 0; k < parts.size(); ++k) {
                const Box piece = intersect(region, parts[k].box());
                if (piece.empty()) continue;
                std::vector<std::uint64_t> at = start;
                for (std::size_t d = 0; d < at.size(); ++d) at[d] += piece.origin[d] - n.box.origin[d];
                pending.sums[k] += position_sum(memory, size, extents, at, piece, n.global);
            }
        };
        if (stored == n.element) {
            // Slabs along the first dimension, each summed while the next is read (16 MiB), or
            // right after it is read, while it is in cache (2 MiB).
            h5::Handle type = h5::datatype(stored, file_.path());
            const std::uint64_t rows = n.box.count.empty() ? 1 : n.box.count[0];
            const std::uint64_t row_bytes = rows ? n.count / rows * size : 0;
            const std::uint64_t slab_bytes = std::uint64_t{overlap_ ? 16u : 2u} << 20;
            const std::uint64_t per_slab = std::max<std::uint64_t>(1, row_bytes ? slab_bytes / row_bytes : rows);
            auto slab = [&](std::size_t i) {
                Box b = n.box;
                b.origin[0] += i * per_slab;
                b.count[0] = std::min(per_slab, rows - i * per_slab);
                return b;
            };
            read_overlapping_hash(
                rows == 0 || n.count == 0 ? 0 : static_cast<std::size_t>((rows + per_slab - 1) / per_slab),
                [&](std::size_t i) {
                    const Box b = slab(i);
                    std::vector<std::uint64_t> start = n.interior;
                    start[0] += b.origin[0] - n.box.origin[0];
                    file_.transfer_box(dset, path, type, const_cast<void*>(n.data), n.extents, start, b.origin, b.count,
                                       false, false);
                },
                [&](std::size_t i) { sum_pieces(slab(i), n.data, n.extents, n.interior); }, overlap_);
        } else {  // read as stored, verify, convert, then place into the view
            std::vector<unsigned char> raw = widened_buffer(n.count, stored, n.element);
            h5::Handle type = h5::datatype(stored, file_.path());
            const std::vector<std::uint64_t> zero(n.box.count.size(), 0);
            file_.transfer_box(dset, path, type, raw.data(), n.box.count, zero, n.box.origin, n.box.count, false, false);
            sum_pieces(n.box, raw.data(), n.box.count, zero);
            convert_into(path, stored, n.element, raw, nullptr, n.count);
            place_into_view(n, raw);
        }
        pending_.push_back(std::move(pending));
    }

    /// A block entry in a checkpoint that has it per-rank (written before it was declared), on as
    /// many ranks: the rank's stored part, if it has the shape of the rank's box, into the box.
    void read_part_into_block(const SaveNode& n, Element stored) {
        const Part part = layout_row(n.path, rank_, Spread::PerRank);
        if (part.extents != n.box.count)
            raise(mismatch(n.path, "it is declared a block, and this rank's per-rank part does not have its box's shape",
                           shape_text(element_name(n.element), n.box.count), shape_text(element_name(stored), part.extents),
                           "restore it once with the declaration it was written with, and checkpoint again"));
        std::vector<unsigned char> raw = widened_buffer(part.count, stored, n.element);
        read_checked(n.path, stored, raw.data(), part);
        if (stored != n.element) convert_into(n.path, stored, n.element, raw, nullptr, part.count);
        place_into_view(n, raw);
    }

    /// Copies the rank's box, packed in `packed` (application element type), into its view.
    static void place_into_view(const SaveNode& n, const std::vector<unsigned char>& packed) {
        const std::size_t to = element_size(n.element);
        const std::vector<std::uint64_t> zero(n.box.count.size(), 0);
        auto* view = static_cast<unsigned char*>(const_cast<void*>(n.data));
        std::uint64_t from = 0;
        for_each_run(n.extents, n.interior, Box{zero, n.box.count}, n.box.count,
                     [&](std::uint64_t mem, std::uint64_t, std::uint64_t len) {
                         std::memcpy(view + mem * to, packed.data() + from * to, static_cast<std::size_t>(len * to));
                         from += len;
                     });
    }

    /// This rank's sums of the pieces it read of each stored part of the block and concatenated
    /// entries, in one vector: the same length on every rank that read every entry.
    std::vector<std::uint64_t> distributed_sums() const {
        std::vector<std::uint64_t> sums;
        for (const Pending& p : pending_) sums.insert(sums.end(), p.sums.begin(), p.sums.end());
        return sums;
    }
    /// Once every rank has read every entry, given the sum over the ranks of distributed_sums():
    /// the pieces of each stored part, read by whichever ranks, must add up to its position sum.
    /// The same verdict on every rank.
    void verify_distributed(const std::vector<std::uint64_t>& sums) const {
        std::size_t at = 0;
        for (const Pending& p : pending_)
            for (std::size_t k = 0; k < p.stored.size(); ++k, ++at)
                if (sums[at] != p.stored[k]) raise(FormatError::checksum(file_.path(), p.path, static_cast<int>(k)));
    }

private:
    /// A distributed entry's pieces: per stored part, its stored position sum and this rank's sum
    /// of the elements it read from that part.
    struct Pending {
        std::string path;
        std::vector<std::uint64_t> stored, sums;
    };

    static h5::File open(const std::string& path, const mpi::Comm& comm) {
        try {
            return h5::File(path, comm.get(), h5::Access::Read);
        } catch (const IoError& e) {
            // The disk failed (EIO from a read, a vanished file): an I/O error, never a reason to
            // quarantine a version that may be good.
            if (h5::storage_failure(e.hdf5_stack())) throw;
            // The file exists (selection checked) but HDF5 cannot read it: truncated or not HDF5.
            ErrorInfo info = e.info();
            info.sentence = "cannot open checkpoint: not a readable HDF5 file (truncated or corrupt)";
            info.file = path;
            raise(FormatError(std::move(info)));
        }
    }

    MismatchError mismatch(const std::string& path, const std::string& what, const std::string& expected,
                           const std::string& found, const std::string& hint = {}) const {
        return MismatchError::make("cannot restore \"" + entry_name(path) + "\": " + what + ": application has " +
                                       expected + ", checkpoint has " + found,
                                   file_.path(), path, rank_, expected, found, hint);
    }

    void expect_entry(const std::string& path, const std::string& codec, const std::string& type_name) {
        if (!file_.exists(path))
            raise(mismatch(path, "the checkpoint has no such entry", type_name, "nothing",
                           "restore with a checkpoint written by this application, protect fewer objects, or "
                           "declare the entry .optional()"));
        const std::string stored = file_.read_string_attribute(path, "ckpt.codec");
        if (stored != codec)
            raise(mismatch(path, "codec differs", codec + " (" + type_name + ")",
                           stored + " (" + file_.read_string_attribute(path, "ckpt.type") + ")"));
    }

    /// The stored element type, if the application's type holds it exactly; else a mismatch.
    Element stored_element(const std::string& path, Element element) const {
        const std::string name = file_.read_string_attribute(path, "ckpt.element");
        Element stored = element;
        if (!parse_element(name, stored))
            raise(file_.bad_layout(path, "has an unknown element type \"" + name + "\""));
        if (!converts_losslessly(stored, element))
            raise(mismatch(path, "element type differs, and " + name + " does not convert to " +
                                     element_name(element) + " without loss",
                           element_name(element), name, "protect the element type the checkpoint was written with"));
        return stored;
    }

    /// Which stored rank's row this rank reads for a leaf spread as `spread`.
    int row_for(const std::string& path, Spread spread) const {
        if (spread == Spread::Replicated) return 0;
        if (chosen_part_ || meta_.ranks == size_) return part_;
        if (declared_ && declared_->kind() == Distribution::Kind::Replicated) return 0;  // declared after it was written
        const std::string name = entry_name(path);
        auto ranks = [](long n) { return std::to_string(n) + (n == 1 ? " rank" : " ranks"); };
        raise(MismatchError::make(
            "cannot restore \"" + name + "\" on " + ranks(size_) + ": it is per-rank state written by " + ranks(meta_.ranks),
            file_.path(), path, rank_, ranks(size_), ranks(meta_.ranks),
            "declare how \"" + name + "\" is spread (ckpt::replicated(), ckpt::block(...), ckpt::concatenated()) or give "
            "it ckpt::per_rank().redistribute(hook); or restart with mpiexec -n " + std::to_string(meta_.ranks)));
    }

    /// Row `row` of the leaf's layout table, checked against the leaf's dataset.
    Part layout_row(const std::string& path, int row, Spread spread) {
        const auto values = file_.read_row(layout_path(path), static_cast<hsize_t>(row));
        if (values.size() < FirstExtent) raise(file_.bad_layout(layout_path(path), "has too few columns"));
        const Part part = Part::from_row(values.data(), values.size(), spread);
        const auto dims = file_.dims(path);
        const std::string problem = dims.size() == 1 ? part.problem(dims[0]) : "its dataset is not 1-D";
        if (!problem.empty())
            raise(file_.bad_layout(layout_path(path), "row for rank " + std::to_string(row) + " is inconsistent: " + problem));
        return part;
    }

    /// Every stored rank's row of a block or concatenated leaf, each checked.
    std::vector<Part> all_rows(const std::string& path, Spread spread, const std::vector<std::uint64_t>& global) {
        hsize_t rows = 0, width = 0;
        const auto values = file_.read_table(layout_path(path), rows, width);
        if (rows != static_cast<hsize_t>(meta_.ranks) || width < FirstExtent)
            raise(file_.bad_layout(layout_path(path), "does not have one row per rank that wrote the file"));
        std::vector<Part> parts;
        for (hsize_t r = 0; r < rows; ++r) {
            parts.push_back(Part::from_row(values.data() + r * width, width, spread));
            const std::string problem = spread == Spread::Block ? parts.back().block_problem(global)
                                                                : parts.back().problem(global.at(0));
            if (!problem.empty())
                raise(file_.bad_layout(layout_path(path), "row for rank " + std::to_string(r) + " is inconsistent: " + problem));
        }
        return parts;
    }

    /// A concatenated leaf: the rank's new stretch of the global sequence, read and summed.
    void read_concatenated(const std::string& path, Element element, Element stored, const Prepare& prepare) {
        const auto dims = file_.dims(path);
        if (dims.size() != 1) raise(file_.bad_layout(path, "is a concatenated entry whose dataset is not 1-D"));
        const std::uint64_t total = dims[0];
        const std::vector<Part> parts = all_rows(path, Spread::Concatenated, {total});
        std::uint64_t offset = 0, count = 0;
        // On as many ranks as wrote it, each rank gets its own part back unless split() says otherwise.
        const bool concatenated = declared_ && declared_->kind() == Distribution::Kind::Concatenated;
        if (chosen_part_ || (meta_.ranks == size_ && !(concatenated && declared_->has_split()))) {
            offset = parts[static_cast<std::size_t>(part_)].offset;
            count = parts[static_cast<std::size_t>(part_)].count;
        } else if (concatenated) {
            split_range(path, total, offset, count);
        } else {
            row_for(path, Spread::PerRank);  // throws: per-rank on another rank count
        }
        std::string expected;
        void* dest = prepare({count}, expected);
        if (!expected.empty())
            raise(mismatch(path, "shape differs", expected, shape_text(element_name(stored), {count}),
                           "protect a resizable std::vector"));
        Pending pending{path, {}, {}};
        const std::size_t size = element_size(stored);
        std::vector<unsigned char> raw;
        void* into = dest;
        if (stored != element) {
            raw = widened_buffer(count, stored, element);
            into = raw.data();
        }
        if (count > 0) {
            h5::Handle dset = file_.open_dataset(path);
            h5::Handle type = h5::datatype(stored, file_.path());
            file_.read_block(dset, path, type, into, offset, count);
        }
        for (const Part& p : parts) {
            const Box piece = intersect(Box{{offset}, {count}}, Box{{p.offset}, {p.count}});
            pending.stored.push_back(p.checksum);
            pending.sums.push_back(piece.empty() ? 0 : position_sum(into, size, {count}, {piece.origin[0] - offset}, piece, {total}));
        }
        if (chosen_part_) {  // a hook's read of one whole part, on this rank alone: verified here
            if (pending.sums[static_cast<std::size_t>(part_)] != pending.stored[static_cast<std::size_t>(part_)])
                raise(FormatError::checksum(file_.path(), path, part_));
        } else {
            pending_.push_back(std::move(pending));
        }
        if (stored != element) convert_into(path, stored, element, raw, dest, count);
    }

    /// This rank's stretch [offset, offset + count) of a concatenated sequence of `total`
    /// elements: the declared split, or an even one. Every rank computes every rank's count, so
    /// a split that does not add up fails on all of them alike.
    void split_range(const std::string& path, std::uint64_t total, std::uint64_t& offset, std::uint64_t& count) const {
        std::uint64_t sum = 0;
        for (int r = 0; r < size_; ++r) {
            const std::uint64_t c = declared_->has_split()
                                        ? declared_->call_split(total, r, size_)
                                        : total / static_cast<std::uint64_t>(size_) +
                                              (static_cast<std::uint64_t>(r) < total % static_cast<std::uint64_t>(size_) ? 1 : 0);
            if (r == rank_) offset = sum, count = c;
            sum += c;
        }
        if (sum != total)
            raise(UsageError({"the split() of \"" + entry_name(path) + "\" gives " + std::to_string(sum) + " elements over " +
                                  std::to_string(size_) + " ranks; the checkpoint holds " + std::to_string(total),
                              file_.path(), path, -1, "the counts split() returns must add up to the total it is given"}));
    }

    /// Room for `count` elements stored as `stored`, converted in place to `to`.
    static std::vector<unsigned char> widened_buffer(std::uint64_t count, Element stored, Element to) {
        return std::vector<unsigned char>(static_cast<std::size_t>(count * std::max(element_size(stored), element_size(to))));
    }
    /// Converts `count` verified elements in `raw` from `stored` to `to`, then copies them to
    /// `dest` (unless null: the caller places them).
    void convert_into(const std::string& path, Element stored, Element to, std::vector<unsigned char>& raw, void* dest,
                      std::uint64_t count) {
        if (count == 0) return;
        h5::Handle from = h5::datatype(stored, file_.path()), into = h5::datatype(to, file_.path());
        file_.convert(from, into, static_cast<std::size_t>(count), raw.data(), path);
        if (dest) std::memcpy(dest, raw.data(), static_cast<std::size_t>(count * element_size(to)));
    }

    void read_checked(const std::string& path, Element element, void* dest, const Part& part) {
        const std::uint64_t count = part.count;
        const std::size_t size = element_size(element);
        std::uint64_t sum = xxh64(dest, 0);
        if (count > 0) {  // an empty part has nothing stored (and may have no storage at all)
            h5::Handle dset = file_.open_dataset(path);
            h5::Handle type = h5::datatype(element, file_.path());
            sum = read_and_hash(dset, path, type, static_cast<unsigned char*>(dest), part.offset, count, size);
        }
        if (sum != part.checksum) raise(FormatError::checksum(file_.path(), path, part_));
    }

    /// Reads in chunks of 16 MiB; a second thread hashes each chunk while the next one is read,
    /// so on a cold read the checksum costs (almost) nothing. Without a CPU to spare, chunks of
    /// 2 MiB, each hashed right after it is read (hashing_thread_pays()).
    std::uint64_t read_and_hash(hid_t dset, const std::string& path, hid_t type, unsigned char* dest,
                                std::uint64_t offset, std::uint64_t count, std::size_t size) {
        const std::uint64_t chunk = std::max<std::uint64_t>(1, (std::uint64_t{overlap_ ? 16u : 2u} << 20) / size);
        Xxh64 hasher;
        read_overlapping_hash(
            static_cast<std::size_t>((count + chunk - 1) / chunk),
            [&](std::size_t i) {
                const std::uint64_t at = i * chunk, n = std::min(chunk, count - at);
                file_.read_block(dset, path, type, dest + at * size, offset + at, n);
            },
            [&](std::size_t i) {
                const std::uint64_t at = i * chunk, n = std::min(chunk, count - at);
                hasher.update(dest + at * size, static_cast<std::size_t>(n * size));
            },
            overlap_);
        return hasher.digest();
    }

    int rank_, size_;
    int part_;                   ///< the stored rank whose per-rank parts are read
    bool overlap_;               ///< hash on a second thread while reading (hashing_thread_pays())
    bool chosen_part_ = false;   ///< part_ was chosen by a redistribute() hook
    const Distribution* declared_ = nullptr;
    h5::File file_;
    FileMeta meta_;
    std::vector<Pending> pending_;
};

}  // namespace ckpt::detail
