#pragma once
// ckpt::testing: helpers shared by the test programs.

#include <ckpt.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <random>
#include <set>
#include <string>

namespace ckpt::testing {

/// A fresh directory under $TMPDIR, removed on success; kept (and printed) if the test failed.
/// In MPI tests rank 0 makes it and every rank gets the same path.
class TempDir {
public:
    explicit TempDir(MPI_Comm comm = MPI_COMM_SELF) {
        ckpt::detail::mpi::ensure_initialized();  // serial tests meet MPI here first
        int rank = 0;
        MPI_Comm_rank(comm, &rank);
        std::string path;
        if (rank == 0) {
            const char* base = std::getenv("TMPDIR");
            std::string templ = std::string(base && *base ? base : "/tmp") + "/ckpt-test.XXXXXX";
            if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
            path = templ;
        }
        unsigned long n = path.size();
        MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG, 0, comm);
        path.resize(n);
        MPI_Bcast(path.data(), static_cast<int>(n), MPI_CHAR, 0, comm);
        path_ = path;
        owner_ = rank == 0;
        comm_ = comm;
    }
    ~TempDir() {
        // Every rank, passing or failing (a failed REQUIRE unwinds through here), meets the others
        // before rank 0 deletes: else rank 0 could remove files another rank is still reading.
        // Non-blocking with a cap, so one stuck rank cannot hang the suite; then the dir is kept.
        MPI_Request done;
        MPI_Ibarrier(comm_, &done);
        int arrived = 0;
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!arrived && std::chrono::steady_clock::now() < give_up) {
            MPI_Test(&done, &arrived, MPI_STATUS_IGNORE);
            if (!arrived) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (!owner_) return;
        if (!arrived) {
            std::cerr << "ckpt test: other ranks did not finish; keeping " << path_ << "\n";
            return;
        }
        if (std::uncaught_exceptions() == 0 && !failed()) {
            std::error_code ec;
            std::filesystem::remove_all(path_, ec);
        } else {
            std::cerr << "ckpt test: keeping " << path_ << " for inspection\n";
        }
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const noexcept { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    // A REQUIRE that fails throws (uncaught_exceptions); a failed CHECK leaves this false.
    static bool failed() { return !Catch::getResultCapture().lastAssertionPassed(); }
    std::string path_;
    bool owner_ = false;
    MPI_Comm comm_ = MPI_COMM_SELF;
};

/// Options for a checkpointer writing into `dir`, independent of the process environment, except
/// for CKPT_TEST_ASYNC=N: the MPI suites run a second time with asynchronous checkpoints.
inline Options options_in(const std::string& dir, RestartKind restart = RestartKind::None, unsigned depth = 2) {
    Options o;
    o.dir = dir;
    o.depth = depth;
    o.restart.kind = restart;
    if (const char* async = std::getenv("CKPT_TEST_ASYNC")) o.async = static_cast<unsigned>(std::atoi(async));
    return o;
}

/// This process's rank and the job's size in MPI_COMM_WORLD (MPI tests).
inline int world_rank() {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}
inline int world_size() {
    int s = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
}

/// Whether `flag` holds on every rank of MPI_COMM_WORLD (collective): one rank's failed check
/// fails the test on all of them.
inline bool on_every_rank(bool flag) {
    int mine = flag ? 1 : 0, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all == 1;
}

/// Captures std::cerr (where ckpt prints its warnings, on rank 0) for the lifetime of the object.
class CerrCapture {
public:
    CerrCapture() : old_(std::cerr.rdbuf(buffer_.rdbuf())) {}
    ~CerrCapture() { std::cerr.rdbuf(old_); }
    CerrCapture(const CerrCapture&) = delete;
    CerrCapture& operator=(const CerrCapture&) = delete;
    std::string text() const { return buffer_.str(); }

private:
    std::ostringstream buffer_;
    std::streambuf* old_;
};

/// The names in `dir`, but for the control directory `.ckpt` (the running job's lock, pid files).
inline std::set<std::string> files_in(const std::string& dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().filename() != ".ckpt") out.insert(it->path().filename().string());
    return out;
}

/// The path of version `seq` of the default name in `dir`.
inline std::string version_path(const std::string& dir, std::uint64_t seq) {
    return ckpt::detail::join_path(dir, ckpt::detail::version_file_name("ckpt", seq));
}

/// A deterministic generator for test values.
inline std::mt19937_64 generator(std::uint64_t seed) { return std::mt19937_64(seed); }

}  // namespace ckpt::testing
