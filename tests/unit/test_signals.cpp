// Signals, requests and leaving at a safe point, in one process (serial: poll() decides at once).
// Multi-rank agreement and real signals to real jobs: tests/signals/ and tests/mpi/.
#include "testing.hpp"

#include "control_client.hpp"  // tools/: requests and answers, as `ckpt request` sends them

#include <signal.h>

#include <csignal>
#include <ctime>
#include <fstream>

using ckpt::testing::options_in;
using ckpt::testing::TempDir;
using Catch::Matchers::Contains;

namespace {

std::vector<std::uint64_t> sequences(const std::string& dir) {
    std::vector<std::uint64_t> out;
    for (const auto& v : ckpt::detail::committed_versions(dir, "ckpt")) out.push_back(v.sequence);
    return out;
}

/// Leaving returns instead of ending the test process.
ckpt::Options returning(const std::string& dir) { return options_in(dir); }

volatile std::sig_atomic_t earlier_handler_calls = 0;
void earlier_handler(int) { earlier_handler_calls = earlier_handler_calls + 1; }

}  // namespace

TEST_CASE("the checkpoint signal makes the next poll write a version and continue", "[unit][signals]") {
    TempDir dir;
    long step = 0;
    ckpt::Checkpointer cp(options_in(dir.path()));
    cp.protect("step", step);
    CHECK_FALSE(cp.poll(1));
    std::raise(SIGUSR1);
    step = 7;
    REQUIRE(cp.poll(7));
    CHECK(sequences(dir.path()) == std::vector<std::uint64_t>{1});
    CHECK_FALSE(cp.should_exit());
    CHECK_FALSE(cp.poll(8));  // one signal, one checkpoint
    CHECK(sequences(dir.path()) == std::vector<std::uint64_t>{1});
}

TEST_CASE("a termination signal with shutdown writes a version, then the job leaves with CKPT_EXIT_CODE",
          "[unit][signals]") {
    TempDir dir;
    long step = 3;
    auto o = returning(dir.path());
    o.exit_code = 42;
    ckpt::Checkpointer cp(o);
    cp.protect("step", step).exit_policy(ckpt::ExitPolicy::Return);
    std::raise(SIGTERM);
    REQUIRE(cp.poll(3));
    CHECK(cp.should_exit());
    CHECK(cp.exit_status() == 42);
    CHECK(sequences(dir.path()) == std::vector<std::uint64_t>{1});
    std::raise(SIGUSR1);
    CHECK_FALSE(cp.poll(4));  // once leaving, poll does nothing more
    CHECK(sequences(dir.path()) == std::vector<std::uint64_t>{1});
}

TEST_CASE("a termination signal without shutdown leaves with 128+N and writes nothing", "[unit][signals]") {
    TempDir dir;
    long step = 0;
    auto o = returning(dir.path());
    o.mode.shutdown = false;
    ckpt::Checkpointer cp(o);
    cp.protect("step", step).exit_policy(ckpt::ExitPolicy::Return);
    std::raise(SIGINT);
    CHECK_FALSE(cp.poll(1));
    CHECK(cp.should_exit());
    CHECK(cp.exit_status() == 128 + SIGINT);
    CHECK(sequences(dir.path()).empty());
}

TEST_CASE("main_guard returns the status of a job that leaves, and 64 for a bad option", "[unit][signals]") {
    TempDir dir;
    const int left = ckpt::main_guard([&] {
        long step = 0;
        ckpt::Checkpointer cp(options_in(dir.path()));
        cp.protect("step", step);
        std::raise(SIGTERM);
        cp.poll(1);
        FAIL("poll() should have left through main_guard");
        return 0;
    });
    CHECK(left == 85);
    CHECK(sequences(dir.path()) == std::vector<std::uint64_t>{1});

    std::string flag = "--checkpoint", value = "sometimes", program = "app";
    char* argv[] = {program.data(), flag.data(), value.data(), nullptr};
    int argc = 3;
    const int bad = ckpt::main_guard([&] { ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD); });
    CHECK(bad == 64);
    CHECK(ckpt::main_guard([] { return 7; }) == 7);
}

