/// bench_checkpoint: what ckpt's durability costs against the raw I/O it is built on.
///
///   mpiexec -n 2 bench_checkpoint [--mib S] [--reps R] [--warmup W] [--dir DIR] [--breakdown] [--samples]
///
/// Each rank owns S MiB of doubles. Per rep, in one run: memcpy and xxh64 of those bytes (the
/// memory-bandwidth limits ckpt cannot beat, since it hashes every byte), a raw POSIX
/// write()+fsync() of one file per rank, a raw collective H5Dwrite into one contiguous dataset
/// with ckpt's file settings and durability (flush, close, fsync), cp.checkpoint(), and then the
/// matching cold reads: read(), independent H5Dread, and restore_if_requested(). Every timing
/// is barrier to barrier, the slowest rank's. --breakdown also times each stage of ckpt's write
/// and restore separately, from instrumented copies of checkpoint() and restore_from() built on
/// the same detail:: functions.
///
/// Raw H5*/MPI_* calls are deliberate here: the baselines must not go through ckpt.

#include <ckpt.hpp>

#include "ckpt/detail/checksum.hpp"
#include "ckpt/detail/store.hpp"

#include "bench_support.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <mpi.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace bench;

struct Args : CommonArgs {
    bool breakdown = false;
};

Args parse_args(int argc, char** argv) {
    bool breakdown = false;
    Args a;
    static_cast<CommonArgs&>(a) = bench::parse_args(
        argc, argv,
        "bench_checkpoint [--mib S (256)] [--reps R (3)] [--dir DIR] [--warmup W (1)] [--breakdown] [--samples]\n"
        "  --warmup     untimed reps first (page-cache and allocator warm-up)\n"
        "  --breakdown  also time each stage of ckpt's write and restore\n"
        "  --samples    also print every rep's time, in run order",
        [&](const std::string& s, const std::function<std::string()>&) { return s == "--breakdown" && (breakdown = true); });
    a.breakdown = breakdown;
    return a;
}

// ---- POSIX helpers ----------------------------------------------------------------------------

void posix_write(const std::string& path, const std::string& dir, const void* data, std::size_t bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    sys_check(fd >= 0, "open " + path);
    const char* p = static_cast<const char*>(data);
    for (std::size_t left = bytes; left > 0;) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        sys_check(n > 0, "write " + path);
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    sys_check(::fsync(fd) == 0, "fsync " + path);
    sys_check(::close(fd) == 0, "close " + path);
    fsync_path(dir, true);
}

void posix_read(const std::string& path, void* data, std::size_t bytes) {
    int fd = ::open(path.c_str(), O_RDONLY);
    sys_check(fd >= 0, "open " + path);
    char* p = static_cast<char*>(data);
    for (std::size_t left = bytes; left > 0;) {
        ssize_t n = ::read(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        sys_check(n > 0, "read " + path);
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    ::close(fd);
}

// ---- raw parallel HDF5 (bench_support.hpp has ckpt's file settings) -------------------------

/// One collective H5Dwrite of every rank's part into one contiguous dataset; then the same
/// durability as ckpt: H5Fflush (MPI_File_sync), H5Fclose, fsync of the file and directory.
void raw_h5_write(const std::string& path, const std::string& dir, const double* data, hsize_t count,
                  hsize_t offset, hsize_t total) {
    hid_t fapl = raw_fapl(true);
    hid_t file = h5_check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "H5Fcreate");
    H5Pclose(fapl);
    hid_t fspace = h5_check(H5Screate_simple(1, &total, nullptr), "H5Screate_simple");
    hid_t dcpl = contiguous_dcpl();
    hid_t dset = h5_check(H5Dcreate2(file, "/u", H5T_NATIVE_DOUBLE, fspace, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                          "H5Dcreate2");
    H5Pclose(dcpl);
    h5_check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &offset, nullptr, &count, nullptr), "H5Sselect_hyperslab");
    hid_t mspace = h5_check(H5Screate_simple(1, &count, nullptr), "H5Screate_simple");
    hid_t dxpl = transfer(true);
    h5_check(H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, data), "H5Dwrite");
    H5Pclose(dxpl);
    H5Sclose(mspace);
    H5Sclose(fspace);
    H5Dclose(dset);
    durable_close(file, path, dir);
}

