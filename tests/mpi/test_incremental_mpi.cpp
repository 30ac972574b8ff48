// Incremental versions at 1, 2 and 4 ranks (docs/incremental.md): a leaf unchanged on every rank
// since the version before is an external link to the file that stores it, every version
// restores bit for bit through its links, a full version comes every K; rotation keeps every
// version a kept one refers to; a referenced file that is missing, replaced or corrupt fails the
// version that refers to it, which latest quarantines before falling back.
#include "testing.hpp"

#include <hdf5.h>
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Catch::Contains;
using ckpt::testing::CerrCapture;
using ckpt::testing::files_in;
using ckpt::testing::options_in;
using ckpt::testing::TempDir;
using ckpt::testing::version_path;
using ckpt::testing::on_every_rank;
using ckpt::testing::world_rank;
using ckpt::testing::world_size;

namespace {

constexpr std::uint64_t columns = 64, rows_per_rank = 40;

/// A simulation's state: a static mesh and coefficients (every kind of entry), and fields that
/// change with `version`. `mesh_version` is the version the mesh was last changed at.
struct State {
    std::vector<double> mesh;                  // per-rank, static
    std::vector<std::int32_t> cells;           // concatenated, static, uneven
    std::vector<double> coeff;                 // block, static
    std::map<std::string, int> table;          // Boost, static
    std::vector<double> field;                 // per-rank, changes
    std::vector<double> grid;                  // block with ghosts, changes
    std::int64_t step = 0;                     // replicated, changes

    void fill(int version, int mesh_version, int rank) {
        mesh.resize(20000);
        for (std::size_t i = 0; i < mesh.size(); ++i) mesh[i] = 0.01 * static_cast<double>(i) + rank + 1e3 * mesh_version;
        cells.resize(static_cast<std::size_t>(rank + 1) * 300);
        for (std::size_t i = 0; i < cells.size(); ++i) cells[i] = static_cast<std::int32_t>(i * 7 + rank);
        coeff.assign(rows_per_rank * columns, 0.5 + rank);
        table = {{"rank", rank}, {"mesh", mesh_version}};
        field.resize(5000);
        for (std::size_t i = 0; i < field.size(); ++i) field[i] = std::sin(0.001 * static_cast<double>(i) * version) + rank;
        grid.assign((rows_per_rank + 2) * columns, -1.0);  // ghosts stay -1
        for (std::uint64_t i = 0; i < rows_per_rank; ++i)
            for (std::uint64_t j = 0; j < columns; ++j) grid[(i + 1) * columns + j] = version * 100.0 + static_cast<double>(i * columns + j);
        step = version * 10;
    }
    void clear() {
        mesh.clear(), cells.clear(), table.clear(), field.clear();
        for (auto& x : coeff) x = 0;
        for (auto& x : grid) x = -1;
        step = -1;
    }
    void protect(ckpt::Checkpointer& cp) {
        const std::uint64_t rank = static_cast<std::uint64_t>(world_rank()), size = static_cast<std::uint64_t>(world_size());
        cp.protect("mesh", mesh)
            .protect("cells", cells, ckpt::concatenated())
            .protect("coeff", ckpt::ArrayView<double>(coeff.data(), {rows_per_rank, columns}),
                     ckpt::block({rows_per_rank * size, columns}, {rows_per_rank * rank, std::uint64_t{0}}, {rows_per_rank, columns}))
            .protect("table", table)
            .protect("field", field)
            .protect("grid", ckpt::ArrayView<double>(grid.data(), {rows_per_rank + 2, columns}),
                     ckpt::block({rows_per_rank * size, columns}, {rows_per_rank * rank, std::uint64_t{0}}, {rows_per_rank, columns})
                         .ghosts({1, 0}))
            .protect("step", step, ckpt::replicated());
    }
};

bool same(const State& a, const State& b) {
    return a.mesh == b.mesh && a.cells == b.cells && a.coeff == b.coeff && a.table == b.table && a.field == b.field &&
           a.grid == b.grid && a.step == b.step;
}
ckpt::Options incremental_in(const std::string& dir, unsigned k, unsigned depth) {
    ckpt::Options o = options_in(dir, ckpt::RestartKind::None, depth);
    o.incremental = k;
    return o;
}

/// The file an object of `file` is an external link to, or "" (read serially, as h5py would).
std::string link_target(const std::string& file, const std::string& object) {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    H5L_info_t info;
    REQUIRE(H5Lget_info(f, object.c_str(), &info, H5P_DEFAULT) >= 0);
    std::string target;
    if (info.type == H5L_TYPE_EXTERNAL) {
        std::vector<char> value(info.u.val_size);
        REQUIRE(H5Lget_val(f, object.c_str(), value.data(), value.size(), H5P_DEFAULT) >= 0);
        const char *name = nullptr, *obj = nullptr;
        unsigned flags = 0;
        REQUIRE(H5Lunpack_elink_val(value.data(), value.size(), &flags, &name, &obj) >= 0);
        target = name;
        CHECK(std::string(obj) == object);
    }
    H5Fclose(f);
    return target;
}

/// Overwrites 16 bytes in the middle of a contiguous dataset of `file` with 0x5a.
void corrupt(const std::string& file, const std::string& object) {
    haddr_t at = 0;
    hsize_t size = 0;
    {
        const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        const hid_t d = H5Dopen2(f, object.c_str(), H5P_DEFAULT);
        at = H5Dget_offset(d);
        size = H5Dget_storage_size(d);
        H5Dclose(d);
        H5Fclose(f);
    }
    REQUIRE(at != HADDR_UNDEF);
    REQUIRE(size > 64);
    std::FILE* out = std::fopen(file.c_str(), "r+b");
    REQUIRE(out != nullptr);
    std::fseek(out, static_cast<long>(at + size / 2), SEEK_SET);
    const std::vector<unsigned char> junk(16, 0x5a);
    std::fwrite(junk.data(), 1, junk.size(), out);
    std::fclose(out);
}

/// Restores `path` into a cleared state of the same shapes.
State restored_from(const std::string& path) {
    State back;
    back.fill(0, 0, world_rank());
    back.clear();
    ckpt::Options o = options_in(fs::path(path).parent_path().string());
    o.restart.kind = ckpt::RestartKind::Path;
    o.restart.target = path;
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    back.protect(cp);
    const bool restored = cp.restore_if_requested();  // a failure throws out of here, to the caller
    REQUIRE(restored);
    return back;
}

}  // namespace

