// Whichever rank gets the signal (or asks in code), every rank acts at the same poll() call.
#include "testing.hpp"

#include "control_client.hpp"  // tools/: requests and answers, as `ckpt request` sends them

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>
#include <cstdint>
#include <vector>

using ckpt::testing::world_rank;
using ckpt::testing::world_size;

namespace {

/// A step that takes 1 ms, so an agreement round spans about 50 polls (it is sized in time).
bool timed_poll(ckpt::Checkpointer& cp, std::int64_t& step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return cp.poll(++step);
}

/// Polls until it writes or `done()` (at most 5000 steps); returns that step, or -1.
template <class Done>
std::int64_t poll_until(ckpt::Checkpointer& cp, std::int64_t& step, Done done) {
    for (int i = 0; i < 5000; ++i)
        if (timed_poll(cp, step) || done()) return step;
    return -1;
}

/// Every rank's value, gathered.
std::vector<std::int64_t> everyones(std::int64_t mine) {
    std::vector<std::int64_t> all(static_cast<std::size_t>(world_size()));
    MPI_Allgather(&mine, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, MPI_COMM_WORLD);
    return all;
}
}  // namespace

TEST_CASE("a checkpoint signal on the last rank only is acted on by every rank at the same step", "[mpi][signals]") {
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    std::int64_t step = 0;
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("step", step);
    for (int i = 0; i < 10; ++i) REQUIRE_FALSE(timed_poll(cp, step));
    if (world_rank() == world_size() - 1) std::raise(SIGUSR1);
    const std::int64_t at = poll_until(cp, step, [] { return false; });
    REQUIRE(at > 10);
    const auto all = everyones(at);
    CHECK(std::all_of(all.begin(), all.end(), [&](std::int64_t s) { return s == all[0]; }));
    CHECK(cp.sequence() == 1);
    CHECK_FALSE(cp.should_exit());
}

TEST_CASE("one checkpoint signal that reaches the ranks at different times gives one checkpoint",
          "[mpi][signals]") {
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    std::int64_t step = 0;
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("step", step);
    // The launcher's copy reaches rank 0 first, the others half a round later (maybe in the
    // next round) or only after the checkpoint: still one delivery, one checkpoint.
    if (world_rank() == 0) std::raise(SIGUSR1);
    for (int i = 0; i < 25; ++i) timed_poll(cp, step);
    if (world_rank() % 2 == 1) std::raise(SIGUSR1);
    const std::int64_t at = poll_until(cp, step, [&] { return cp.sequence() > 0; });
    REQUIRE(at > 0);
    if (world_rank() > 0 && world_rank() % 2 == 0) std::raise(SIGUSR1);
    for (int i = 0; i < 300; ++i) REQUIRE_FALSE(timed_poll(cp, step));  // several rounds
    CHECK(cp.sequence() == 1);

    // A second delivery, to every rank, is a second checkpoint.
    std::raise(SIGUSR1);
    REQUIRE(poll_until(cp, step, [] { return false; }) > 0);
    CHECK(cp.sequence() == 2);
}

TEST_CASE("request_checkpoint(Exit) on one rank makes every rank leave with 85 after one checkpoint",
          "[mpi][signals]") {
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    std::int64_t step = 0;
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("step", step).exit_policy(ckpt::ExitPolicy::Return);
    if (world_rank() == 0 && world_size() > 1) {
        // rank 0 stays quiet; the last rank asks
    } else if (world_rank() == world_size() - 1) {
        cp.request_checkpoint(ckpt::Action::Exit);
    }
    const std::int64_t at = poll_until(cp, step, [&] { return cp.should_exit(); });
    REQUIRE(at > 0);
    const auto all = everyones(at);
    CHECK(std::all_of(all.begin(), all.end(), [&](std::int64_t s) { return s == all[0]; }));
    CHECK(cp.should_exit());
    CHECK(cp.exit_status() == 85);
    CHECK(cp.sequence() == 1);
}

TEST_CASE("a termination signal on one rank without shutdown: every rank leaves with 143, nothing written",
          "[mpi][signals]") {
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    std::int64_t step = 0;
    auto o = ckpt::testing::options_in(dir.path());
    o.mode.shutdown = false;
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    cp.protect("step", step).exit_policy(ckpt::ExitPolicy::Return);
    if (world_rank() == world_size() - 1) std::raise(SIGTERM);
    const std::int64_t at = poll_until(cp, step, [&] { return cp.should_exit(); });
    REQUIRE(at > 0);
    const auto all = everyones(at);
    CHECK(std::all_of(all.begin(), all.end(), [&](std::int64_t s) { return s == all[0]; }));
    CHECK(cp.exit_status() == 128 + SIGTERM);
    CHECK(cp.sequence() == 0);
    CHECK(ckpt::detail::committed_versions(dir.path(), "ckpt").empty());
}

TEST_CASE("a CriticalSection defers an agreed checkpoint on every rank to the same poll after it",
          "[mpi][signals]") {
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    std::int64_t step = 0;
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("step", step);
    if (world_rank() == 0) cp.request_checkpoint();
    {
        ckpt::CriticalSection section(cp);
        for (int i = 0; i < 300; ++i) REQUIRE_FALSE(timed_poll(cp, step));  // several rounds: agreed by now
    }
    const std::int64_t after = step;
    REQUIRE(cp.poll(++step));  // the deferred decision, at the first poll after the section
    CHECK(cp.sequence() == 1);
    const auto all = everyones(step);
    CHECK(std::all_of(all.begin(), all.end(), [&](std::int64_t s) { return s == after + 1; }));
}

TEST_CASE("a requested checkpoint that fails writes nothing more, and the next request is answered",
          "[mpi][signals][control]") {
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    std::int64_t step = 0;
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("step", step).exit_policy(ckpt::ExitPolicy::Return);
    const std::string control = ckpt::detail::control::directory(dir.path());
    for (int i = 0; i < 10; ++i) REQUIRE_FALSE(timed_poll(cp, step));  // pid file, control directory
    MPI_Barrier(MPI_COMM_WORLD);
    namespace ctl = ckpt::detail::control;
    auto ask = [&](const std::string& id, const std::string& to) {
        if (world_rank() == 0) {
            ctl::Request r;
            r.id = id;
            r.dir = to;
            ctl::write_request(control, r);
        }
        cp.request_checkpoint();  // on every rank: the hook's signal reaches them all
    };
    if (world_rank() == 0) { std::ofstream(dir / "plain-file") << "x"; }
    ask("hold.1", dir / "plain-file/sub");  // cannot be a directory: the write fails
    for (int i = 0; i < 400; ++i) REQUIRE_FALSE(timed_poll(cp, step));  // several rounds
    CHECK(cp.sequence() == 0);  // no second, unrequested attempt wrote anything
    CHECK(ckpt::detail::committed_versions(dir.path(), "ckpt").empty());
    if (world_rank() == 0) {
        auto failed = ctl::read_answer(control, "hold.1");
        REQUIRE(failed);
        CHECK_FALSE(failed->ok);
    }
    // The next request is claimed and answered, not swallowed by a stale round.
    ask("hold.2", dir / "second");
    REQUIRE(poll_until(cp, step, [] { return false; }) > 0);
    CHECK(cp.sequence() == 1);
    for (int i = 0; i < 300; ++i) REQUIRE_FALSE(timed_poll(cp, step));
    CHECK(cp.sequence() == 1);
    if (world_rank() == 0) {
        auto done = ctl::read_answer(control, "hold.2");
        REQUIRE(done);
        CHECK(done->ok);
        CHECK(done->file == dir / "second/ckpt.000001.h5");
    }
}
