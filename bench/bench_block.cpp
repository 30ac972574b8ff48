/// bench_block: a 2-D block-distributed entry (ckpt::block with ghost layers) against the raw
/// parallel HDF5 it is built on, on the same data, in the same run.
///
///   mpiexec -n 4 bench_block write [--mib S] [--reps R] [--warmup W] --dir DIR [--keep] [--samples]
///   mpiexec -n M bench_block read  [--grid PxQ] [--reps R] [--warmup W] --dir DIR [--samples]
///
/// write: the ranks form a near-square P x Q grid (2 x 2 at 4 ranks); each owns a box of S MiB of
/// doubles of a global 2-D array, held in memory with one ghost layer on each side (so the
/// memory extents are not the owned box). Per rep, in a rotating order, each barrier to barrier
/// (slowest rank):
///   - raw HDF5: one contiguous dataset of the global shape, one collective H5Dwrite (hyperslab
///     per rank, the memory selection skipping the ghosts), H5Fflush, H5Fclose, fsync of the file
///     and the directory: the durability ckpt gives;
///   - the same with an independent H5Dwrite;
///   - raw HDF5, the other layout: one contiguous dataset per rank in the same file, each written
///     by its rank (independent, one contiguous file range), plus a virtual dataset (VDS) of the
///     global shape over them, with the same durability;
///   - ckpt: cp.checkpoint() of the entry protected with ckpt::block(...).ghosts({1, 1}).
/// --keep leaves the last raw collective file and ckpt's last version in DIR for `read`.
///
/// read: at any rank count M, over the files a `write --keep` left in DIR (any writer rank
/// count): each rank takes its box of a new P x Q grid (--grid; default near-square) and reads
/// it, cold (pages dropped before every read), by an independent and by a collective hyperslab
/// H5Dread of the raw file, and by a ckpt restore (a new Checkpointer, protect, restore). Every
/// read is checked element by element against the values written.
///
/// Raw H5*/MPI_* calls are deliberate here: the baselines must not go through ckpt.

#include <ckpt.hpp>

#include "ckpt/detail/position_sum.hpp"

#include "bench_support.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <mpi.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace bench;

struct Args {
    std::string mode;
    std::size_t mib = 256;
    int reps = 5;
    int warmup = 1;
    std::string dir;
    int grid_p = 0, grid_q = 0;  // read: the new grid (0: near-square)
    bool keep = false;
    bool samples = false;
};

void usage() {
    if (g_rank == 0)
        std::printf(
            "usage: bench_block write [--mib S (256)] [--reps R (5)] [--warmup W (1)] --dir DIR [--keep] [--samples]\n"
            "       bench_block read  [--grid PxQ (near-square)] [--reps R (5)] [--warmup W (1)] --dir DIR [--samples]\n"
            "  write   the ranks' near-square grid, S MiB of doubles per rank, one ghost layer each side\n"
            "  --keep  leave DIR/raw_coll.h5 and ckpt's last version for `read` (else DIR's files are removed)\n"
            "  read    restore what `write --keep` left, at this rank count, grid P x Q (P*Q = ranks)\n");
}

Args parse_args(int argc, char** argv) {
    Args a;
    if (argc < 2) {
        usage();
        die("missing mode (write or read)");
    }
    a.mode = argv[1];
    if (a.mode == "-h" || a.mode == "--help") {
        usage();
        MPI_Finalize();
        std::exit(0);
    }
    if (a.mode != "write" && a.mode != "read") die("mode must be write or read, not " + a.mode);
    for (int i = 2; i < argc; ++i) {
        std::string s = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value after " + s);
            return argv[++i];
        };
        if (s == "--mib") a.mib = std::stoul(value());
        else if (s == "--reps") a.reps = std::stoi(value());
        else if (s == "--warmup") a.warmup = std::stoi(value());
        else if (s == "--dir") a.dir = value();
        else if (s == "--keep") a.keep = true;
        else if (s == "--samples") a.samples = true;
        else if (s == "--grid") {
            const std::string g = value();
            if (std::sscanf(g.c_str(), "%dx%d", &a.grid_p, &a.grid_q) != 2 || a.grid_p < 1 || a.grid_q < 1)
                die("--grid takes PxQ, e.g. 2x1");
        } else if (s == "-h" || s == "--help") {
            usage();
            MPI_Finalize();
            std::exit(0);
        } else {
            die("unknown argument " + s + " (try --help)");
        }
    }
    if (a.mib == 0 || a.reps < 1 || a.warmup < 0) die("--mib and --reps must be positive, --warmup >= 0");
    if (a.dir.empty()) die("--dir is required (write and read must use the same one)");
    return a;
}