TEST_CASE("unchanged leaves link to the file that stores them, a full version comes every K, and every version "
          "restores bit for bit", "[mpi][incremental]") {
    TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank();
    // The mesh changes at version 3, on rank 0 only: changed on one rank is changed.
    auto mesh_at = [](int version) { return version >= 3 ? 3 : 0; };
    State s;
    std::vector<std::string> paths;
    {
        ckpt::Checkpointer cp(incremental_in(dir.path(), 3, 0), MPI_COMM_WORLD);
        s.fill(1, 0, rank);
        s.protect(cp);
        for (int v = 1; v <= 5; ++v) {
            s.fill(v, rank == 0 ? mesh_at(v) : 0, rank);
            paths.push_back(cp.checkpoint());
        }
    }
    for (int v = 1; v <= 5; ++v) {
        INFO("version " << v);
        State expected;
        expected.fill(v, rank == 0 ? mesh_at(v) : 0, rank);
        CHECK(on_every_rank(same(restored_from(paths[static_cast<std::size_t>(v - 1)]), expected)));
    }
    if (rank == 0) {
        const auto name = [](int v) { return ckpt::detail::version_file_name("ckpt", static_cast<std::uint64_t>(v)); };
        // Versions 1 and 4 are full (K = 3): nothing linked.
        for (int v : {1, 4})
            for (const char* e : {"mesh", "cells", "coeff", "table", "field", "grid", "step"}) {
                INFO("version " << v << " entry " << e);
                CHECK(link_target(paths[static_cast<std::size_t>(v - 1)], std::string("/state/") + e).empty());
            }
        // Version 2: the static entries link to version 1, data and layout alike; the fields are written.
        for (const char* e : {"mesh", "cells", "coeff", "table"}) {
            INFO(e);
            CHECK(link_target(paths[1], std::string("/state/") + e) == name(1));
            CHECK(link_target(paths[1], std::string("/layout/") + e) == name(1));
        }
        for (const char* e : {"field", "grid", "step"}) CHECK(link_target(paths[1], std::string("/state/") + e).empty());
        // Version 3: the mesh changed (on rank 0): written; the rest of the static state still in 1.
        CHECK(link_target(paths[2], "/state/mesh").empty());
        CHECK(link_target(paths[2], "/state/cells") == name(1));
        // Version 5 refers to version 4 only: no chain back past a full version.
        CHECK(link_target(paths[4], "/state/mesh") == name(4));
        CHECK(link_target(paths[4], "/state/table") == name(4));
        CHECK(fs::file_size(paths[1]) < fs::file_size(paths[0]));
    }
}

