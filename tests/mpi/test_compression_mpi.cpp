// Compressed entries at 1, 2 and 4 ranks (docs/compression.md): every type family round-trips
// bit for bit through deflate and LZ4; the files hold chunked, filtered datasets that are smaller
// than the raw bytes; the job's default covers leaves of 64 KiB and more and an entry's own
// compress() wins over it; a corrupt compressed chunk fails the version, which is quarantined,
// and the restore falls back to the one before; async and a bad level are refused, naming them.
#include "testing.hpp"

#include <ckpt/complex.hpp>

#include <hdf5.h>
#include <mpi.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Catch::Contains;
using ckpt::Compression;
using ckpt::testing::CerrCapture;
using ckpt::testing::options_in;
using ckpt::testing::TempDir;
using ckpt::testing::on_every_rank;
using ckpt::testing::world_rank;
using ckpt::testing::world_size;

namespace {

constexpr std::uint64_t columns = 96, rows_per_rank = 160;

/// Every kind of entry, with values that depend on `version`, the rank and the index: smooth
/// fields (which compress), integer masks, text and a Boost-serialized map.
struct State {
    std::vector<double> field;                        // per-rank, 1.6 MB
    std::vector<float> coarse;                        // per-rank, small
    std::vector<std::int8_t> mask;                    // per-rank bytes
    std::vector<std::complex<double>> modes;          // complex
    std::vector<double> grid;                         // block: rows_per_rank + 2 ghost rows
    std::vector<std::int32_t> particles;              // concatenated, uneven (rank 0 has none)
    std::int64_t step = 0;                            // replicated scalar
    std::string label;
    std::map<std::string, int> table;                 // Boost

    void fill(int version, int rank) {
        const double v = version, r = rank;
        field.resize(200000);
        for (std::size_t i = 0; i < field.size(); ++i) field[i] = std::sin(1e-4 * static_cast<double>(i) + r) * v;
        coarse.assign(500, static_cast<float>(v + r));
        mask.resize(100000);
        for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = static_cast<std::int8_t>((i / 100 + rank + version) % 3);
        modes.resize(3000);
        for (std::size_t i = 0; i < modes.size(); ++i) modes[i] = {v * std::cos(0.01 * static_cast<double>(i)), r};
        grid.assign((rows_per_rank + 2) * columns, -1.0);  // ghosts stay -1: never stored
        for (std::uint64_t i = 0; i < rows_per_rank; ++i)
            for (std::uint64_t j = 0; j < columns; ++j)
                grid[(i + 1) * columns + j] =
                    v + std::cos(0.01 * static_cast<double>((static_cast<std::uint64_t>(rank) * rows_per_rank + i) * columns + j));
        particles.resize(static_cast<std::size_t>(rank) * 5000);
        for (std::size_t i = 0; i < particles.size(); ++i) particles[i] = static_cast<std::int32_t>(version * 7 + i % 50);
        step = version * 10;
        label = "version " + std::to_string(version);
        table = {{"a", version}, {"rank", rank}};
    }
    void clear() {
        for (auto& x : field) x = 0;
        coarse.clear();
        mask.clear();
        modes.clear();
        for (auto& x : grid) x = -1;
        particles.clear();
        step = -1;
        label.clear();
        table.clear();
    }