/// Independent H5Dread of this rank's part, as ckpt's restore does.
void raw_h5_read(const std::string& path, double* data, hsize_t count, hsize_t offset) {
    hid_t fapl = raw_fapl(false);
    hid_t file = h5_check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), "H5Fopen");
    H5Pclose(fapl);
    hid_t dset = h5_check(H5Dopen2(file, "/u", H5P_DEFAULT), "H5Dopen2");
    hid_t fspace = h5_check(H5Dget_space(dset), "H5Dget_space");
    h5_check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &offset, nullptr, &count, nullptr), "H5Sselect_hyperslab");
    hid_t mspace = h5_check(H5Screate_simple(1, &count, nullptr), "H5Screate_simple");
    hid_t dxpl = transfer(false);
    h5_check(H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, data), "H5Dread");
    H5Pclose(dxpl);
    H5Sclose(mspace);
    H5Sclose(fspace);
    H5Dclose(dset);
    h5_check(H5Fclose(file), "H5Fclose");
}

void verify(const std::vector<double>& got, const std::vector<double>& want, const char* what) {
    int bad = got.size() != want.size() || std::memcmp(got.data(), want.data(), want.size() * sizeof(double)) != 0;
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (bad) die(std::string(what) + " read back different data");
}

// ---- instrumented copies of ckpt's write and restore (--breakdown) ---------------------------