// ---- the decomposition ------------------------------------------------------------------------

/// The most square p = a * b with a <= b.
void near_square(int p, int& a, int& b) {
    a = 1;
    for (int d = 1; d * d <= p; ++d)
        if (p % d == 0) a = d;
    b = p / a;
}
/// Part i of n split over p parts, the first n % p parts one longer.
hsize_t part_size(hsize_t n, int p, int i) { return n / p + (static_cast<hsize_t>(i) < n % p ? 1 : 0); }
hsize_t part_start(hsize_t n, int p, int i) {
    hsize_t s = 0;
    for (int k = 0; k < i; ++k) s += part_size(n, p, k);
    return s;
}

/// A rank's box of the global 2-D array, held with one ghost layer on each side.
struct Box2 {
    hsize_t origin[2] = {0, 0}, count[2] = {0, 0};
    hsize_t mem[2] = {0, 0};  // memory extents: count + 2
    static constexpr hsize_t ghost = 1;
    hsize_t elements() const { return count[0] * count[1]; }
    std::size_t mem_elements() const { return static_cast<std::size_t>(mem[0] * mem[1]); }
};

/// Rank r's box in a p x q grid (row-major rank order) over `global`.
Box2 box_of(const hsize_t global[2], int p, int q, int r) {
    Box2 b;
    const int i = r / q, j = r % q;
    b.origin[0] = part_start(global[0], p, i), b.count[0] = part_size(global[0], p, i);
    b.origin[1] = part_start(global[1], q, j), b.count[1] = part_size(global[1], q, j);
    b.mem[0] = b.count[0] + 2 * Box2::ghost, b.mem[1] = b.count[1] + 2 * Box2::ghost;
    return b;
}

/// Every element's value: its row-major global index plus a quarter (exact, all distinct).
inline double value_at(hsize_t g) { return static_cast<double>(g) + 0.25; }
constexpr double kGhost = -1.0, kUnread = -2.0;

void fill_view(std::vector<double>& v, const Box2& b, const hsize_t global[2], bool values) {
    std::fill(v.begin(), v.end(), kGhost);
    for (hsize_t i = 0; i < b.count[0]; ++i) {
        double* row = v.data() + (i + 1) * b.mem[1] + 1;
        const hsize_t g0 = (b.origin[0] + i) * global[1] + b.origin[1];
        for (hsize_t j = 0; j < b.count[1]; ++j) row[j] = values ? value_at(g0 + j) : kUnread;
    }
}

/// Every interior element as written, every ghost untouched; the same verdict on every rank.
void verify(const std::vector<double>& v, const Box2& b, const hsize_t global[2], const char* what) {
    long bad = 0;
    for (hsize_t i = 0; i < b.mem[0]; ++i) {
        const double* row = v.data() + i * b.mem[1];
        const bool ghost_row = i == 0 || i == b.mem[0] - 1;
        if (ghost_row) {
            for (hsize_t j = 0; j < b.mem[1]; ++j) bad += row[j] != kGhost;
            continue;
        }
        bad += row[0] != kGhost;
        bad += row[b.mem[1] - 1] != kGhost;
        const hsize_t g0 = (b.origin[0] + i - 1) * global[1] + b.origin[1];
        for (hsize_t j = 0; j < b.count[1]; ++j) bad += row[j + 1] != value_at(g0 + j);
    }
    long all = 0;
    MPI_Allreduce(&bad, &all, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (all) die(std::string(what) + ": " + std::to_string(all) + " elements differ from what was written");
}

// ---- raw parallel HDF5 (bench_support.hpp has ckpt's file settings) -------------------------

/// The memory space of a view, its interior (the box) selected.
hid_t view_space(const Box2& b) {
    hid_t m = h5_check(H5Screate_simple(2, b.mem, nullptr), "H5Screate_simple");
    const hsize_t start[2] = {Box2::ghost, Box2::ghost};
    h5_check(H5Sselect_hyperslab(m, H5S_SELECT_SET, start, nullptr, b.count, nullptr), "H5Sselect_hyperslab");
    return m;
}

/// Layout A (ckpt's): one contiguous dataset /u of the global shape; each rank writes its box
/// from its view, collectively or independently (ckpt's write_blocks: independent, since 40627e2).
void raw_global_write(const std::string& path, const std::string& dir, const double* view, const Box2& b,
                      const hsize_t global[2], bool collective) {
    hid_t fapl = raw_fapl(true);
    hid_t file = h5_check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "H5Fcreate");
    H5Pclose(fapl);
    hid_t fspace = h5_check(H5Screate_simple(2, global, nullptr), "H5Screate_simple");
    hid_t dcpl = contiguous_dcpl();
    hid_t dset = h5_check(H5Dcreate2(file, "/u", H5T_NATIVE_DOUBLE, fspace, H5P_DEFAULT, dcpl, H5P_DEFAULT), "H5Dcreate2");
    H5Pclose(dcpl);
    h5_check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, b.origin, nullptr, b.count, nullptr), "H5Sselect_hyperslab");
    hid_t mspace = view_space(b);
    hid_t dxpl = transfer(collective);
    h5_check(H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, view), "H5Dwrite");
    H5Pclose(dxpl);
    H5Sclose(mspace);
    H5Sclose(fspace);
    H5Dclose(dset);
    durable_close(file, path, dir);
}

