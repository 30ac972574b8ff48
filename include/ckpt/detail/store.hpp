#pragma once
/// Reading and writing one checkpoint file (format: docs/file-format.md).
///
/// Every leaf is one dataset `/state/<path>` holding all ranks' parts back to back, and one table
/// `/layout/<path>` with a row per rank (detail/layout_table.hpp). So the object count does not
/// grow with the rank count, and h5py reads any part without ckpt.

#include "ckpt/codec.hpp"
#include "ckpt/detail/checksum.hpp"
#include "ckpt/detail/h5/file.hpp"
#include "ckpt/detail/mpi/agree.hpp"
#include "ckpt/detail/space_reserve.hpp"
#include "ckpt/detail/io_watchdog.hpp"
#include "ckpt/detail/layout_table.hpp"
#include "ckpt/version.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
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
};


/// A digest of what every rank is about to write; ranks must agree on it before any collective
/// HDF5 call, or they would create different datasets and hang.
inline std::uint64_t structure_digest(const std::vector<SaveNode>& nodes) {
    Xxh64 h;
    for (const auto& n : nodes) {
        std::string d = n.path + '\0' + n.codec + '\0' + std::to_string(static_cast<int>(n.element)) + '\0' +
                        std::to_string(n.extents.size()) + '\n';
        h.update(d.data(), d.size());
    }
    return h.digest();
}

/// Local, before any collective: the per-leaf checksum of this rank's bytes.
inline std::vector<std::uint64_t> checksums(const std::vector<SaveNode>& nodes) {
    std::vector<std::uint64_t> sums(nodes.size(), 0);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const auto& n = nodes[i];
        if (n.is_group()) continue;
        sums[i] = xxh64(n.data, n.count * element_size(n.element));
    }
    return sums;
}

/// checksums(), on a helper thread while the caller writes the same bytes (both only read them):
/// the hashing then costs no time where a core is free, as during the data's fsync. A small
/// state is hashed at once, where a thread would cost more than the hashing.
class BackgroundChecksums {
public:
    explicit BackgroundChecksums(const std::vector<SaveNode>& nodes) : nodes_(nodes) {
        std::uint64_t bytes = 0;
        for (const auto& n : nodes) bytes += n.is_group() ? 0 : n.count * element_size(n.element);
        if (bytes >= (std::uint64_t{1} << 20)) {
            try {
                thread_ = std::thread([this] { sums_ = checksums(nodes_); });
                return;
            } catch (const std::system_error&) {  // no thread to be had: hash here instead
            }
        }
        sums_ = checksums(nodes_);
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
    std::vector<std::uint64_t> sums_;
    std::thread thread_;
};

/// The two datasets of a leaf, created before any raw data is written.
struct NodeObjects {
    h5::Handle data;
    h5::Handle layout;
};

/// Collective. Metadata only: a group, or a leaf's dataset, its layout table and their attributes.
inline NodeObjects create_node(h5::File& file, const mpi::Comm& comm, const SaveNode& n, std::uint64_t total) {
    NodeObjects made;
    if (n.is_group()) {
        file.create_group(n.path);
        file.create_group(layout_path(n.path));
    } else {
        h5::Handle type = h5::datatype(n.element, file.path());
        made.data = file.create_dataset(n.path, type, {total});
        file.write_attribute(n.path, "ckpt.element", std::string(element_name(n.element)));
        file.write_attribute(n.path, "ckpt.ndims", static_cast<std::int64_t>(n.extents.size()));
        h5::Handle u64 = h5::datatype(Element::UInt64, file.path());
        const hsize_t width = Part::width(n.extents.size());
        made.layout = file.create_dataset(layout_path(n.path), u64, {static_cast<hsize_t>(comm.size()), width});
        file.write_attribute(layout_path(n.path), "ckpt.columns", std::string(layout_columns()));
    }
    file.write_attribute(n.path, "ckpt.codec", n.codec);
    file.write_attribute(n.path, "ckpt.type", n.type_name);
    return made;
}

/// Entries up to this size are gathered to rank 0 and written by it alone.
constexpr std::uint64_t small_entry_bytes = std::uint64_t{4} << 20;

/// Independent. Raw data only: this rank's part of a leaf.
inline void fill_node(h5::File& file, const SaveNode& n, const NodeObjects& made, std::uint64_t offset) {
    if (n.is_group() || n.count == 0) return;
    h5::Handle type = h5::datatype(n.element, file.path());
    file.write_block(made.data, n.path, type, n.data, offset, n.count, false);
}

/// This rank's row of every leaf's layout table, back to back (the same length on every rank).
inline std::vector<std::uint64_t> layout_rows(const std::vector<SaveNode>& nodes,
                                              const std::vector<std::uint64_t>& offsets,
                                              const std::vector<std::uint64_t>& sums) {
    std::vector<std::uint64_t> rows;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const SaveNode& n = nodes[i];
        if (n.is_group()) continue;
        Part{offsets[i], n.count, sums[i], n.extents}.append_to(rows);
    }
    return rows;
}