TEST_CASE("request_checkpoint asks for a checkpoint at the next poll, from code", "[unit][signals]") {
    TempDir dir;
    long step = 0;
    ckpt::Checkpointer cp(returning(dir.path()));
    cp.protect("step", step).exit_policy(ckpt::ExitPolicy::Return);
    cp.request_checkpoint();
    REQUIRE(cp.poll(1));
    CHECK_FALSE(cp.should_exit());
    cp.request_checkpoint(ckpt::Action::Exit);
    REQUIRE(cp.poll(2));
    CHECK(cp.should_exit());
    CHECK(cp.exit_status() == 85);
    CHECK(sequences(dir.path()) == std::vector<std::uint64_t>{1, 2});

    auto none = options_in(dir / "none");
    none.mode = ckpt::Mode{true, false, false, false};
    ckpt::Checkpointer off(none);
    try {
        off.request_checkpoint();
        FAIL("no UsageError");
    } catch (const ckpt::UsageError& e) {
        CHECK_THAT(e.what(), Contains("request_checkpoint()") && Contains("\"none\"") && Contains("enabled"));
    }
}

TEST_CASE("a CriticalSection defers a signalled checkpoint to the first poll after it", "[unit][signals]") {
    TempDir dir;
    long step = 0;
    ckpt::Checkpointer cp(options_in(dir.path()));
    cp.protect("step", step);
    {
        ckpt::CriticalSection section(cp);
        std::raise(SIGUSR1);
        CHECK_FALSE(cp.poll(1));
        CHECK_FALSE(cp.poll(2));
        CHECK_THROWS_AS(cp.checkpoint(), ckpt::UsageError);
        CHECK(sequences(dir.path()).empty());
    }
    REQUIRE(cp.poll(3));
    CHECK(sequences(dir.path()) == std::vector<std::uint64_t>{1});
}

TEST_CASE("halt= leaves with a checkpoint once less than that remains of the walltime", "[unit][signals]") {
    TempDir dir;
    long step = 0;
    auto o = returning(dir.path());
    o.halt = std::chrono::seconds(300);
    o.end_time = static_cast<std::int64_t>(std::time(nullptr)) + 3600;
    {
        ckpt::Checkpointer far(o);
        far.protect("step", step).exit_policy(ckpt::ExitPolicy::Return);
        CHECK_FALSE(far.poll(1));
        CHECK_FALSE(far.should_exit());
    }
    o.end_time = static_cast<std::int64_t>(std::time(nullptr)) + 200;
    ckpt::Checkpointer near(o);
    near.protect("step", step).exit_policy(ckpt::ExitPolicy::Return);
    REQUIRE(near.poll(1));
    CHECK(near.should_exit());
    CHECK(near.exit_status() == 85);
    CHECK(sequences(dir.path()) == std::vector<std::uint64_t>{1});
}