/// Layout D: one contiguous dataset /parts/<r> per rank (its box's shape), all created
/// collectively, and a virtual dataset /u of the global shape mapping each into its box. Then
/// each rank writes its own dataset (independent: one contiguous file range per rank).
void raw_vds_write(const std::string& path, const std::string& dir, const double* view, const Box2& b,
                   const hsize_t global[2], int p, int q) {
    hid_t fapl = raw_fapl(true);
    hid_t file = h5_check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "H5Fcreate");
    H5Pclose(fapl);
    hid_t group = h5_check(H5Gcreate2(file, "/parts", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "H5Gcreate2");
    H5Gclose(group);
    hid_t dcpl = contiguous_dcpl();
    hid_t vdcpl = h5_check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate");
    hid_t vspace = h5_check(H5Screate_simple(2, global, nullptr), "H5Screate_simple");
    hid_t mine = -1;
    for (int r = 0; r < g_size; ++r) {
        const Box2 rb = box_of(global, p, q, r);
        const std::string name = "/parts/" + std::to_string(r);
        hid_t sspace = h5_check(H5Screate_simple(2, rb.count, nullptr), "H5Screate_simple");
        hid_t d = h5_check(H5Dcreate2(file, name.c_str(), H5T_NATIVE_DOUBLE, sspace, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                           "H5Dcreate2");
        if (r == g_rank) mine = d;
        else H5Dclose(d);
        h5_check(H5Sselect_hyperslab(vspace, H5S_SELECT_SET, rb.origin, nullptr, rb.count, nullptr), "H5Sselect_hyperslab");
        h5_check(H5Pset_virtual(vdcpl, vspace, ".", name.c_str(), sspace), "H5Pset_virtual");
        H5Sclose(sspace);
    }
    H5Pclose(dcpl);
    h5_check(H5Sselect_all(vspace), "H5Sselect_all");
    hid_t vds = h5_check(H5Dcreate2(file, "/u", H5T_NATIVE_DOUBLE, vspace, H5P_DEFAULT, vdcpl, H5P_DEFAULT),
                         "H5Dcreate2 (virtual)");
    H5Dclose(vds);
    H5Sclose(vspace);
    H5Pclose(vdcpl);
    hid_t mspace = view_space(b);
    hid_t dxpl = transfer(false);
    h5_check(H5Dwrite(mine, H5T_NATIVE_DOUBLE, mspace, H5S_ALL, dxpl, view), "H5Dwrite");
    H5Pclose(dxpl);
    H5Sclose(mspace);
    H5Dclose(mine);
    durable_close(file, path, dir);
}

/// This rank's box of the global dataset `name`, into its view.
void raw_global_read(const std::string& path, const char* name, double* view, const Box2& b, bool collective) {
    hid_t fapl = raw_fapl(false);
    hid_t file = h5_check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), "H5Fopen");
    H5Pclose(fapl);
    hid_t dset = h5_check(H5Dopen2(file, name, H5P_DEFAULT), "H5Dopen2");
    hid_t fspace = h5_check(H5Dget_space(dset), "H5Dget_space");
    h5_check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, b.origin, nullptr, b.count, nullptr), "H5Sselect_hyperslab");
    hid_t mspace = view_space(b);
    hid_t dxpl = transfer(collective);
    h5_check(H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, view), "H5Dread");
    H5Pclose(dxpl);
    H5Sclose(mspace);
    H5Sclose(fspace);
    H5Dclose(dset);
    h5_check(H5Fclose(file), "H5Fclose");
}

