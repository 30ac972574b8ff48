/// bench_multilevel: what the node caches cost and give back (docs/multilevel.md).
///
///   mpiexec -n 2 bench_multilevel [--mib S] [--reps R] [--warmup W] [--dir DIR] [--cache DIR] [--samples]
///
/// Each rank owns S MiB of doubles. The ranks form min(2, ranks) simulated nodes, so that every
/// rank's part is copied to a partner through MPI, as on a cluster. Per rep, in one run:
///   - a synchronous checkpoint() to the shared directory (--dir, default under $TMPDIR): the
///     one-level checkpoint, durable;
///   - a checkpoint() to the node caches (--cache, default under /dev/shm) with the partner copy,
///     flush=0 (nothing to the shared directory);
///   - raw write()s of the state's bytes to new files in the rank's node cache directory, one
///     per copy (two with a partner): the floor of a cache checkpoint;
///   - a raw read of each rank's cache file with pread() into memory touched before: the floor
///     of a restore from the cache (same files, same bytes), and the same read followed by an
///     xxh64 of the bytes: the floor of a restore that verifies what it read;
///   - a restore of that version from the node caches (restore(): the caches' inventory, each
///     rank's HDF5 read of its file, every checksum verified).
/// Every timing is barrier to barrier, the slowest rank's. Both checkpointers keep every
/// version (depth=0); a rep's versions are deleted after it, outside the timings.

#include <ckpt.hpp>
#include <ckpt/detail/checksum.hpp>

#include "bench_support.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace bench;

/// Reads the whole file at `path` into `into` with pread (resized to fit); returns the bytes.
std::size_t raw_read(const std::string& path, std::vector<char>& into) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    sys_check(fd >= 0, "open " + path);
    struct stat st {};
    sys_check(::fstat(fd, &st) == 0, "fstat " + path);
    const auto size = static_cast<std::size_t>(st.st_size);
    if (into.size() < size) into.resize(size);
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, into.data() + done, std::min<std::size_t>(size - done, 1u << 30), static_cast<off_t>(done));
        sys_check(n > 0, "pread " + path);
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return size;
}