/// Checkpointer::checkpoint() + detail::write_file(), stage by stage, through the same detail::
/// calls, so each stage's cost can be read off. Writes a real version that rotation manages.
void breakdown_write(Table& t, const ckpt::Options& o, std::vector<double>& u) {
    using namespace ckpt::detail;
    static mpi::Comm comm(MPI_COMM_WORLD);
    std::vector<SaveNode> nodes;
    std::vector<std::uint64_t> sums, words;
    t["W1 nodes + xxh64 (ckpt: on a thread, behind W4-W8)"].t.push_back(timed([&] {
        ckpt::Writer w(nodes, "/state");
        w.write("u", u);
        const std::vector<std::uint64_t> unused(nodes.size(), 0);  // offsets: only block and concatenated leaves need them
        sums = checksums(nodes, unused, unused);
        words = {structure_digest(nodes)};
        const auto declared = declaration_words(nodes);
        words.insert(words.end(), declared.begin(), declared.end());
    }));
    t["W2 declarations agreed (agree_and_gather)"].t.push_back(timed([&] {
        mpi::Outcome local;
        (void)mpi::agree_and_gather(comm, local, words);
    }));
    std::uint64_t seq = 0;
    t["W3 rank 0 lists versions (root_decides)"].t.push_back(timed([&] {
        mpi::Outcome local;
        std::string decided;
        if (comm.rank() == 0) {
            make_directories(o.dir);
            auto all = list_versions(o.dir, o.name);
            seq = (all.empty() ? 0 : all.back().sequence) + 1;
            decided.assign(reinterpret_cast<const char*>(&seq), sizeof seq);
            decided += current_directory();
        }
        mpi::root_decides(comm, local, decided);
        std::memcpy(&seq, decided.data(), sizeof seq);
    }));
    const std::string final_path = join_path(o.dir, version_file_name(o.name, seq));
    const std::string tmp = final_path + ".tmp";
    FileMeta meta;
    meta.sequence = seq;
    meta.ranks = comm.size();
    meta.cwd = current_directory();

    // write_file(), split.
    std::vector<std::uint64_t> counts, offsets, totals;
    std::unique_ptr<h5::File> file;
    SpaceReserve reserve;
    t["W4 reserve + H5Fcreate + 9 root attrs + 2 groups"].t.push_back(timed([&] {
        if (comm.rank() == 0) reserve.hold(tmp + ".reserve", metadata_room(nodes, SpaceReserve::block_size(tmp)));
        file = std::make_unique<h5::File>(tmp, comm.get(), h5::Access::Create);
        file->write_attribute("/", "ckpt.format_version", std::int64_t{CKPT_FORMAT_VERSION});
        file->write_attribute("/", "ckpt.library_version", std::string(CKPT_VERSION_STRING));
        file->write_attribute("/", "ckpt.sequence", static_cast<std::int64_t>(meta.sequence));
        file->write_attribute("/", "ckpt.step", meta.step);
        file->write_attribute("/", "ckpt.time", static_cast<std::int64_t>(meta.time));
        file->write_attribute("/", "ckpt.ranks", meta.ranks);
        file->write_attribute("/", "ckpt.argv", meta.argv);
        file->write_attribute("/", "ckpt.cwd", meta.cwd);
        file->write_attribute("/", "ckpt.schema_version", meta.schema_version);
        file->create_group("/state");
        file->create_group("/layout");
    }));
    std::vector<NodeObjects> made(nodes.size());
    t["W5 exscan/allreduce counts + H5Dcreate x2 + attrs"].t.push_back(timed([&] {
        for (const auto& node : nodes) counts.push_back(node.is_group() ? 0 : node.count);
        offsets = comm.exscan_sum(counts);
        totals = counts;
        comm.allreduce(totals.data(), static_cast<int>(totals.size()), MPI_SUM);
        for (std::size_t i = 0; i < nodes.size(); ++i) made[i] = create_node(*file, comm, nodes[i], totals[i], false);
    }));
    t["W6 release reserve, agree, H5Fflush (metadata)"].t.push_back(timed([&] {
        mpi::Outcome local;
        reserve.release();
        mpi::agree(comm, local);
        file->flush();
    }));
    t["W7 independent H5Dwrite (the data)"].t.push_back(timed([&] {
        mpi::Outcome local;
        write_data(*file, comm, nodes, made, counts, offsets, totals, std::vector<bool>(nodes.size(), false), local);
        mpi::agree(comm, local);
    }));
    t["W8 H5Fflush (MPI_File_sync = fsync of data)"].t.push_back(timed([&] { file->flush(); }));
    t["W9 gather layout rows, rank 0 writes tables"].t.push_back(timed([&] {
        const std::vector<std::uint64_t> rows = layout_rows(nodes, offsets, sums);
        const std::vector<std::uint64_t> gathered = comm.gather(rows);
        if (comm.rank() == 0)
            write_layouts(*file, nodes, made, gathered, rows.size(), static_cast<std::size_t>(comm.size()));
    }));
    t["W10 H5Fclose"].t.push_back(timed([&] {
        made.clear();
        file->close();
        file.reset();
    }));
    t["W11 rank 0 fsync(tmp) again (commit)"].t.push_back(timed([&] {
        if (comm.rank() == 0) bench::fsync_path(tmp, false);
    }));
    t["W12 rank 0 rename + fsync(dir)"].t.push_back(timed([&] {
        if (comm.rank() == 0) {
            sys_check(::rename(tmp.c_str(), final_path.c_str()) == 0, "rename " + tmp);
            bench::fsync_path(o.dir, true);
        }
    }));
    t["W13 rank 0 rotate (unlink previous version)"].t.push_back(timed([&] {
        if (comm.rank() == 0) rotate(o.dir, o.name, o.depth, seq, {});
    }));
}