/// Rank 0 alone (serial driver), after the parallel close: a few whole rows of a global
/// dataset, including both sides of every box boundary, against the values written.
void spot_check(const std::string& path, const char* name, const hsize_t global[2], int p, const char* what) {
    int bad = 0;
    if (g_rank == 0) {
        hid_t file = h5_check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "H5Fopen (check)");
        hid_t dset = h5_check(H5Dopen2(file, name, H5P_DEFAULT), "H5Dopen2 (check)");
        hid_t fspace = h5_check(H5Dget_space(dset), "H5Dget_space");
        hsize_t dims[2] = {0, 0};
        H5Sget_simple_extent_dims(fspace, dims, nullptr);
        if (dims[0] != global[0] || dims[1] != global[1]) bad = 1;
        std::vector<hsize_t> rows = {0, global[0] - 1};
        for (int i = 1; i < p; ++i) rows.push_back(part_start(global[0], p, i) - 1), rows.push_back(part_start(global[0], p, i));
        std::vector<double> row(global[1]);
        const hsize_t count[2] = {1, global[1]};
        hid_t mspace = h5_check(H5Screate_simple(2, count, nullptr), "H5Screate_simple");
        for (hsize_t r : rows) {
            if (bad) break;
            const hsize_t start[2] = {r, 0};
            h5_check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr), "H5Sselect_hyperslab");
            h5_check(H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, row.data()), "H5Dread (check)");
            for (hsize_t j = 0; j < global[1]; ++j) bad |= row[j] != value_at(r * global[1] + j);
        }
        H5Sclose(mspace);
        H5Sclose(fspace);
        H5Dclose(dset);
        H5Fclose(file);
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (bad) die(std::string(what) + ": " + path + " does not hold the values written");
}

/// The global shape of `name` in `path` (collective open; before any timing).
void global_shape(const std::string& path, const char* name, hsize_t global[2]) {
    hid_t fapl = raw_fapl(false);
    hid_t file = h5_check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), "H5Fopen");
    H5Pclose(fapl);
    hid_t dset = h5_check(H5Dopen2(file, name, H5P_DEFAULT), "H5Dopen2");
    hid_t space = h5_check(H5Dget_space(dset), "H5Dget_space");
    if (H5Sget_simple_extent_ndims(space) != 2) die(path + ": " + name + " is not 2-D");
    H5Sget_simple_extent_dims(space, global, nullptr);
    H5Sclose(space);
    H5Dclose(dset);
    H5Fclose(file);
}

std::uint64_t box_position_sum(const std::vector<double>& v, const Box2& b, const hsize_t global[2]) {
    using ckpt::detail::Box;
    return ckpt::detail::position_sum(v.data(), sizeof(double), {b.mem[0], b.mem[1]}, {Box2::ghost, Box2::ghost},
                                      Box{{b.origin[0], b.origin[1]}, {b.count[0], b.count[1]}}, {global[0], global[1]});
}

ckpt::Distribution declaration(const Box2& b, const hsize_t global[2]) {
    return ckpt::block({global[0], global[1]}, {b.origin[0], b.origin[1]}, {b.count[0], b.count[1]})
        .ghosts({Box2::ghost, Box2::ghost});
}

ckpt::Options options_for(const std::string& dir) {
    ckpt::Options o;
    o.dir = dir + "/ckpt";
    o.name = "bench";
    o.depth = 1;
    return o;
}