/// Rank 0 only: every leaf's layout table from the gathered rows (`per_rank` values per rank).
inline void write_layouts(h5::File& file, const std::vector<SaveNode>& nodes, const std::vector<NodeObjects>& made,
                          const std::vector<std::uint64_t>& gathered, std::size_t per_rank, std::size_t ranks) {
    std::size_t column = 0;
    std::vector<std::uint64_t> table;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i].is_group()) continue;
        const std::size_t width = Part::width(nodes[i].extents.size());
        table.clear();
        for (std::size_t r = 0; r < ranks; ++r) {
            const auto row = gathered.begin() + static_cast<std::ptrdiff_t>(r * per_rank + column);
            table.insert(table.end(), row, row + static_cast<std::ptrdiff_t>(width));
        }
        file.write_whole(made[i].layout, layout_path(nodes[i].path), table.data());
        column += width;
    }
}

/// Raw data, after the metadata flush. Independent writes: a failed write (a full disk) fails on
/// the rank that made it, not inside a collective call half the ranks have left; the caller has
/// the ranks agree after. Leaves of at most small_entry_bytes are gathered to rank 0, which
/// writes each in one call instead of every rank writing a few bytes into the same file block.
inline void write_data(h5::File& file, const mpi::Comm& comm, const std::vector<SaveNode>& nodes,
                       const std::vector<NodeObjects>& made, const std::vector<std::uint64_t>& counts,
                       const std::vector<std::uint64_t>& offsets, const std::vector<std::uint64_t>& totals,
                       mpi::Outcome& local) {
    const bool gathering = comm.size() > 1;
    const std::vector<std::uint64_t> all_counts = gathering ? comm.gather(counts) : std::vector<std::uint64_t>{};
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const SaveNode& n = nodes[i];
        if (n.is_group()) continue;
        const std::uint64_t size = element_size(n.element);
        if (!gathering || totals[i] * size > small_entry_bytes) {
            local.run([&] { fill_node(file, n, made[i], offsets[i]); });
            continue;
        }
        std::vector<int> bytes;  // rank 0: every rank's part
        for (std::size_t r = 0; r < all_counts.size() / nodes.size(); ++r)
            bytes.push_back(static_cast<int>(all_counts[r * nodes.size() + i] * size));
        const std::vector<char> all = comm.gatherv(n.data, static_cast<int>(n.count * size), bytes);
        if (comm.rank() == 0 && totals[i] > 0)
            local.run([&] {
                h5::Handle type = h5::datatype(n.element, file.path());
                file.write_block(made[i].data, n.path, type, all.data(), 0, totals[i], false);
            });
    }
}