TEST_CASE("the end time comes from CKPT_END_TIME, else SLURM_JOB_END_TIME, and must be epoch seconds",
          "[unit][signals][options]") {
    std::map<std::string, std::string> vars{{"SLURM_JOB_END_TIME", "1700000000"}};
    auto env = [&](const char* name) -> const char* {
        auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
    int argc = 0;
    CHECK(ckpt::resolve_options(argc, nullptr, {}, env).end_time == 1700000000);
    vars["CKPT_END_TIME"] = "1800000000";
    CHECK(ckpt::resolve_options(argc, nullptr, {}, env).end_time == 1800000000);
    vars["CKPT_END_TIME"] = "tomorrow";
    try {
        ckpt::resolve_options(argc, nullptr, {}, env);
        FAIL("no ConfigError");
    } catch (const ckpt::ConfigError& e) {
        CHECK_THAT(e.what(), Contains("CKPT_END_TIME") && Contains("tomorrow"));
    }
}

TEST_CASE("one signal cannot both checkpoint and terminate", "[unit][signals][options]") {
    std::map<std::string, std::string> vars{{"CKPT_SIGNAL", "USR2"}};
    auto env = [&](const char* name) -> const char* {
        auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
    int argc = 0;
    // Chosen as the checkpoint signal, USR2 leaves the default termination list ...
    const auto o = ckpt::resolve_options(argc, nullptr, {}, env);
    CHECK(o.checkpoint_signal == SIGUSR2);
    CHECK(o.term_signals == std::vector<int>{SIGTERM, SIGINT, SIGXCPU});
    // ... but a list written with it in is a conflict, named.
    vars["CKPT_TERM_SIGNALS"] = "TERM,USR2";
    try {
        ckpt::resolve_options(argc, nullptr, {}, env);
        FAIL("no ConfigError");
    } catch (const ckpt::ConfigError& e) {
        CHECK_THAT(e.what(), Contains("CKPT_SIGNAL") && Contains("USR2") && Contains("CKPT_TERM_SIGNALS"));
    }
}

TEST_CASE("handlers chain to the earlier handler and are restored when the checkpointer goes", "[unit][signals]") {
    TempDir dir;
    struct sigaction earlier {}, before {}, during {}, after {};
    earlier.sa_handler = earlier_handler;
    sigemptyset(&earlier.sa_mask);
    REQUIRE(::sigaction(SIGUSR2, &earlier, &before) == 0);
    earlier_handler_calls = 0;
    {
        long step = 0;
        ckpt::Checkpointer cp(returning(dir.path()));
        cp.protect("step", step).exit_policy(ckpt::ExitPolicy::Return);
        REQUIRE(::sigaction(SIGUSR2, nullptr, &during) == 0);
        CHECK(during.sa_handler != earlier_handler);
        std::raise(SIGUSR2);
        CHECK(earlier_handler_calls == 1);  // chained
        REQUIRE(cp.poll(1));                // and ours counted it: USR2 is a termination signal
        CHECK(cp.exit_status() == 85);
    }
    REQUIRE(::sigaction(SIGUSR2, nullptr, &after) == 0);
    CHECK(after.sa_handler == earlier_handler);
    ::sigaction(SIGUSR2, &before, nullptr);
}

TEST_CASE("mode none installs no handlers and writes no pid file", "[unit][signals]") {
    TempDir dir;
    struct sigaction before {}, during {};
    REQUIRE(::sigaction(SIGTERM, nullptr, &before) == 0);
    auto o = options_in(dir.path());
    o.mode = ckpt::Mode{true, false, false, false};
    ckpt::Checkpointer cp(o);
    REQUIRE(::sigaction(SIGTERM, nullptr, &during) == 0);
    CHECK(during.sa_handler == before.sa_handler);
    CHECK_FALSE(std::filesystem::exists(dir / ".ckpt"));
}

TEST_CASE("a request file redirects the signalled checkpoint and is answered", "[unit][signals][control]") {
    TempDir dir;
    long step = 5;
    ckpt::Checkpointer cp(returning(dir.path()));
    cp.protect("step", step).exit_policy(ckpt::ExitPolicy::Return);
    const std::string control = ckpt::detail::control::directory(dir.path());
    const std::string pid_file =
        control + "/pid." + ckpt::detail::control::host_name() + "." + std::to_string(::getpid());
    CHECK_FALSE(std::filesystem::exists(pid_file));
    CHECK_FALSE(cp.poll(4));
    REQUIRE(std::filesystem::exists(pid_file));  // made at the first poll: the loop is running

    ckpt::detail::control::Request r;
    r.id = "torque.1";
    r.dir = dir / "torque";
    r.name = "ckpt.123.1700000000";
    r.exit = true;
    ckpt::detail::control::write_request(control, r);
    std::raise(SIGUSR1);
    REQUIRE(cp.poll(5));
    CHECK(cp.should_exit());
    CHECK(cp.exit_status() == 85);
    const std::string written = dir / "torque/ckpt.123.1700000000.000001.h5";
    CHECK(std::filesystem::exists(written));
    CHECK(sequences(dir.path()).empty());  // the job's own directory was not used
    auto answer = ckpt::detail::control::read_answer(control, "torque.1");
    REQUIRE(answer);
    CHECK(answer->ok);
    CHECK(answer->file == written);
}

TEST_CASE("a requested checkpoint that fails is answered as failed and the job goes on", "[unit][signals][control]") {
    TempDir dir;
    long step = 5;
    { std::ofstream(dir / "plain-file") << "x"; }
    ckpt::Checkpointer cp(returning(dir.path()));
    cp.protect("step", step).exit_policy(ckpt::ExitPolicy::Return);
    const std::string control = ckpt::detail::control::directory(dir.path());
    ckpt::detail::control::Request r;
    r.id = "hold.2";
    r.dir = dir / "plain-file/sub";  // cannot be a directory
    r.exit = true;
    CHECK_FALSE(cp.poll(4));
    ckpt::detail::control::write_request(control, r);
    std::raise(SIGUSR1);
    CHECK_FALSE(cp.poll(5));
    CHECK_FALSE(cp.should_exit());  // a failed qhold is released: the job keeps running
    auto answer = ckpt::detail::control::read_answer(control, "hold.2");
    REQUIRE(answer);
    CHECK_FALSE(answer->ok);
    CHECK(answer->status == 74);
    CHECK_THAT(answer->msg, Contains("plain-file"));
}