void print_header(const Args& args, const char* what, int p, int q, const Box2& b, const hsize_t global[2]) {
    const double touch = -max_over_ranks(-fresh_page_gbps());  // slowest rank
    if (g_rank != 0) return;
    std::printf("bench_block %s: %d rank(s) as a %d x %d grid; global %llu x %llu doubles = %.3f GB; box of rank 0 "
                "%llu x %llu (%.1f MiB), memory %llu x %llu (1 ghost layer each side); %d rep(s) + %d warm-up; dir %s\n",
                what, g_size, p, q, static_cast<unsigned long long>(global[0]), static_cast<unsigned long long>(global[1]),
                static_cast<double>(global[0] * global[1] * 8) / 1e9, static_cast<unsigned long long>(b.count[0]),
                static_cast<unsigned long long>(b.count[1]), static_cast<double>(b.elements() * 8) / (1 << 20),
                static_cast<unsigned long long>(b.mem[0]), static_cast<unsigned long long>(b.mem[1]), args.reps,
                args.warmup, args.dir.c_str());
    std::printf("first touch of fresh memory: %.2f GB/s per rank%s\n", touch,
                touch < 2 ? " -- SLOW (VM page faults): compare medians over more reps" : "");
}

// ---- write ------------------------------------------------------------------------------------

int run_write(const Args& args) {
    int p = 0, q = 0;
    near_square(g_size, p, q);
    // A box of about `mib` MiB, twice as many rows as columns (8192 x 4096 at 256 MiB).
    const hsize_t per_rank = static_cast<hsize_t>(args.mib) * (hsize_t{1} << 20) / sizeof(double);
    const hsize_t cols = std::max<hsize_t>(1, static_cast<hsize_t>(std::sqrt(static_cast<double>(per_rank) / 2)));
    const hsize_t rows = per_rank / cols;
    const hsize_t global[2] = {rows * static_cast<hsize_t>(p), cols * static_cast<hsize_t>(q)};
    const Box2 b = box_of(global, p, q, g_rank);
    const double total_bytes = static_cast<double>(global[0] * global[1] * sizeof(double));

    std::vector<double> u(b.mem_elements());
    fill_view(u, b, global, true);

    const std::string coll_file = args.dir + "/raw_coll.h5";
    const std::string indep_file = args.dir + "/raw_indep.h5";
    const std::string vds_file = args.dir + "/raw_vds.h5";
    ckpt::Options o = options_for(args.dir);
    if (g_rank == 0) {  // a fresh start: no older version to rotate away in the first rep
        std::error_code ec;
        std::filesystem::remove_all(o.dir, ec);
        ::unlink(coll_file.c_str());
    }
    MPI_Barrier(MPI_COMM_WORLD);
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    cp.protect("u", ckpt::ArrayView<double>(u.data(), {static_cast<std::size_t>(b.mem[0]), static_cast<std::size_t>(b.mem[1])}),
               declaration(b, global));

    print_header(args, "write", p, q, b, global);

    Table t(total_bytes);
    const char* kSum = "compute: position sum of the box (ckpt, on a thread)";
    const char* kColl = "write: raw 1 global dataset, coll. H5Dwrite";
    const char* kIndep = "write: raw 1 global dataset, indep. H5Dwrite";
    const char* kVds = "write: raw dataset/rank + VDS, indep. H5Dwrite";
    const char* kCkpt = "write: ckpt cp.checkpoint()";
    std::uint64_t sink = 0;

    for (int rep = 0; rep < args.warmup + args.reps; ++rep) {
        // The previous rep's raw files go, and ckpt's last version's pages are dropped, outside
        // every measurement, so every method starts from the same page cache (bench/README.md).
        if (g_rank == 0) {
            ::unlink(coll_file.c_str());
            ::unlink(indep_file.c_str());
            ::unlink(vds_file.c_str());
        }
        if (!cp.last_path().empty()) evict(cp.last_path());
        MPI_Barrier(MPI_COMM_WORLD);
        if (g_rank == 0) quiesce(args.dir);

        t[kSum].t.push_back(timed([&] { sink ^= box_position_sum(u, b, global); }));
        std::function<void()> writes[4] = {
            [&] { t[kColl].t.push_back(timed([&] { raw_global_write(coll_file, args.dir, u.data(), b, global, true); })); },
            [&] { t[kIndep].t.push_back(timed([&] { raw_global_write(indep_file, args.dir, u.data(), b, global, false); })); },
            [&] { t[kVds].t.push_back(timed([&] { raw_vds_write(vds_file, args.dir, u.data(), b, global, p, q); })); },
            [&] { t[kCkpt].t.push_back(timed([&] { cp.checkpoint(); })); },
        };
        for (int k = 0; k < 4; ++k) {
            writes[(rep + k) % 4]();
            cp.sync();  // rotation's background unlink: waited for and committed outside the timings
            MPI_Barrier(MPI_COMM_WORLD);
            if (g_rank == 0) quiesce(args.dir);
        }
    }

    // What the last rep wrote, read back (rank 0, a few rows across every box boundary).
    spot_check(coll_file, "/u", global, p, "raw collective write");
    spot_check(indep_file, "/u", global, p, "raw independent write");
    spot_check(vds_file, "/u", global, p, "raw VDS write (read through the VDS)");
    spot_check(cp.last_path(), "/state/u", global, p, "ckpt write");

    t.drop_first(args.warmup);
    t.print("Write (aggregate GB/s: the global array's bytes over the slowest rank's time, barrier to barrier)", true,
            args.samples);
    if (g_rank == 0) {
        std::printf("\nRatios (raw time / ckpt time: ckpt's throughput as a fraction of raw) %8s %7s   target\n", "best",
                    "median");
    }
    t.print_ratio("ckpt write / raw coll. write, 1 global dataset", kColl, kCkpt, 0.95);
    t.print_ratio("ckpt write / raw indep. write, 1 global dataset", kIndep, kCkpt, 0.95);
    t.print_ratio("ckpt write / raw dataset per rank + VDS", kVds, kCkpt, 0.95);
    if (g_rank == 0) {
        std::printf("  %-58s %5.2f   %5.2f   (layouts, raw against raw)\n", "raw VDS layout / raw 1 global dataset coll.",
                    t.ratio(kColl, kVds, true), t.ratio(kColl, kVds, false));
        std::printf("\nRESULT mode=write ranks=%d grid=%dx%d mib=%zu ckpt_vs_coll=%.2f ckpt_vs_indep=%.2f ckpt_vs_vds=%.2f "
                    "(medians)\n",
                    g_size, p, q, args.mib, t.ratio(kColl, kCkpt, false), t.ratio(kIndep, kCkpt, false),
                    t.ratio(kVds, kCkpt, false));
        if (sink == 42) std::printf(" ");  // keep the sums observable
    }

    // Cleanup: with --keep, the collective raw file and ckpt's last version stay for `read`.
    MPI_Barrier(MPI_COMM_WORLD);
    const std::string last = cp.last_path();
    cp.sync();
    if (g_rank == 0) {
        ::unlink(indep_file.c_str());
        ::unlink(vds_file.c_str());
        if (!args.keep) {
            ::unlink(coll_file.c_str());
            std::error_code ec;
            std::filesystem::remove_all(o.dir, ec);
        }
        quiesce(args.dir);
        if (args.keep) std::printf("kept for read: %s and %s\n", coll_file.c_str(), last.c_str());
    }
    MPI_Barrier(MPI_COMM_WORLD);
    return 0;
}

