#pragma once
/// What every benchmark here shares: failing loudly, timing barrier to barrier, making files
/// durable and cold (fsync, page-cache eviction and its check), raw parallel HDF5 with ckpt's
/// file settings, and the table of best and median times with ratios to the raw methods.
///
/// Raw H5*/MPI_* calls are deliberate: the baselines must not go through ckpt.

#include <fcntl.h>
#include <hdf5.h>
#include <mpi.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace bench {

inline int g_rank = 0;
inline int g_size = 1;
inline const char* g_program = "bench";  ///< the name failures are reported under

/// Sets g_rank, g_size and the program's name; call right after MPI_Init_thread.
inline void start(const char* program) {
    g_program = program;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
}

[[noreturn]] inline void die(const std::string& what) {
    std::fprintf(stderr, "%s: rank %d: %s\n", g_program, g_rank, what.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::abort();
}
inline void sys_check(bool ok, const std::string& what) {
    if (!ok) die(what + ": " + std::strerror(errno));
}
template <class T>
T h5_check(T rc, const char* what) {
    if (rc < 0) die(std::string("HDF5 call failed: ") + what);
    return rc;
}

/// Barrier, run, barrier; the slowest rank's seconds (equal on every rank).
/// MPI_Pcontrol(1) / (0) mark the region for a profiling library (a no-op without one).
inline double timed(const std::function<void()>& f) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    MPI_Pcontrol(1);
    f();
    MPI_Pcontrol(0);
    MPI_Barrier(MPI_COMM_WORLD);
    double t = MPI_Wtime() - t0;
    MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return t;
}

inline double max_over_ranks(double v) {
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return v;
}

// ---- durable and cold files -------------------------------------------------------------------

inline void fsync_path(const std::string& path, bool directory) {
    int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
    sys_check(fd >= 0, "open " + path);
    sys_check(::fsync(fd) == 0, "fsync " + path);
    ::close(fd);
}

/// Commits pending metadata (unlinks, and the discards this ext4 mount issues for them) so that
/// cleanup done outside a measurement is not billed to the next fsync inside one.
inline void quiesce(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    sys_check(fd >= 0, "open " + dir);
    sys_check(::syncfs(fd) == 0, "syncfs " + dir);
    ::close(fd);
}

/// Drops a file's (clean, already fsynced) pages from the page cache.
inline void evict(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    sys_check(fd >= 0, "open " + path);
    sys_check(::fdatasync(fd) == 0, "fdatasync " + path);
    int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (rc != 0) {
        errno = rc;
        sys_check(false, "posix_fadvise " + path);
    }
    ::close(fd);
}

/// Fraction of a file's pages in the page cache, by mincore() on a mapping (which faults nothing in).
inline double resident_fraction(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    sys_check(fd >= 0, "open " + path);
    struct stat st {};
    sys_check(::fstat(fd, &st) == 0, "fstat " + path);
    if (st.st_size == 0) {
        ::close(fd);
        return 0;
    }
    const std::size_t len = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
    sys_check(map != MAP_FAILED, "mmap " + path);
    const long page = ::sysconf(_SC_PAGESIZE);
    const std::size_t pages = (len + static_cast<std::size_t>(page) - 1) / static_cast<std::size_t>(page);
    std::vector<unsigned char> vec(pages);
    sys_check(::mincore(map, len, vec.data()) == 0, "mincore " + path);
    ::munmap(map, len);
    ::close(fd);
    std::size_t in = 0;
    for (unsigned char c : vec) in += c & 1;
    return static_cast<double>(in) / static_cast<double>(pages);
}

/// GB/s of a first touch of never-used anonymous memory: on some VMs (free-page reporting,
/// ballooning) each new page costs a host fault, and that lands inside write() and read() too.
inline double fresh_page_gbps() {
    const std::size_t len = std::size_t{64} << 20;
    void* m = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sys_check(m != MAP_FAILED, "mmap");
    const double t0 = MPI_Wtime();
    std::memset(m, 1, len);
    const double t = MPI_Wtime() - t0;
    ::munmap(m, len);
    return static_cast<double>(len) / t / 1e9;
}