/// Checkpointer::restore_from() + FileSource::read_direct(), stage by stage (cold file).
void breakdown_restore(Table& t, const ckpt::Options& o, std::vector<double>& back) {
    using namespace ckpt::detail;
    static mpi::Comm comm(MPI_COMM_WORLD);
    std::string path;
    t["R1 rank 0 lists versions (root_decides)"].t.push_back(timed([&] {
        mpi::Outcome local;
        if (comm.rank() == 0) path = committed_versions(o.dir, o.name).back().path;
        mpi::root_decides(comm, local, path);
    }));
    std::unique_ptr<h5::File> file;
    t["R2 H5Fopen + 5 root attribute reads"].t.push_back(timed([&] {
        file = std::make_unique<h5::File>(path, comm.get(), h5::Access::Read);
        if (!file->has_attribute("/", "ckpt.format_version")) die("not a ckpt file");
        for (const char* a : {"ckpt.format_version", "ckpt.sequence", "ckpt.step", "ckpt.time", "ckpt.ranks"})
            (void)file->read_int_attribute("/", a);
    }));
    const std::string p = "/state/u";
    std::vector<std::uint64_t> row;
    t["R3 entry checks: exists, attrs, layout row"].t.push_back(timed([&] {
        if (!file->exists(p)) die("no /state/u");
        (void)file->read_string_attribute(p, "ckpt.codec");
        (void)file->read_string_attribute(p, "ckpt.element");
        row = file->read_row(layout_path(p), static_cast<hsize_t>(comm.rank()));
        (void)file->dims(p);
    }));
    t["R4 independent H5Dread (the data)"].t.push_back(timed([&] {
        h5::Handle dset = file->open_dataset(p);
        h5::Handle type = h5::datatype(Element::Float64, path);
        file->read_block(dset, p, type, back.data(), row[Offset], row[Count]);
    }));
    t["R5 xxh64 verify of every byte"].t.push_back(timed([&] {
        if (xxh64(back.data(), row[Count] * sizeof(double)) != row[Checksum]) die("checksum mismatch");
    }));
    t["R6 H5Fclose"].t.push_back(timed([&] {
        file->close();
        file.reset();
    }));
    t["R7 the restore's one agreement (agree_and_sum)"].t.push_back(timed([&] {
        mpi::Outcome local;
        std::vector<std::uint64_t> none;  // a per-rank entry has no position sums to add up
        mpi::agree_and_sum(comm, local, none);
    }));
}

/// Chunk size of the fused prototypes: small enough to stay in L2/L3 between the two passes.
constexpr std::size_t kFuseChunk = std::size_t{4} << 20;

/// Proposed write path, against W1 + W7: hash each chunk just before its independent H5Dwrite,
/// so the write's copy reads it from cache, instead of one xxh64 pass over everything first (W1)
/// and then one write (W7). Independent, because a collective call per chunk costs a
/// synchronisation per chunk and ranks may have different numbers of chunks.
void fused_write(Table& t, const char* label, const std::string& path, const std::vector<double>& u,
                 std::size_t chunk) {
    using namespace ckpt::detail;
    static mpi::Comm comm(MPI_COMM_WORLD);
    const hsize_t n = u.size(), per = chunk / sizeof(double);
    auto file = std::make_unique<h5::File>(path, comm.get(), h5::Access::Create);
    h5::Handle type = h5::datatype(Element::Float64, path);
    h5::Handle dset = file->create_dataset("/u", type, {n * static_cast<hsize_t>(comm.size())});
    const hsize_t base = n * static_cast<hsize_t>(comm.rank());
    std::uint64_t sum = 0;
    t[label].t.push_back(timed([&] {
        Xxh64 h;
        for (hsize_t k = 0; k < n; k += per) {
            const hsize_t c = std::min(per, n - k);
            h.update(u.data() + k, c * sizeof(double));
            file->write_block(dset, "/u", type, u.data() + k, base + k, c, false);
        }
        sum = h.digest();
    }));
    if (sum != xxh64(u.data(), n * sizeof(double))) die("fused write: streaming digest differs");
    dset = {};
    file->flush();
    file->close();
    file.reset();
    MPI_Barrier(MPI_COMM_WORLD);
    if (comm.rank() == 0) ::unlink(path.c_str());
}