/// write() of `bytes` at `data` to the new file `path` (no fsync: a cache in memory has none to do).
void raw_write(const std::string& path, const void* data, std::size_t bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    sys_check(fd >= 0, "open " + path);
    const char* p = static_cast<const char*>(data);
    for (std::size_t left = bytes; left > 0;) {
        const ssize_t n = ::write(fd, p, std::min<std::size_t>(left, 1u << 30));
        sys_check(n > 0, "write " + path);
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    sys_check(::close(fd) == 0, "close " + path);
}

void run(const CommonArgs& args, const std::string& root, const std::string& cache) {
    const std::size_t count = args.mib * (std::size_t{1} << 20) / sizeof(double);
    const double bytes = static_cast<double>(count * sizeof(double)) * g_size;
    std::vector<double> u(count);
    auto fill = [&](int rep) {
        for (std::size_t i = 0; i < count; ++i) u[i] = static_cast<double>(i % 1000) + g_rank + rep;
    };
    fill(0);

    ckpt::Options shared_options, cached_options;
    shared_options.dir = root + "/shared";
    cached_options.dir = root + "/cached-shared";
    cached_options.cache = cache;
    cached_options.flush = 0;
    cached_options.simulated_nodes = static_cast<unsigned>(std::min(2, g_size));
    for (ckpt::Options* o : {&shared_options, &cached_options}) {
        o->mode.shutdown = false;  // no handlers: a benchmark
        o->depth = 0;              // no rotation inside a timing
    }
    ckpt::Checkpointer shared_cp(shared_options, MPI_COMM_WORLD), cached_cp(cached_options, MPI_COMM_WORLD);
    shared_cp.protect("u", u);
    cached_cp.protect("u", u);
    std::vector<char> raw(count * sizeof(double) + (1u << 20), 0);  // touched before: no page faults timed

    Table t(bytes);
    bool restored_right = true;
    for (int rep = 0; rep < args.warmup + args.reps; ++rep) {
        fill(rep);
        t["checkpoint() to the shared directory (durable)"].t.push_back(timed([&] { shared_cp.checkpoint(); }));
        const std::string node = cache + "/node" + std::to_string(g_rank * std::min(2, g_size) / g_size);
        if (g_rank == 0) std::filesystem::create_directories(cache + "/node0");
        if (g_size > 1 && g_rank == g_size - 1) std::filesystem::create_directories(cache + "/node1");
        MPI_Barrier(MPI_COMM_WORLD);
        const std::string raw_a = node + "/raw." + std::to_string(g_rank), raw_b = raw_a + ".copy";
        t["raw write() of the state per copy (the floor)"].t.push_back(timed([&] {
            raw_write(raw_a, u.data(), count * sizeof(double));
            if (g_size > 1) raw_write(raw_b, u.data(), count * sizeof(double));  // the partner's copy
        }));
        std::filesystem::remove(raw_a);
        std::filesystem::remove(raw_b);
        std::string part;
        t["checkpoint() to the node caches + partner copy"].t.push_back(timed([&] { part = cached_cp.checkpoint(); }));
        std::size_t file_bytes = 0;
        t["raw pread() of each rank's cache file (the floor)"].t.push_back(timed([&] { file_bytes = raw_read(part, raw); }));
        std::uint64_t sum = 0;
        t["raw pread() + xxh64 (the floor of a verified read)"].t.push_back(timed([&] {
            file_bytes = raw_read(part, raw);
            sum = ckpt::detail::xxh64(raw.data(), file_bytes);
        }));
        restored_right = restored_right && sum != 0;
        std::fill(u.begin(), u.end(), -1.0);
        ckpt::RestartSpec spec;
        spec.kind = ckpt::RestartKind::Sequence;
        spec.sequence = cached_cp.sequence();
        t["restore() from the node caches (verified)"].t.push_back(timed([&] { cached_cp.restore(spec); }));
        restored_right = restored_right && u[count / 2] == static_cast<double>((count / 2) % 1000) + g_rank + rep;
        MPI_Barrier(MPI_COMM_WORLD);
        if (g_rank == 0) {
            for (const std::string& d : {shared_options.dir, cached_options.dir})
                for (const auto& f : std::filesystem::directory_iterator(d))
                    if (f.path().extension() == ".h5") std::filesystem::remove(f.path());
            quiesce(shared_options.dir);
            for (const auto& node : std::filesystem::directory_iterator(cache))
                if (node.is_directory())
                    for (const auto& f : std::filesystem::directory_iterator(node.path()))
                        if (f.path().extension() == ".h5") std::filesystem::remove(f.path());
        }
        MPI_Barrier(MPI_COMM_WORLD);
    }
    if (!restored_right) die("a restore did not give back the state written");
    t.drop_first(args.warmup);
    if (g_rank == 0)
        std::printf("bench_multilevel: %d rank(s) on %d simulated node(s), %zu MiB per rank, %d reps (+%d warm-up)\n"
                    "shared %s, cache %s\n",
                    g_size, std::min(2, g_size), args.mib, args.reps, args.warmup, root.c_str(), cache.c_str());
    t.print("times (GB/s: the state's bytes over each time)", true, args.samples);
    if (g_rank == 0) {
        std::printf("\n  %-58s %5s   %5s   target\n", "ratio", "best", "median");
        t.print_ratio("restore from the caches / raw read (raw s / restore s)",
                      "raw pread() of each rank's cache file (the floor)", "restore() from the node caches (verified)", 0.9);
        t.print_ratio("restore from the caches / raw read + xxh64",
                      "raw pread() + xxh64 (the floor of a verified read)", "restore() from the node caches (verified)", 0.9);
        t.print_ratio("cache checkpoint / raw write per copy",
                      "raw write() of the state per copy (the floor)", "checkpoint() to the node caches + partner copy", 0.9);
        const double b = t.ratio("checkpoint() to the shared directory (durable)",
                                 "checkpoint() to the node caches + partner copy", true);
        const double m = t.ratio("checkpoint() to the shared directory (durable)",
                                 "checkpoint() to the node caches + partner copy", false);
        std::printf("  %-58s %5.2f   %5.2f   (speed-up)\n", "cache checkpoint vs shared (shared s / cache s)", b, m);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    start("bench_multilevel");
    std::string cache_arg;
    const CommonArgs args = parse_args(
        argc, argv,
        "bench_multilevel [--mib S (256)] [--reps R (3)] [--warmup W (1)] [--dir DIR] [--cache DIR (under /dev/shm)] "
        "[--samples]",
        [&](const std::string& s, const std::function<std::string()>& value) {
            if (s != "--cache") return false;
            cache_arg = value();
            return true;
        });
    bool made_root = false, made_cache = false;
    const std::string root = run_directory(args.dir, temp_base(), "ckpt-bench-multilevel", made_root);
    const std::string cache = run_directory(cache_arg, "/dev/shm", "ckpt-bench-cache", made_cache);
    run(args, root, cache);
    MPI_Barrier(MPI_COMM_WORLD);
    if (g_rank == 0) {
        if (made_root) std::filesystem::remove_all(root);
        if (made_cache) std::filesystem::remove_all(cache);
    }
    MPI_Finalize();
    return 0;
}