// ---- raw parallel HDF5, with ckpt's file settings (include/ckpt/detail/h5/file.hpp) -----------

inline hid_t raw_fapl(bool create) {
    hid_t fapl = h5_check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate");
    MPI_Info info = MPI_INFO_NULL;
    MPI_Info_create(&info);
    MPI_Info_set(info, "romio_ds_write", "disable");  // as ckpt: no sieved (locked) writes
    h5_check(H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, info), "H5Pset_fapl_mpio");
    MPI_Info_free(&info);
    h5_check(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST), "H5Pset_libver_bounds");
    if (create) h5_check(H5Pset_coll_metadata_write(fapl, true), "H5Pset_coll_metadata_write");
    return fapl;
}

/// Contiguous, allocated at creation, never filled: ckpt's dataset layout.
inline hid_t contiguous_dcpl() {
    hid_t dcpl = h5_check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate");
    h5_check(H5Pset_layout(dcpl, H5D_CONTIGUOUS), "H5Pset_layout");
    h5_check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time");
    h5_check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "H5Pset_fill_time");
    return dcpl;
}

inline hid_t transfer(bool collective) {
    hid_t dxpl = h5_check(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate");
    h5_check(H5Pset_dxpl_mpio(dxpl, collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT), "H5Pset_dxpl_mpio");
    return dxpl;
}

/// Flush (MPI_File_sync), close, and rank 0's fsync of the file and its directory: ckpt's durability.
inline void durable_close(hid_t file, const std::string& path, const std::string& dir) {
    h5_check(H5Fflush(file, H5F_SCOPE_GLOBAL), "H5Fflush");
    h5_check(H5Fclose(file), "H5Fclose");
    if (g_rank == 0) {
        fsync_path(path, false);
        fsync_path(dir, true);
    }
}

/// write() of `bytes` to a new file, then fsync: the floor of a durable write.
inline void raw_write_durable(const std::string& path, const std::vector<char>& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    sys_check(fd >= 0, "open " + path);
    for (std::size_t done = 0; done < bytes.size();) {
        const ssize_t w = ::write(fd, bytes.data() + done, std::min<std::size_t>(bytes.size() - done, 1u << 30));
        sys_check(w > 0, "write " + path);
        done += static_cast<std::size_t>(w);
    }
    sys_check(::fsync(fd) == 0, "fsync " + path);
    sys_check(::close(fd) == 0, "close " + path);
}

/// pread() of `into.size()` bytes of `path`.
inline void raw_read(const std::string& path, std::vector<char>& into) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    sys_check(fd >= 0, "open " + path);
    for (std::size_t done = 0; done < into.size();) {
        const ssize_t r = ::pread(fd, into.data() + done, std::min<std::size_t>(into.size() - done, 1u << 30), static_cast<off_t>(done));
        sys_check(r > 0, "pread " + path);
        done += static_cast<std::size_t>(r);
    }
    ::close(fd);
}

inline std::uint64_t file_size(const std::string& path) {
    struct stat st {};
    sys_check(::stat(path.c_str(), &st) == 0, "stat " + path);
    return static_cast<std::uint64_t>(st.st_size);
}

// ---- statistics and output --------------------------------------------------------------------

struct Series {
    std::vector<double> t;
    double best() const { return *std::min_element(t.begin(), t.end()); }
    double median() const {
        std::vector<double> s = t;
        std::sort(s.begin(), s.end());
        const std::size_t n = s.size();
        return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }
};

