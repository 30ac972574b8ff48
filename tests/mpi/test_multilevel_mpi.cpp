// Multi-level storage at 1, 2 and 4 ranks (docs/multilevel.md): every checkpoint goes to the
// node caches (one file per rank, a partner's copy on the next simulated node), every flush-th
// one also to the shared directory; a restore takes the newest version complete at some level:
// the caches, the partner copies when a node's cache is gone, else the shared directory.
// The ranks form min(2, size) simulated nodes, so at 4 ranks: ranks 0-1 on node 0, 2-3 on node 1.
#include "testing.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Catch::Contains;
using ckpt::testing::CerrCapture;
using ckpt::testing::TempDir;
using ckpt::testing::world_rank;
using ckpt::testing::world_size;

namespace {

int nodes() { return std::min(2, world_size()); }
int node_of(int rank) { return rank * nodes() / world_size(); }

/// The jobs' directories: the shared one and the cache root, with one directory per node.
struct Dirs {
    explicit Dirs(const TempDir& t) : shared(t / "shared"), cache(t / "cache") {}
    std::string node(int k) const { return cache + "/node" + std::to_string(k); }
    std::string part(int k, std::uint64_t seq, int rank) const {
        return ckpt::detail::join_path(node(k), ckpt::detail::cached_part_name("ckpt", seq, rank));
    }
    std::string shared, cache;
};

ckpt::Options options(const Dirs& d, ckpt::RestartKind restart = ckpt::RestartKind::None, unsigned flush = 2) {
    ckpt::Options o;
    o.dir = d.shared;
    o.cache = d.cache;
    o.flush = flush;
    o.depth = 2;
    o.simulated_nodes = static_cast<unsigned>(nodes());
    o.restart.kind = restart;
    if (const char* async = std::getenv("CKPT_TEST_ASYNC")) o.async = static_cast<unsigned>(std::atoi(async));
    return o;
}

/// The state of version `v` on this rank: a per-rank vector, a replicated step, a block of a
/// global array in a view with a ghost element on each side.
struct State {
    std::vector<double> mine;
    std::int64_t step = 0;
    std::vector<double> u;  // 1 ghost + 4 owned + 1 ghost