    /// Every entry; `how` is each one's compression (declared) or none (the job's default).
    void protect(ckpt::Checkpointer& cp, const Compression* how) {
        const int rank = world_rank(), size = world_size();
        auto with = [&](ckpt::Distribution d) { return how ? std::move(d).compress(*how) : std::move(d); };
        cp.protect("field", field, with(ckpt::per_rank()))
            .protect("coarse", coarse, with(ckpt::per_rank()))
            .protect("mask", mask, with(ckpt::per_rank()))
            .protect("modes", modes, with(ckpt::per_rank()))
            .protect("grid", ckpt::ArrayView<double>(grid.data(), {rows_per_rank + 2, columns}),
                     with(ckpt::block({rows_per_rank * static_cast<std::uint64_t>(size), columns},
                                      {rows_per_rank * static_cast<std::uint64_t>(rank), std::uint64_t{0}},
                                      {rows_per_rank, columns})
                              .ghosts({1, 0})))
            .protect("particles", particles, with(ckpt::concatenated()))
            .protect("step", step, with(ckpt::replicated()))
            .protect("label", label, with(ckpt::per_rank()))
            .protect("table", table, with(ckpt::per_rank()));
    }
};

bool same(const State& a, const State& b) {
    return a.field == b.field && a.coarse == b.coarse && a.mask == b.mask && a.modes == b.modes && a.grid == b.grid &&
           a.particles == b.particles && a.step == b.step && a.label == b.label && a.table == b.table;
}
/// What one dataset of a checkpoint file is: its filters (HDF5 ids, in order), its stored and
/// raw bytes. Opened serially, as h5py would.
struct Stored {
    std::vector<H5Z_filter_t> filters;
    hsize_t stored = 0, raw = 0;
};
Stored stored(const std::string& file, const std::string& object) {
    Stored s;
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    const hid_t d = H5Dopen2(f, object.c_str(), H5P_DEFAULT);
    REQUIRE(d >= 0);
    const hid_t dcpl = H5Dget_create_plist(d);
    for (int k = 0; k < H5Pget_nfilters(dcpl); ++k) {
        unsigned flags = 0;
        std::size_t n = 0;
        s.filters.push_back(H5Pget_filter2(dcpl, static_cast<unsigned>(k), &flags, &n, nullptr, 0, nullptr, nullptr));
    }
    s.stored = H5Dget_storage_size(d);
    const hid_t space = H5Dget_space(d), type = H5Dget_type(d);
    s.raw = static_cast<hsize_t>(H5Sget_simple_extent_npoints(space)) * H5Tget_size(type);
    H5Tclose(type);
    H5Sclose(space);
    H5Pclose(dcpl);
    H5Dclose(d);
    H5Fclose(f);
    return s;
}

constexpr H5Z_filter_t lz4_id = 32004;
std::vector<H5Z_filter_t> pipeline_of(const Compression& c, bool shuffled = true) {
    std::vector<H5Z_filter_t> p;
    if (shuffled) p.push_back(H5Z_FILTER_SHUFFLE);
    p.push_back(c.method() == Compression::Method::Deflate ? H5Z_FILTER_DEFLATE : lz4_id);
    return p;
}

/// Overwrites `n` bytes in the middle of the first chunk of `object` in `file` with 0x5a.
void corrupt_first_chunk(const std::string& file, const std::string& object, std::size_t n) {
    haddr_t at = 0;
    hsize_t size = 0;
    {
        const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        const hid_t d = H5Dopen2(f, object.c_str(), H5P_DEFAULT);
        const hid_t space = H5Dget_space(d);
        unsigned mask = 0;
        REQUIRE(H5Dget_chunk_info(d, space, 0, nullptr, &mask, &at, &size) >= 0);
        H5Sclose(space);
        H5Dclose(d);
        H5Fclose(f);
    }
    REQUIRE(size > 2 * n);
    std::FILE* out = std::fopen(file.c_str(), "r+b");
    REQUIRE(out != nullptr);
    std::fseek(out, static_cast<long>(at + size / 2), SEEK_SET);
    const std::vector<unsigned char> junk(n, 0x5a);
    std::fwrite(junk.data(), 1, n, out);
    std::fclose(out);
}

}  // namespace

TEST_CASE("every type family round-trips bit for bit through deflate and LZ4, stored chunked and filtered",
          "[mpi][compression]") {
    for (const Compression how : {Compression::deflate(1), Compression::deflate(6), Compression::lz4()}) {
        INFO("compression " << how.text());
        TempDir dir(MPI_COMM_WORLD);
        State saved, back;
        saved.fill(3, world_rank());
        std::string path;
        {
            ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
            saved.protect(cp, &how);
            path = cp.checkpoint();
        }
        {
            ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
            back.fill(3, world_rank());
            back.clear();
            back.protect(cp, &how);
            REQUIRE(cp.restore_if_requested());
        }
        CHECK(on_every_rank(same(saved, back)));
        if (world_rank() == 0) {
            for (const char* entry : {"field", "grid", "modes", "particles"}) {
                INFO(entry);
                if (world_size() == 1 && std::string(entry) == "particles") continue;  // rank 0 has none: empty
                const Stored s = stored(path, std::string("/state/") + entry);
                CHECK(s.filters == pipeline_of(how));
                CHECK(s.stored < s.raw);  // smooth fields and repeating integers shrink
            }
            // Declared on the entry: even a scalar and 1-byte elements (no shuffle) are filtered.
            CHECK(stored(path, "/state/step").filters == pipeline_of(how));
            CHECK(stored(path, "/state/mask").filters == pipeline_of(how, false));
            const Stored mask = stored(path, "/state/mask");
            CHECK(mask.stored * 10 < mask.raw);
        }
    }
}