/// Proposed restore path: independent H5Dread chunk by chunk, each hashed while still in cache,
/// instead of reading everything (R4) and then hashing everything from memory (R5). Cold file.
void fused_restore(Table& t, const ckpt::Options& o, std::vector<double>& back) {
    using namespace ckpt::detail;
    static mpi::Comm comm(MPI_COMM_WORLD);
    std::string path;
    if (comm.rank() == 0) path = committed_versions(o.dir, o.name).back().path;
    comm.bcast(path);
    h5::File file(path, comm.get(), h5::Access::Read);
    const std::string p = "/state/u";
    auto row = file.read_row(layout_path(p), static_cast<hsize_t>(comm.rank()));
    t["F2 proposed: R4+R5 fused, 4 MiB chunks"].t.push_back(timed([&] {
        h5::Handle dset = file.open_dataset(p);
        h5::Handle type = h5::datatype(Element::Float64, path);
        const hsize_t n = row[Count], per = kFuseChunk / sizeof(double);
        Xxh64 h;
        for (hsize_t k = 0; k < n; k += per) {
            const hsize_t c = std::min(per, n - k);
            file.read_block(dset, p, type, back.data() + k, row[Offset] + k, c);
            h.update(back.data() + k, c * sizeof(double));
        }
        if (h.digest() != row[Checksum]) die("fused restore: checksum mismatch");
    }));
    file.close();
}

int run(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
    int provided = 0;  // FUNNELED: ckpt's restore hashes in a helper thread that never calls MPI
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        die(std::string("uncaught exception: ") + e.what());
    }
}