    static State of(int v) {
        State s;
        s.set(v);
        return s;
    }
    /// In place: `u` is protected through a view of its buffer, which must stay where it is.
    void set(int v) {
        const int r = world_rank();
        mine.clear();
        for (int i = 0; i < 1000; ++i) mine.push_back(1000.0 * v + r + i / 1024.0);
        step = 10 * v;
        u.assign(6, -1.0);
        for (int i = 0; i < 4; ++i) u[1 + i] = 100.0 * v + 4 * r + i;
    }
    void protect(ckpt::Checkpointer& cp) {
        const auto r = static_cast<std::uint64_t>(world_rank()), n = static_cast<std::uint64_t>(world_size());
        cp.protect("mine", mine).protect("step", step, ckpt::replicated());
        cp.protect("u", ckpt::ArrayView<double>(u.data(), {6}), ckpt::block({4 * n}, {4 * r}, {4}).ghosts({1}));
    }
    bool operator==(const State& o) const {
        return mine == o.mine && step == o.step && std::equal(u.begin() + 1, u.end() - 1, o.u.begin() + 1);
    }
};

/// Writes versions 1 .. n (a checkpoint() each) and waits for their rotation.
void write_versions(const Dirs& d, int n, unsigned flush = 2) {
    State s = State::of(1);
    ckpt::Checkpointer cp(options(d, ckpt::RestartKind::None, flush), MPI_COMM_WORLD);
    s.protect(cp);
    for (int v = 1; v <= n; ++v) {
        s.set(v);
        const std::string path = cp.checkpoint();
        const bool shared = flush > 0 && v % static_cast<int>(flush) == 0;
        CHECK(path == (shared ? ckpt::testing::version_path(d.shared, static_cast<std::uint64_t>(v))
                              : d.part(node_of(world_rank()), static_cast<std::uint64_t>(v), world_rank())));
    }
    cp.sync();
    MPI_Barrier(MPI_COMM_WORLD);
}

/// Restores --restart latest into a fresh state; returns it, and the checkpointer's sequence.
State restore_latest(const Dirs& d, std::uint64_t& seq, std::string& path) {
    State s = State::of(0);
    ckpt::Checkpointer cp(options(d, ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    s.protect(cp);
    REQUIRE(cp.restore_if_requested());
    seq = cp.sequence();
    path = cp.last_path();
    return s;
}

std::string slurp(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Flips a bit of the first stored copy of `value` (found by its bit pattern) in `file`.
void flip_value(const std::string& file, double value) {
    const std::string bytes = slurp(file);
    const std::string pattern(reinterpret_cast<const char*>(&value), sizeof value);
    const auto at = bytes.find(pattern);
    REQUIRE(at != std::string::npos);
    std::fstream out(file, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(at));
    out.put(static_cast<char>(bytes[at] ^ 0x01));
}

/// Rank 0 removes `path` (a node's cache, or one file); then every rank goes on.
void remove_on_rank0(const std::string& path) {
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) fs::remove_all(path);
    MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace

TEST_CASE("every checkpoint goes to the node caches with partner copies, every flush-th to the shared directory; "
          "rotation keeps depth versions in each",
          "[mpi][multilevel]") {
    TempDir t(MPI_COMM_WORLD);
    const Dirs d(t);
    write_versions(d, 5);
    const int size = world_size();
    // The shared directory: versions 2 and 4 (flush=2), both kept (depth=2).
    const auto shared = ckpt::detail::committed_versions(d.shared, "ckpt");
    REQUIRE(shared.size() == 2);
    CHECK(shared[0].sequence == 2);
    CHECK(shared[1].sequence == 4);
    // Each node's cache: versions 4 and 5 (depth=2); with two nodes every rank's part in each
    // (its own ranks', and the other node's as partner copies), with one node its own.
    for (int k = 0; k < nodes(); ++k) {
        const auto parts = ckpt::detail::list_cached_parts(d.node(k), "ckpt");
        std::vector<std::uint64_t> seqs;
        for (const auto& p : parts) {
            CHECK(p.version.committed());
            seqs.push_back(p.version.sequence);
        }
        const auto per_version = static_cast<std::size_t>(size);
        CHECK(parts.size() == 2 * per_version);
        CHECK(std::count(seqs.begin(), seqs.end(), 4u) == static_cast<long>(per_version));
        CHECK(std::count(seqs.begin(), seqs.end(), 5u) == static_cast<long>(per_version));
    }
    if (nodes() == 2)  // rank 0's partner copy lives on node 1, beside node 1's own parts
        CHECK(fs::exists(d.part(1, 5, 0)));
}

TEST_CASE("a restore takes the newest version from the node caches", "[mpi][multilevel]") {
    TempDir t(MPI_COMM_WORLD);
    const Dirs d(t);
    write_versions(d, 3);
    std::uint64_t seq = 0;
    std::string path;
    CerrCapture err;
    const State back = restore_latest(d, seq, path);
    CHECK(seq == 3);
    CHECK(back == State::of(3));
    CHECK(path == d.part(node_of(world_rank()), 3, world_rank()));
    if (world_rank() == 0) {
        CHECK_THAT(err.text(), Contains("restored version 3 from the node caches"));
        CHECK_THAT(err.text(), !Contains("from partner copies"));
    }
}

TEST_CASE("with one node's cache gone, the restore takes its parts from the partner copies and puts them back",
          "[mpi][multilevel]") {
    TempDir t(MPI_COMM_WORLD);
    const Dirs d(t);
    write_versions(d, 3);
    remove_on_rank0(d.node(0));
    std::uint64_t seq = 0;
    std::string path;
    CerrCapture err;
    const State back = restore_latest(d, seq, path);
    if (nodes() == 2) {
        // Version 3 is in no shared file: it can only have come from the partner copies.
        CHECK(seq == 3);
        CHECK(back == State::of(3));
        if (world_rank() == 0)
            CHECK_THAT(err.text(), Contains("restored version 3 from the node caches (" +
                                            std::to_string(world_size() / 2) + " of " + std::to_string(world_size()) +
                                            " parts from partner copies)"));
        // The fetched parts are back in node 0's cache.
        if (node_of(world_rank()) == 0) CHECK(fs::exists(d.part(0, 3, world_rank())));
    } else {
        // One node: no partner, so the newest version in the shared directory.
        CHECK(seq == 2);
        CHECK(back == State::of(2));
        CHECK(path == ckpt::testing::version_path(d.shared, 2));
    }
}

TEST_CASE("with every cache gone, the restore takes the newest version in the shared directory", "[mpi][multilevel]") {
    TempDir t(MPI_COMM_WORLD);
    const Dirs d(t);
    write_versions(d, 3);
    remove_on_rank0(d.cache);
    std::uint64_t seq = 0;
    std::string path;
    const State back = restore_latest(d, seq, path);
    CHECK(seq == 2);
    CHECK(back == State::of(2));
    CHECK(path == ckpt::testing::version_path(d.shared, 2));
}

TEST_CASE("a version missing one rank's part in every cache is not complete: the newest complete one is restored",
          "[mpi][multilevel]") {
    TempDir t(MPI_COMM_WORLD);
    const Dirs d(t);
    write_versions(d, 3);
    const int last = world_size() - 1;
    for (int k = 0; k < nodes(); ++k) remove_on_rank0(d.part(k, 3, last));  // its own and its partner copy
    std::uint64_t seq = 0;
    std::string path;
    const State back = restore_latest(d, seq, path);
    // Version 2 is both cached and shared: the cache is read first.
    CHECK(seq == 2);
    CHECK(back == State::of(2));
    CHECK(path == d.part(node_of(world_rank()), 2, world_rank()));
}

TEST_CASE("a corrupt cached part fails its checksum: the restore replaces it by its partner copy, or skips the version",
          "[mpi][multilevel]") {
    TempDir t(MPI_COMM_WORLD);
    const Dirs d(t);
    write_versions(d, 3);
    // One copy corrupt, or cut short (not an HDF5 file any more); both corrupt; or node 0's own
    // part gone and the copy fetched for it corrupt.
    enum Case { own, truncated, both, fetched } const what = GENERATE(own, truncated, both, fetched);
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) {
        if (what == fetched && nodes() == 2)
            fs::remove(d.part(0, 3, 0));
        else if (what == truncated)
            fs::resize_file(d.part(0, 3, 0), 100);
        else
            flip_value(d.part(0, 3, 0), State::of(3).mine[500]);
        if ((what == both || what == fetched) && nodes() == 2) flip_value(d.part(1, 3, 0), State::of(3).mine[500]);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    std::uint64_t seq = 0;
    std::string path;
    CerrCapture err;
    const State back = restore_latest(d, seq, path);
    if (nodes() == 2 && (what == own || what == truncated)) {
        CHECK(seq == 3);
        CHECK(back == State::of(3));
        if (world_rank() == 0) {
            CHECK_THAT(err.text(), Contains("rank 0: its cached part " + d.part(0, 3, 0) + " fails (" +
                                            (what == own ? "checksum mismatch" : "cannot open checkpoint")) &&
                                       Contains("taking its copy from another node"));
            CHECK_THAT(err.text(), Contains("restored version 3 from the node caches (1 corrupt part replaced by partner "
                                            "copies)"));
            CHECK(slurp(d.part(0, 3, 0)) == slurp(d.part(1, 3, 0)));  // the good copy is back in node 0's cache
        }
    } else {
        // No good copy (one node has no partner; a fetched part has no other): the version is
        // skipped, as any corrupt one.
        CHECK(seq == 2);
        CHECK(back == State::of(2));
        if (world_rank() == 0) CHECK_THAT(err.text(), Contains("skipping " + d.cache + " (version 3 in the node caches)"));
    }
}

TEST_CASE("flush=0: only the node caches, and --restart latest still finds the newest version", "[mpi][multilevel]") {
    TempDir t(MPI_COMM_WORLD);
    const Dirs d(t);
    write_versions(d, 2, 0);
    CHECK(ckpt::detail::list_versions(d.shared, "ckpt").empty());
    std::uint64_t seq = 0;
    std::string path;
    const State back = restore_latest(d, seq, path);
    CHECK(seq == 2);
    CHECK(back == State::of(2));
}

TEST_CASE("a cache that cannot be made is an IoError on every rank naming it; the shared versions are untouched",
          "[mpi][multilevel]") {
    TempDir t(MPI_COMM_WORLD);
    Dirs d(t);
    write_versions(d, 2);  // version 2 in the shared directory
    const std::string before = ckpt::testing::version_path(d.shared, 2);
    const auto size_before = fs::file_size(before);
    remove_on_rank0(d.cache);
    if (world_rank() == 0) std::ofstream(d.cache) << "a file where the cache should be";
    MPI_Barrier(MPI_COMM_WORLD);
    State s = State::of(9);
    ckpt::Checkpointer cp(options(d), MPI_COMM_WORLD);
    s.protect(cp);
    try {
        cp.checkpoint();
        FAIL("no error");
    } catch (const ckpt::IoError& e) {
        CHECK_THAT(e.what(), Contains(d.cache));
    }
    CHECK(fs::file_size(before) == size_before);
    CHECK(ckpt::detail::committed_versions(d.shared, "ckpt").size() == 1);
    CHECK(ckpt::detail::list_versions(d.shared, "ckpt").size() == 1);
}
