// The deadline on a checkpoint write (include/ckpt/detail/io_watchdog.hpp): its budget and the
// CKPT_STUCK_SECONDS test knob, its lines, and, in forked children, that it ends a write that
// makes no progress with 74 (recorded for ckpt-run) and never one that does. At 2 ranks under
// injected I/O errors: faults.write_watchdog_ends_ranks_stranded_in_hdf5.np2 (tests/faults).
#include "testing.hpp"

#include <ckpt/detail/io_watchdog.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

using ckpt::ConfigError;
using ckpt::detail::io_budget_seconds;
using ckpt::detail::IoWatchdog;
using ckpt::testing::TempDir;

namespace {

/// How a forked child ended, and what it wrote to stderr.
struct Ended {
    int status = -1;  ///< exit status, or -1 when it did not exit normally
    std::string err;
    double seconds = 0;
};

/// Runs `body` in a child (stdout and stderr into a pipe), which then exits 0 (99 if it threw);
/// waits for it.
template <class Body>
Ended in_child(Body body) {
    int err[2];
    REQUIRE(::pipe(err) == 0);
    std::fflush(nullptr);  // else the child's flush writes what Catch has buffered once more
    const auto started = std::chrono::steady_clock::now();
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::dup2(err[1], 1);
        ::dup2(err[1], 2);
        ::close(err[0]);
        ::close(err[1]);
        alarm(30);  // a watchdog that never fires must not hang the test
        try {
            body();
        } catch (...) {  // never back into Catch in the child
            ::_exit(99);
        }
        ::_exit(0);
    }
    ::close(err[1]);
    Ended e;
    char buf[4096];
    for (ssize_t n; (n = ::read(err[0], buf, sizeof buf)) > 0;) e.err.append(buf, static_cast<std::size_t>(n));
    ::close(err[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (WIFEXITED(status)) e.status = WEXITSTATUS(status);
    return e;
}

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

std::string contents(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("a write's budget is a minute plus the file at 100 MB/s, or CKPT_STUCK_SECONDS", "[unit][watchdog]") {
    CHECK(io_budget_seconds(0, nullptr) == 60);
    CHECK(io_budget_seconds(std::uint64_t{50} * 1000 * 1000 * 1000, nullptr) == 560);  // 50 GB
    CHECK(io_budget_seconds(1000, "") == 60 + 1e-5);                                   // set but empty: unset
    CHECK(io_budget_seconds(1000, "  ") == 60 + 1e-5);
    CHECK(io_budget_seconds(1u << 30, "3") == 3);  // the knob replaces the budget, whatever the size
    CHECK(io_budget_seconds(0, " 0.5 ") == 0.5);
    CHECK(io_budget_seconds(0, "2m") == 120);
    CHECK(io_budget_seconds(0, "00:01:30") == 90);
}

TEST_CASE("a bad CKPT_STUCK_SECONDS is a ConfigError naming it", "[unit][watchdog]") {
    for (const char* bad : {"0", "0.0", "-1", "three", "3x", "1e3", "00:00:00"}) {
        INFO(bad);
        try {
            io_budget_seconds(0, bad);
            FAIL("accepted");
        } catch (const ConfigError& e) {
            CHECK(e.option() == "CKPT_STUCK_SECONDS");
            CHECK(e.value() == bad);
            CHECK(std::string(e.what()).find("CKPT_STUCK_SECONDS") != std::string::npos);
        }
    }
}

TEST_CASE("the watchdog's lines are one line each, naming the rank, the file and the status", "[unit][watchdog]") {
    const std::string stuck = ckpt::detail::stuck_message("the checkpoint write of ck/ckpt.000004.h5.tmp", 1, 3, ckpt::detail::stuck_in_collective());
    CHECK(stuck ==
          "ckpt: rank 1: the checkpoint write of ck/ckpt.000004.h5.tmp made no progress for 3 s (an MPI-IO/HDF5 "
          "collective is stuck, most likely after an I/O error on another rank); ending the job with exit status 74\n");
    ckpt::ErrorInfo info{"H5Fflush failed: MPI_File_sync failed: error stack:\nline two", "ck/x.h5.tmp", "/", -1,
                         "a hint"};
    const std::string failed = ckpt::detail::failed_message(info, 0, 65);
    CHECK(failed ==
          "ckpt: rank 0: H5Fflush failed: MPI_File_sync failed: error stack: line two; the other ranks did not come to "
          "agree on it within 65 s (stuck in a collective HDF5 call this rank left when it failed): ending the job "
          "with exit status 74. [file \"ck/x.h5.tmp\", object \"/\", rank 0] hint: a hint\n");
}

TEST_CASE("a write that makes no progress is ended with 74, recorded for ckpt-run", "[unit][watchdog]") {
    TempDir dir;
    const std::string status_file = dir / "status";
    const Ended e = in_child([&] {
        ::setenv("CKPT_STATUS_FILE", status_file.c_str(), 1);
        std::printf("output before the deadline\n");  // buffered: the watchdog flushes it first
        IoWatchdog watchdog("the checkpoint write of ck/ckpt.000002.h5.tmp", 3, 0.3);
        sleep_s(20);  // "stuck in a collective"
    });
    CHECK(e.status == 74);
    CHECK(e.seconds < 10);
    CHECK(e.err == "output before the deadline\n" + ckpt::detail::stuck_message("the checkpoint write of ck/ckpt.000002.h5.tmp", 3, 0.3, ckpt::detail::stuck_in_collective()));
    CHECK(e.err.find("made no progress for 0.3 s") != std::string::npos);
    CHECK(contents(status_file) == "74\n");
}

TEST_CASE("a rank whose own step failed is ended with that error as its line", "[unit][watchdog]") {
    const Ended e = in_child([] {
        IoWatchdog watchdog("the checkpoint write of ck/ckpt.000002.h5.tmp", 0, 0.3);
        watchdog.failed({"H5Dwrite failed: injected", "ck/ckpt.000002.h5.tmp", "/state/u", -1, {}});
        sleep_s(20);
    });
    CHECK(e.status == 74);
    CHECK(e.err.rfind("ckpt: rank 0: H5Dwrite failed: injected; the other ranks did not come to agree on it "
                      "within 0.3 s",
                      0) == 0);
    CHECK(e.err.find("[file \"ck/ckpt.000002.h5.tmp\", object \"/state/u\", rank 0]") != std::string::npos);
}

TEST_CASE("a write that keeps making progress, or ends in time, is never ended", "[unit][watchdog]") {
    const Ended progressing = in_child([] {
        IoWatchdog watchdog("the checkpoint write of ck/ckpt.000002.h5.tmp", 0, 0.4);
        for (int step = 0; step < 12; ++step) {  // 1.2 s in all, three times the budget
            sleep_s(0.1);
            watchdog.progress();
        }
    });
    CHECK(progressing.status == 0);
    CHECK(progressing.err.empty());

    const Ended in_time = in_child([] {
        { IoWatchdog watchdog("the checkpoint write of ck/ckpt.000002.h5.tmp", 0, 0.3); }
        sleep_s(0.8);  // well past the deadline the watchdog had
    });
    CHECK(in_time.status == 0);
    CHECK(in_time.err.empty());
}