/// Disk space the metadata flush of a file holding `nodes` may newly take, in file-system blocks
/// of `block` bytes. Measured: about 1 KiB of metadata per entry, in two pieces (the data's and
/// the layout table's object headers) that sit between raw data and so may each take a block of
/// their own before the data is written; twice that, plus room for the root's attributes and
/// the groups' link indexes.
inline std::uint64_t metadata_room(const std::vector<SaveNode>& nodes, std::uint64_t block) {
    return 16 * block + nodes.size() * (4 * block + 1024);
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

/// Collective. Writes `nodes` (identical structure on every rank, already agreed) into a new file.
/// A failure on any rank, at any step, throws the same error on every rank: the ranks agree after
/// each collective step (one small reduction per entry), so none is left inside a collective
/// HDF5 call that the others have abandoned. Where HDF5 or ROMIO strand ranks all the same (an
/// I/O error inside one of their collectives), the write's IoWatchdog ends every rank that
/// makes no progress with 74, instead of a hang.
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
inline FileIdentity write_file(const std::string& path, const mpi::Comm& comm, const std::vector<SaveNode>& nodes,
                               const FileMeta& meta) {
    FileIdentity created;
    BackgroundChecksums sums(nodes);  // needed only for the layout tables, written last
    std::vector<std::uint64_t> counts;
    for (const auto& n : nodes) counts.push_back(n.is_group() ? 0 : n.count);
    std::vector<std::uint64_t> offsets = comm.exscan_sum(counts);
    std::vector<std::uint64_t> totals = counts;
    if (!totals.empty()) comm.allreduce(totals.data(), static_cast<int>(totals.size()), MPI_SUM);

    mpi::Outcome local;
    // Before anything is created: a write that cannot fit fails here, cleanly, on every rank.
    const std::uint64_t block = SpaceReserve::block_size(path);
    const std::uint64_t room = metadata_room(nodes, block);
    std::uint64_t data_bytes = 0;
    for (std::size_t i = 0; i < nodes.size(); ++i)
        if (!nodes[i].is_group())
            data_bytes += totals[i] * element_size(nodes[i].element) +
                          static_cast<std::uint64_t>(comm.size()) * Part::width(nodes[i].extents.size()) * 8;
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
    local.run([&] { check_file_size_limit(path, data_bytes + room); });
    SpaceReserve reserve;
    const std::string base = path.size() > 4 && path.compare(path.size() - 4, 4, ".tmp") == 0 ? path.substr(0, path.size() - 4) : path;
    if (comm.rank() == 0)
        local.run([&] {
            created = create_exclusive(path, "the temporary checkpoint file");
            reserve.hold(base + ".reserve", room);
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
            file->create_group("/state");
            file->create_group("/layout");
        });
        ok = all_ok();
    }
    for (std::size_t i = 0; ok && i < nodes.size(); ++i) {
        local.run([&] { made[i] = create_node(*file, comm, nodes[i], totals[i]); });
        ok = all_ok();
    }
    reserve.release();  // rank 0: the metadata flush (now, or the close's on an error) has room
    if (ok) {
        comm.barrier();  // no rank writes metadata before the room is free
        local.run([&] { file->flush(); });
        ok = all_ok();
    }
    if (ok) {
        write_data(*file, comm, nodes, made, counts, offsets, totals, local);
        ok = all_ok();
    }
    if (ok) {
        local.run([&] { file->flush(); });  // collective: MPI_File_sync (no metadata is left)
        ok = all_ok();
    }
    if (ok) {
        // The layout tables hold the checksums, hashed meanwhile. Rank 0 writes them after the
        // data's fsync; its fsync of the file at the commit makes them durable.
        const std::vector<std::uint64_t> rows = layout_rows(nodes, offsets, sums.get());
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
    return created;
}

/// Reads a checkpoint file for restore: every rank reads its own part, independently.
class FileSource final : public LoadSource {
public:
    /// Collective (the open). Checks it is a ckpt file this version reads, written by as many ranks.
    FileSource(const std::string& path, const mpi::Comm& comm) : rank_(comm.rank()), file_(open(path, comm)) {
        if (!file_.has_attribute("/", "ckpt.format_version"))
            raise(FormatError({"not a ckpt checkpoint (no ckpt.format_version attribute)", path, "/", -1,
                               "point --restart at a file written by ckpt"}));
        const auto version = file_.read_int_attribute("/", "ckpt.format_version");
        if (version < 1 || version > CKPT_FORMAT_VERSION) raise(FormatError::version(path, version, CKPT_FORMAT_VERSION));
        meta_.sequence = static_cast<std::uint64_t>(file_.read_int_attribute("/", "ckpt.sequence"));
        meta_.step = file_.read_int_attribute("/", "ckpt.step");
        meta_.time = static_cast<double>(file_.read_int_attribute("/", "ckpt.time"));
        meta_.ranks = file_.read_int_attribute("/", "ckpt.ranks");
        if (meta_.ranks != comm.size()) raise(MismatchError::rank_count(path, comm.size(), meta_.ranks));
    }

    const FileMeta& meta() const noexcept { return meta_; }
    const std::string& path() const noexcept { return file_.path(); }
    void close() { file_.close(); }

    void read_direct(const std::string& path, Element element, const std::string& type_name,
                     const Prepare& prepare) override {
        expect_entry(path, "direct", type_name);
        const std::string stored = file_.read_string_attribute(path, "ckpt.element");
        if (stored != element_name(element))
            raise(mismatch(path, "element type differs", element_name(element), stored,
                           "protect the same element type the checkpoint was written with"));
        const Part part = layout_row(path);
        std::string expected;
        void* dest = prepare(part.extents, expected);  // null for an empty vector, which is no mismatch
        if (!expected.empty())
            raise(mismatch(path, "shape differs", expected, shape_text(stored, part.extents),
                           "restart with the same decomposition, or protect a resizable std::vector"));
        read_checked(path, element, dest, part);
    }

    std::vector<unsigned char> read_blob(const std::string& path, const std::string& codec,
                                         const std::string& type_name) override {
        expect_entry(path, codec, type_name);
        const Part part = layout_row(path);
        std::vector<unsigned char> bytes(static_cast<std::size_t>(part.count));
        read_checked(path, Element::UInt8, bytes.data(), part);
        return bytes;
    }

    void open_group(const std::string& path, const std::string& type_name) override {
        expect_entry(path, "custom", type_name);
    }

private:
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
                           "restore with a checkpoint written by this application, or protect fewer objects"));
        const std::string stored = file_.read_string_attribute(path, "ckpt.codec");
        if (stored != codec)
            raise(mismatch(path, "codec differs", codec + " (" + type_name + ")",
                           stored + " (" + file_.read_string_attribute(path, "ckpt.type") + ")"));
    }

    /// This rank's row of the leaf's layout table, checked against the leaf's dataset.
    Part layout_row(const std::string& path) {
        const auto row = file_.read_row(layout_path(path), static_cast<hsize_t>(rank_));
        if (row.size() < FirstExtent) raise(file_.bad_layout(layout_path(path), "has too few columns"));
        const Part part = Part::from_row(row.data(), row.size());
        const auto dims = file_.dims(path);
        const std::string problem = dims.size() == 1 ? part.problem(dims[0]) : "its dataset is not 1-D";
        if (!problem.empty())
            raise(file_.bad_layout(layout_path(path), "row for rank " + std::to_string(rank_) + " is inconsistent: " + problem));
        return part;
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
        if (sum != part.checksum) raise(FormatError::checksum(file_.path(), path, rank_));
    }

    /// Reads in chunks; a second thread hashes each chunk while the next one is read, so on a cold
    /// read the checksum costs (almost) nothing. The hashing thread makes no HDF5 or MPI call.
    std::uint64_t read_and_hash(hid_t dset, const std::string& path, hid_t type, unsigned char* dest,
                                std::uint64_t offset, std::uint64_t count, std::size_t size) {
        const std::uint64_t chunk = std::max<std::uint64_t>(1, (std::uint64_t{16} << 20) / size);
        if (count <= chunk) {
            file_.read_block(dset, path, type, dest, offset, count);
            return xxh64(dest, count * size);
        }
        Xxh64 hasher;
        std::mutex m;
        std::condition_variable cv;
        std::uint64_t ready = 0;  // elements read so far
        bool stop = false;
        std::thread hashing([&] {
            std::uint64_t done = 0;
            while (done < count) {
                std::unique_lock<std::mutex> lock(m);
                cv.wait(lock, [&] { return ready > done || stop; });
                if (ready == done) return;  // stopped: the read failed
                const std::uint64_t upto = ready;
                lock.unlock();
                hasher.update(dest + done * size, static_cast<std::size_t>((upto - done) * size));
                done = upto;
            }
        });
        try {
            for (std::uint64_t at = 0; at < count; at += chunk) {
                const std::uint64_t n = std::min(chunk, count - at);
                file_.read_block(dset, path, type, dest + at * size, offset + at, n);
                {
                    std::lock_guard<std::mutex> lock(m);
                    ready = at + n;
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
        return hasher.digest();
    }

    int rank_;
    h5::File file_;
    FileMeta meta_;
};

}  // namespace ckpt::detail