TEST_CASE("rotation keeps every version a kept one refers to, and no other", "[mpi][incremental]") {
    // The fields change in version 2. With `fields_settle` they stay as they are from then on:
    // version 3 stores them again (they changed in the version before, so they are written at
    // once), and version 4 links them to 3. Otherwise they change in every version.
    for (const bool fields_settle : {true, false}) {
        INFO("fields unchanged after version 2: " << fields_settle);
        TempDir dir(MPI_COMM_WORLD);
        const int rank = world_rank();
        State s;
        {
            ckpt::Checkpointer cp(incremental_in(dir.path(), 5, 1), MPI_COMM_WORLD);
            s.fill(1, 0, rank);  // sizes the arrays that protect() views
            s.protect(cp);
            for (int version = 1; version <= 4; ++version) {
                s.fill(fields_settle ? std::min(version, 2) : version, 0, rank);
                s.step = version * 10;  // something changes in every version
                cp.checkpoint();
            }
        }
        if (rank == 0) {
            const std::set<std::string> files = files_in(dir.path());
            // Version 4's static entries are in 1; its fields in 3 if they settled, else in 4.
            CHECK(files.count("ckpt.000001.h5") == 1);
            CHECK(files.count("ckpt.000002.h5") == 0);
            CHECK(files.count("ckpt.000003.h5") == (fields_settle ? 1u : 0u));
            CHECK(files.count("ckpt.000004.h5") == 1);
            CHECK(link_target(version_path(dir.path(), 4), "/state/mesh") == "ckpt.000001.h5");
            CHECK(link_target(version_path(dir.path(), 4), "/state/field") == (fields_settle ? "ckpt.000003.h5" : ""));
            if (fields_settle) CHECK(link_target(version_path(dir.path(), 3), "/state/field").empty());  // stored again
        }
        State expected;
        expected.fill(fields_settle ? 2 : 4, 0, rank);
        expected.step = 40;
        CHECK(on_every_rank(same(restored_from(version_path(dir.path(), 4)), expected)));
    }
}

TEST_CASE("a referenced file that is missing or another version's fails the version that refers to it, naming it",
          "[mpi][incremental]") {
    TempDir dir(MPI_COMM_WORLD), other(MPI_COMM_WORLD);
    const int rank = world_rank();
    State s;
    for (const std::string& d : {dir.path(), other.path()}) {
        ckpt::Checkpointer cp(incremental_in(d, 3, 0), MPI_COMM_WORLD);
        s.fill(1, 0, rank);
        s.protect(cp);
        cp.checkpoint();
        s.fill(2, 0, rank);
        cp.checkpoint();
    }
    const std::string v1 = version_path(dir.path(), 1), v2 = version_path(dir.path(), 2);
    // Another run's version 1, with the same entries, in its place: refused by its version id.
    if (rank == 0) fs::copy_file(version_path(other.path(), 1), v1, fs::copy_options::overwrite_existing);
    MPI_Barrier(MPI_COMM_WORLD);
    try {
        restored_from(v2);
        FAIL("restored through a link to another run's file");
    } catch (const ckpt::FormatError& e) {
        CHECK_THAT(e.what(), Contains("ckpt.000001.h5") && Contains("another version") && Contains(v2));
    }
    if (rank == 0) fs::remove(v1);
    MPI_Barrier(MPI_COMM_WORLD);
    try {
        restored_from(v2);
        FAIL("restored through a link to a missing file");
    } catch (const ckpt::FormatError& e) {
        CHECK_THAT(e.what(), Contains("ckpt.000001.h5") && Contains("cannot be opened") && Contains("\"mesh\""));
    }
}

TEST_CASE("corrupt data in a referenced file fails every version that reads it; latest quarantines them and falls back",
          "[mpi][incremental]") {
    TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank();
    State s;
    {
        // K = 2: 1 full, 2 -> 1, 3 full, 4 -> 3.
        ckpt::Checkpointer cp(incremental_in(dir.path(), 2, 0), MPI_COMM_WORLD);
        s.fill(1, 0, rank);
        s.protect(cp);
        for (int v = 1; v <= 4; ++v) {
            s.fill(v, 0, rank);
            cp.checkpoint();
        }
    }
    if (rank == 0) corrupt(version_path(dir.path(), 3), "/state/mesh");
    MPI_Barrier(MPI_COMM_WORLD);
    State back, expected;
    expected.fill(2, 0, rank);
    back.fill(0, 0, rank);
    back.clear();
    CerrCapture err;
    {
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
        back.protect(cp);
        REQUIRE(cp.restore_if_requested());
    }
    CHECK(on_every_rank(same(back, expected)));
    if (rank == 0) {
        CHECK_THAT(err.text(), Contains("skipping " + version_path(dir.path(), 4)) && Contains("mesh"));
        CHECK(fs::exists(version_path(dir.path(), 4) + ".bad"));
        CHECK(fs::exists(version_path(dir.path(), 3) + ".bad"));
    }
}

TEST_CASE("the first version after a restore is full", "[mpi][incremental]") {
    TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank();
    State s;
    {
        ckpt::Checkpointer cp(incremental_in(dir.path(), 4, 0), MPI_COMM_WORLD);
        s.fill(1, 0, rank);
        s.protect(cp);
        cp.checkpoint();
    }
    std::string path;
    {
        ckpt::Options o = incremental_in(dir.path(), 4, 0);
        o.restart.kind = ckpt::RestartKind::Latest;
        ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
        s.protect(cp);
        REQUIRE(cp.restore_if_requested());
        path = cp.checkpoint();
        s.step = 99;
        const std::string next = cp.checkpoint();
        if (rank == 0) {
            CHECK(link_target(path, "/state/mesh").empty());
            CHECK(link_target(next, "/state/mesh") == ckpt::detail::version_file_name("ckpt", 2));
        }
    }
}