TEST_CASE("the job's default compresses leaves of 64 KiB and more; an entry's own compress() wins, off included",
          "[mpi][compression]") {
    TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank();
    std::vector<double> big(20000, 1.5 + rank), just_under(8191, 2.0), kept_raw(20000, 3.0);  // 160 KB, 64 KiB - 8 B
    std::vector<double> small(10, 4.0);
    std::string path;
    {
        ckpt::Options o = options_in(dir.path());
        o.compression = Compression::lz4();
        ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
        cp.protect("big", big)
            .protect("just_under", just_under, ckpt::replicated())
            .protect("kept_raw", kept_raw, ckpt::replicated().compress(Compression::off()))
            .protect("small", small, ckpt::replicated().compress(Compression::deflate(2)));
        path = cp.checkpoint();
    }
    if (rank == 0) {
        CHECK(stored(path, "/state/big").filters == pipeline_of(Compression::lz4()));
        CHECK(stored(path, "/state/just_under").filters.empty());
        CHECK(stored(path, "/state/kept_raw").filters.empty());
        CHECK(stored(path, "/state/small").filters == pipeline_of(Compression::deflate(2)));
    }
    std::vector<double> big2, under2, raw2, small2;
    {
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
        cp.protect("big", big2)
            .protect("just_under", under2, ckpt::replicated())
            .protect("kept_raw", raw2, ckpt::replicated())
            .protect("small", small2, ckpt::replicated());
        REQUIRE(cp.restore_if_requested());  // a restore needs no compression setting
    }
    CHECK(on_every_rank(big2 == big && under2 == just_under && raw2 == kept_raw && small2 == small));
}

TEST_CASE("a corrupt compressed chunk fails its version, which is quarantined, and latest falls back",
          "[mpi][compression]") {
    for (const Compression how : {Compression::deflate(1), Compression::lz4()}) {
        INFO("compression " << how.text());
        TempDir dir(MPI_COMM_WORLD);
        State saved;
        std::string newest;
        {
            ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
            saved.fill(1, world_rank());  // the grid's view is taken at protect(): sized first
            saved.protect(cp, &how);
            cp.checkpoint();
            saved.fill(2, world_rank());
            newest = cp.checkpoint();
        }
        if (world_rank() == 0) corrupt_first_chunk(newest, "/state/grid", 64);
        MPI_Barrier(MPI_COMM_WORLD);
        State back, expected;
        expected.fill(1, world_rank());
        back.fill(1, world_rank());
        back.clear();
        CerrCapture err;
        {
            ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
            back.protect(cp, &how);
            REQUIRE(cp.restore_if_requested());
        }
        CHECK(on_every_rank(same(back, expected)));
        if (world_rank() == 0) {
            CHECK_THAT(err.text(), Contains("skipping " + newest) && Contains("grid"));
            CHECK(fs::exists(newest + ".bad"));
        }
    }
}

TEST_CASE("compression with async, or a deflate level outside 1..9, is refused at protect(), naming the entry",
          "[mpi][compression]") {
    TempDir dir(MPI_COMM_WORLD);
    std::vector<double> u(10, 1.0);
    {
        ckpt::Options o = options_in(dir.path());
        o.async = 1;
        ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
        try {
            cp.protect("u", u, ckpt::per_rank().compress(Compression::lz4()));
            FAIL("protect() accepted a compressed entry with async");
        } catch (const ckpt::UsageError& e) {
            CHECK_THAT(e.what(), Contains("\"u\"") && Contains("lz4") && Contains("async=1"));
        }
    }
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    try {
        cp.protect("u", u, ckpt::per_rank().compress(Compression::deflate(12)));
        FAIL("protect() accepted deflate level 12");
    } catch (const ckpt::UsageError& e) {
        CHECK_THAT(e.what(), Contains("\"u\"") && Contains("deflate:12") && Contains("1 to 9"));
    }
}