// ---- read -------------------------------------------------------------------------------------

int run_read(const Args& args) {
    int p = args.grid_p, q = args.grid_q;
    if (p == 0) near_square(g_size, p, q);
    if (p * q != g_size) die("--grid " + std::to_string(p) + "x" + std::to_string(q) + " is not " + std::to_string(g_size) + " ranks");
    const std::string coll_file = args.dir + "/raw_coll.h5";
    ckpt::Options o = options_for(args.dir);
    o.restart.kind = ckpt::RestartKind::Latest;

    hsize_t global[2] = {0, 0};
    global_shape(coll_file, "/u", global);
    const Box2 b = box_of(global, p, q, g_rank);
    const double total_bytes = static_cast<double>(global[0] * global[1] * sizeof(double));
    std::vector<double> v(b.mem_elements());
    fill_view(v, b, global, true);  // first touch of every page, outside the timings

    // Where ckpt's version is, and who wrote it (an untimed restore, also a first check).
    std::string ckpt_file;
    int written_by = 0;
    {
        fill_view(v, b, global, false);
        ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
        cp.protect("u", ckpt::ArrayView<double>(v.data(), {static_cast<std::size_t>(b.mem[0]), static_cast<std::size_t>(b.mem[1])}),
                   declaration(b, global));
        if (!cp.restore_if_requested()) die("no checkpoint in " + o.dir + " (run write --keep first)");
        ckpt_file = cp.last_path();
        written_by = cp.restored_ranks();
        verify(v, b, global, "ckpt restore (untimed)");
    }
    char what[64];
    std::snprintf(what, sizeof what, "read (written by %d ranks)", written_by);
    print_header(args, what, p, q, b, global);

    Table t(total_bytes);
    const char* kSum = "compute: position sum of the box (ckpt's check)";
    const char* kIndep = "read: raw indep. H5Dread of the box, cold";
    const char* kColl = "read: raw coll. H5Dread of the box, cold";
    const char* kCkpt = "read: ckpt restore_if_requested(), cold";
    double resident[2] = {0, 0};  // worst residency seen before a raw read, a ckpt read
    std::uint64_t sink = 0;

    for (int rep = 0; rep < args.warmup + args.reps; ++rep) {
        fill_view(v, b, global, true);
        t[kSum].t.push_back(timed([&] { sink ^= box_position_sum(v, b, global); }));
        std::function<void()> reads[3] = {
            [&] {
                fill_view(v, b, global, false);
                evict(coll_file);
                MPI_Barrier(MPI_COMM_WORLD);
                resident[0] = std::max(resident[0], max_over_ranks(resident_fraction(coll_file)));
                t[kIndep].t.push_back(timed([&] { raw_global_read(coll_file, "/u", v.data(), b, false); }));
                verify(v, b, global, "raw independent read");
            },
            [&] {
                fill_view(v, b, global, false);
                evict(coll_file);
                MPI_Barrier(MPI_COMM_WORLD);
                resident[0] = std::max(resident[0], max_over_ranks(resident_fraction(coll_file)));
                t[kColl].t.push_back(timed([&] { raw_global_read(coll_file, "/u", v.data(), b, true); }));
                verify(v, b, global, "raw collective read");
            },
            [&] {
                fill_view(v, b, global, false);
                evict(ckpt_file);
                MPI_Barrier(MPI_COMM_WORLD);
                resident[1] = std::max(resident[1], max_over_ranks(resident_fraction(ckpt_file)));
                t[kCkpt].t.push_back(timed([&] {
                    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
                    cp.protect("u",
                               ckpt::ArrayView<double>(v.data(), {static_cast<std::size_t>(b.mem[0]), static_cast<std::size_t>(b.mem[1])}),
                               declaration(b, global));
                    if (!cp.restore_if_requested()) die("restore_if_requested() restored nothing");
                }));
                verify(v, b, global, "ckpt restore");
            },
        };
        for (int k = 0; k < 3; ++k) reads[(rep + k) % 3]();
    }

    t.drop_first(args.warmup);
    t.print("Read (aggregate GB/s: the global array's bytes over the slowest rank's time, barrier to barrier)", true,
            args.samples);
    const double target = written_by == g_size ? 0.9 : 0.8;
    if (g_rank == 0)
        std::printf("\nRatios (raw time / ckpt time: ckpt's throughput as a fraction of raw) %8s %7s   target\n", "best",
                    "median");
    t.print_ratio("ckpt restore / raw indep. H5Dread", kIndep, kCkpt, target);
    t.print_ratio("ckpt restore / raw coll. H5Dread", kColl, kCkpt, target);
    if (g_rank == 0) {
        std::printf("\nPage-cache eviction (posix_fadvise DONTNEED); worst residency before a read: raw file %.1f%%, "
                    "ckpt file %.1f%%: %s\n",
                    100 * resident[0], 100 * resident[1],
                    resident[0] > 0.05 || resident[1] > 0.05 ? "WARNING: reads were (partly) warm" : "reads were cold");
        std::printf("\nRESULT mode=read written_by=%d ranks=%d grid=%dx%d ckpt_vs_indep=%.2f ckpt_vs_coll=%.2f (medians)\n",
                    written_by, g_size, p, q, t.ratio(kIndep, kCkpt, false), t.ratio(kColl, kCkpt, false));
        if (sink == 42) std::printf(" ");
    }
    MPI_Barrier(MPI_COMM_WORLD);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int provided = 0;  // FUNNELED: ckpt's helper threads never call MPI
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    bench::start("bench_block");
    int rc = 0;
    try {
        Args args = parse_args(argc, argv);
        if (g_rank == 0) {
            std::error_code ec;
            std::filesystem::create_directories(args.dir, ec);
            if (ec) die("cannot create " + args.dir + ": " + ec.message());
        }
        MPI_Barrier(MPI_COMM_WORLD);
        rc = args.mode == "write" ? run_write(args) : run_read(args);
    } catch (const std::exception& e) {
        die(std::string("uncaught exception: ") + e.what());
    }
    MPI_Finalize();
    return rc;
}