/// Rank-0 table: one row per measured thing, best and median over reps, aggregate GB/s.
class Table {
public:
    explicit Table(double bytes) : bytes_(bytes) {}
    Series& operator[](const std::string& name) {
        if (!series_.count(name)) order_.push_back(name);
        return series_[name];
    }
    bool has(const std::string& name) const { return series_.count(name) != 0; }
    /// Forgets the first k samples of every row (the warm-up reps).
    void drop_first(int k) {
        for (auto& [name, s] : series_) s.t.erase(s.t.begin(), s.t.begin() + std::min<std::size_t>(k, s.t.size()));
    }
    const Series& at(const std::string& name) const { return series_.at(name); }
    /// rates: GB/s columns (bytes over each time); else times only (stages of one method).
    void print(const char* title, bool rates, bool samples) const {
        if (g_rank != 0) return;
        std::printf("\n%s\n", title);
        if (rates)
            std::printf("  %-52s %9s %9s %9s %9s\n", "method", "best s", "median s", "GB/s best", "GB/s med");
        else
            std::printf("  %-52s %9s %9s\n", "stage", "best s", "median s");
        for (const auto& name : order_) {
            const Series& s = series_.at(name);
            std::printf("  %-52s %9.4f %9.4f", name.c_str(), s.best(), s.median());
            if (rates) std::printf(" %9.2f %9.2f", bytes_ / s.best() / 1e9, bytes_ / s.median() / 1e9);
            std::printf("\n");
            if (samples) {
                std::printf("  %-52s", "    every rep:");
                for (double v : s.t) std::printf(" %.4f", v);
                std::printf("\n");
            }
        }
    }
    /// raw time / ours: ckpt's throughput as a fraction of the raw method's.
    double ratio(const std::string& raw, const std::string& ours, bool best) const {
        return best ? at(raw).best() / at(ours).best() : at(raw).median() / at(ours).median();
    }
    void print_ratio(const char* label, const std::string& raw, const std::string& ours, double target) const {
        if (g_rank != 0) return;
        const double b = ratio(raw, ours, true), m = ratio(raw, ours, false);
        std::printf("  %-58s %5.2f   %5.2f   >= %.2f %s\n", label, b, m, target,
                    m >= target ? "met" : (b >= target ? "met (best only)" : "MISSED"));
    }

private:
    double bytes_;
    std::vector<std::string> order_;
    std::map<std::string, Series> series_;
};

// ---- the arguments and the directory every newer benchmark takes --------------------------------

/// --mib S --reps R --warmup W --dir DIR --samples, parsed by parse_args().
struct CommonArgs {
    std::size_t mib = 256;
    int reps = 3;
    int warmup = 1;
    std::string dir;
    bool samples = false;
};

/// Parses the common arguments; `own(flag, value)` gets any other flag first (value() takes the
/// next argument) and returns whether it knew it. --help prints `usage` and ends the program.
inline CommonArgs parse_args(int argc, char** argv, const char* usage,
                             const std::function<bool(const std::string&, const std::function<std::string()>&)>& own = {}) {
    CommonArgs a;
    for (int i = 1; i < argc; ++i) {
        const std::string s = argv[i];
        const std::function<std::string()> value = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value after " + s);
            return argv[++i];
        };
        if (own && own(s, value)) continue;
        if (s == "--mib") a.mib = std::stoul(value());
        else if (s == "--reps") a.reps = std::stoi(value());
        else if (s == "--warmup") a.warmup = std::stoi(value());
        else if (s == "--dir") a.dir = value();
        else if (s == "--samples") a.samples = true;
        else if (s == "-h" || s == "--help") {
            if (g_rank == 0) std::printf("usage: %s\n", usage);
            MPI_Finalize();
            std::exit(0);
        } else {
            die("unknown argument " + s + " (try --help)");
        }
    }
    if (a.mib == 0 || a.reps < 1 || a.warmup < 0) die("--mib and --reps must be positive, --warmup >= 0");
    return a;
}

/// `dir`, or a new directory <base>/<prefix>.XXXXXX (base: $TMPDIR or /tmp), the same on every
/// rank; `made` says whether the caller should remove it at the end.
inline std::string run_directory(const std::string& dir, const std::string& base, const char* prefix, bool& made) {
    made = dir.empty();
    if (!made) return dir;
    std::string tmpl = base + "/" + prefix + ".XXXXXX";
    if (g_rank == 0) sys_check(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp " + tmpl);
    MPI_Bcast(tmpl.data(), static_cast<int>(tmpl.size()), MPI_CHAR, 0, MPI_COMM_WORLD);
    return tmpl;
}
inline std::string temp_base() {
    const char* t = std::getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

}  // namespace bench