namespace {

int run(int argc, char** argv) {
    bench::start("bench_checkpoint");
    Args args = parse_args(argc, argv);

    // Directory: given, or a fresh mkdtemp (made by rank 0, removed at the end).
    bool own_dir = false;
    args.dir = run_directory(args.dir, temp_base(), "ckpt-bench", own_dir);
    if (!own_dir && g_rank == 0) {
        std::error_code ec;
        std::filesystem::create_directories(args.dir, ec);
        if (ec) die("cannot create " + args.dir + ": " + ec.message());
    }
    MPI_Barrier(MPI_COMM_WORLD);

    const std::size_t n = args.mib * (std::size_t{1} << 20) / sizeof(double);
    const std::size_t bytes = n * sizeof(double);
    const double total_bytes = static_cast<double>(bytes) * g_size;

    // Deterministic, non-constant, different on every rank.
    std::vector<double> u(n), back(n, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        u[i] = (g_rank + 1) * 0.5 + static_cast<double>(i) * 1e-6 + static_cast<double>((i * 2654435761u) & 1023) * 1e-3;

    const std::string posix_file = args.dir + "/posix." + std::to_string(g_rank) + ".bin";
    const std::string h5_file = args.dir + "/raw.h5";
    const hsize_t count = n, offset = static_cast<hsize_t>(n) * static_cast<hsize_t>(g_rank),
                  total = static_cast<hsize_t>(n) * static_cast<hsize_t>(g_size);

    ckpt::Options o;
    o.dir = args.dir + "/ckpt";
    o.name = "bench";
    o.depth = 1;
    ckpt::Options o_restore = o;
    o_restore.restart.kind = ckpt::RestartKind::Latest;
    // The Options-only constructor: exactly these options, no CKPT_* environment, no command line.
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    cp.protect("u", u);

    const double touch = max_over_ranks(-fresh_page_gbps()) * -1;  // slowest rank
    if (g_rank == 0) {
        std::printf("bench_checkpoint: %d rank(s) x %zu MiB = %.3f GB per checkpoint, %d rep(s) + %d warm-up, dir %s\n",
                    g_size, args.mib, total_bytes / 1e9, args.reps, args.warmup, args.dir.c_str());
        std::printf("first touch of fresh memory: %.2f GB/s per rank%s\n", touch,
                    touch < 2 ? " -- SLOW (VM page faults): page-cache allocation inside writes and reads is "
                                "noisy here; compare medians over more reps (--reps 9)"
                              : "");
    }

    Table t(total_bytes);
    const char* kMemcpy = "memcpy (memory-bandwidth limit)";
    const char* kXxh = "xxh64 of every byte (ckpt hashes all)";
    const char* kPw = "write: raw POSIX write()+fsync, file/rank";
    const char* kHw = "write: raw HDF5 coll. H5Dwrite+flush+fsync";
    const char* kCw = "write: ckpt cp.checkpoint()";
    const char* kPr = "read:  raw POSIX read(), cold";
    const char* kHr = "read:  raw HDF5 indep. H5Dread, cold";
    const char* kCr = "read:  ckpt restore_if_requested(), cold";
    double resident[3] = {0, 0, 0};  // worst residency seen before the posix, h5, ckpt reads
    std::uint64_t sink = 0;

    for (int rep = 0; rep < args.warmup + args.reps; ++rep) {
        // Cleanup of the previous rep's raw files, outside every measurement. ckpt's last version
        // stays (depth), but its pages, read back by the restore, are dropped like the raw files'
        // are: otherwise only ckpt's next write must take fresh pages, which on a VM that hands
        // free memory back to the host costs first-touch speed (see Noise in README.md).
        ::unlink(posix_file.c_str());
        if (g_rank == 0) ::unlink(h5_file.c_str());
        if (!cp.last_path().empty()) evict(cp.last_path());
        MPI_Barrier(MPI_COMM_WORLD);
        if (g_rank == 0) quiesce(args.dir);

        t[kMemcpy].t.push_back(timed([&] { std::memcpy(back.data(), u.data(), bytes); }));
        t[kXxh].t.push_back(timed([&] { sink ^= ckpt::detail::xxh64(u.data(), bytes); }));

        // Writes, in an order that rotates across reps so none always goes first.
        std::function<void()> writes[3] = {
            [&] { t[kPw].t.push_back(timed([&] { posix_write(posix_file, args.dir, u.data(), bytes); })); },
            [&] { t[kHw].t.push_back(timed([&] { raw_h5_write(h5_file, args.dir, u.data(), count, offset, total); })); },
            [&] { t[kCw].t.push_back(timed([&] { cp.checkpoint(); })); },
        };
        for (int k = 0; k < 3; ++k) {
            writes[(rep + k) % 3]();
            // Rotation unlinks on a background thread (its cost is W13 in --breakdown); wait for it
            // and commit it here, so it is billed to no measured write.
            cp.sync();
            MPI_Barrier(MPI_COMM_WORLD);
            if (g_rank == 0) quiesce(args.dir);
        }

        // Cold reads: every file is fsynced, so its pages are clean and DONTNEED drops them.
        std::string ckpt_file = cp.last_path();
        // Every rank evicts the shared files too, so ranks on other nodes read cold as well.
        evict(posix_file);
        evict(h5_file);
        evict(ckpt_file);
        MPI_Barrier(MPI_COMM_WORLD);
        std::function<void()> reads[3] = {
            [&] {
                std::fill(back.begin(), back.end(), 0.0);
                resident[0] = std::max(resident[0], max_over_ranks(resident_fraction(posix_file)));
                t[kPr].t.push_back(timed([&] { posix_read(posix_file, back.data(), bytes); }));
                verify(back, u, "raw POSIX read()");
            },
            [&] {
                std::fill(back.begin(), back.end(), 0.0);
                resident[1] = std::max(resident[1], max_over_ranks(resident_fraction(h5_file)));
                t[kHr].t.push_back(timed([&] { raw_h5_read(h5_file, back.data(), count, offset); }));
                verify(back, u, "raw H5Dread");
            },
            [&] {
                std::fill(back.begin(), back.end(), 0.0);
                resident[2] = std::max(resident[2], max_over_ranks(resident_fraction(ckpt_file)));
                t[kCr].t.push_back(timed([&] {
                    ckpt::Checkpointer cp2(o_restore, MPI_COMM_WORLD);
                    cp2.protect("u", back);
                    if (!cp2.restore_if_requested()) die("restore_if_requested() restored nothing");
                }));
                verify(back, u, "ckpt restore");
            },
        };
        for (int k = 0; k < 3; ++k) reads[(rep + k) % 3]();
    }

    t.drop_first(args.warmup);
    t.print("Results (aggregate over ranks; each time is the slowest rank's, barrier to barrier)", true,
            args.samples);

    auto ratio = [&](const char* raw, const char* ours, bool best) {
        return best ? t.at(raw).best() / t.at(ours).best() : t.at(raw).median() / t.at(ours).median();
    };
    if (g_rank == 0) {
        std::printf("\nThroughput ratios (ckpt / raw; 1.00 = as fast as raw, < 1 = slower)   best   median\n");
        std::printf("  ckpt write   / raw HDF5 write                                   %5.2f   %5.2f\n",
                    ratio(kHw, kCw, true), ratio(kHw, kCw, false));
        std::printf("  ckpt write   / raw POSIX write                                  %5.2f   %5.2f\n",
                    ratio(kPw, kCw, true), ratio(kPw, kCw, false));
        std::printf("  ckpt restore / raw H5Dread                                      %5.2f   %5.2f\n",
                    ratio(kHr, kCr, true), ratio(kHr, kCr, false));
        std::printf("  ckpt restore / raw read()                                       %5.2f   %5.2f\n",
                    ratio(kPr, kCr, true), ratio(kPr, kCr, false));
        std::printf("\nPage-cache eviction (posix_fadvise DONTNEED after fsync); worst residency before a read:\n");
        const char* names[3] = {"per-rank POSIX files", "raw HDF5 file", "ckpt file"};
        bool warm = false;
        for (int k = 0; k < 3; ++k) {
            std::printf("  %-22s %5.1f%% resident\n", names[k], 100 * resident[k]);
            warm = warm || resident[k] > 0.05;
        }
        std::printf(warm ? "  WARNING: eviction did not work; reads were (partly) served from the page cache, not cold\n"
                         : "  eviction worked: reads are cold\n");
    }

    if (args.breakdown) {
        Table b(total_bytes);
        const std::string scratch = args.dir + "/fused.h5";
        for (int rep = 0; rep < args.warmup + args.reps; ++rep) {
            MPI_Barrier(MPI_COMM_WORLD);
            if (g_rank == 0) quiesce(args.dir);
            breakdown_write(b, o, u);
            MPI_Barrier(MPI_COMM_WORLD);
            if (g_rank == 0) quiesce(args.dir);
            fused_write(b, "F1 proposed: W1+W7 fused, indep., 4 MiB chunks", scratch, u, kFuseChunk);
            MPI_Barrier(MPI_COMM_WORLD);
            if (g_rank == 0) quiesce(args.dir);
            evict(ckpt::detail::committed_versions(o.dir, o.name).back().path);
            std::fill(back.begin(), back.end(), 0.0);
            breakdown_restore(b, o, back);
            verify(back, u, "breakdown restore");
            MPI_Barrier(MPI_COMM_WORLD);
            evict(ckpt::detail::committed_versions(o.dir, o.name).back().path);
            std::fill(back.begin(), back.end(), 0.0);
            fused_restore(b, o, back);
            verify(back, u, "fused restore");
        }
        b.drop_first(args.warmup);
        b.print("ckpt stage breakdown (instrumented copies of checkpoint() and restore_from(); slowest rank, "
                "barrier to barrier)",
                false, args.samples);
    }

    if (g_rank == 0)
        std::printf("\nRESULT ranks=%d mib=%zu ckpt_write_vs_h5=%.2f ckpt_write_vs_posix=%.2f restore_vs_h5read=%.2f "
                    "restore_vs_read=%.2f\n",
                    g_size, args.mib, ratio(kHw, kCw, true), ratio(kPw, kCw, true), ratio(kHr, kCr, true),
                    ratio(kPr, kCr, true));

    // Cleanup: every file this run made; the directory too if the run made it.
    MPI_Barrier(MPI_COMM_WORLD);
    ::unlink(posix_file.c_str());
    MPI_Barrier(MPI_COMM_WORLD);  // before remove_all, which fails if an entry vanishes under it
    if (g_rank == 0) {
        std::error_code ec;
        if (own_dir) {
            std::filesystem::remove_all(args.dir, ec);
            if (ec) std::fprintf(stderr, "bench_checkpoint: could not remove %s: %s\n", args.dir.c_str(),
                                 ec.message().c_str());
        } else {
            ::unlink(h5_file.c_str());
            for (const auto& v : ckpt::detail::list_versions(o.dir, o.name)) ::unlink(v.path.c_str());
            std::filesystem::remove(o.dir, ec);  // only if now empty
        }
        if (sink == 42) std::printf(" ");  // keep the xxh64 result observable
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    return 0;
}

}  // namespace
