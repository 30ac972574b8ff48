// The exit status a leaving job records for ckpt-run (include/ckpt/detail/exit_record.hpp), and
// main_guard recording it. ckpt-run itself, and heat leaving under it: tests/scripts/ckpt_run.sh.
#include "testing.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>

using ckpt::testing::options_in;
using ckpt::testing::TempDir;

namespace {

/// CKPT_STATUS_FILE set for as long as this lives.
struct StatusFile {
    explicit StatusFile(const std::string& path) { ::setenv("CKPT_STATUS_FILE", path.c_str(), 1); }
    ~StatusFile() { ::unsetenv("CKPT_STATUS_FILE"); }
    StatusFile(const StatusFile&) = delete;
    StatusFile& operator=(const StatusFile&) = delete;
};

std::string contents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("record_exit_status writes the status the parent will see to CKPT_STATUS_FILE", "[unit][exit_record]") {
    TempDir dir;
    const std::string path = dir / "status";
    StatusFile env(path);
    ckpt::detail::record_exit_status(85);
    CHECK(contents(path) == "85\n");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    ckpt::detail::record_exit_status(0);
    CHECK(contents(path) == "0\n");  // truncated, not appended
    ckpt::detail::record_exit_status(256 + 3);
    CHECK(contents(path) == "3\n");  // exit() keeps the low 8 bits
    ckpt::detail::record_exit_status(-1);
    CHECK(contents(path) == "255\n");
}

TEST_CASE("record_exit_status does nothing without CKPT_STATUS_FILE, and ignores errors", "[unit][exit_record]") {
    TempDir dir;
    ::unsetenv("CKPT_STATUS_FILE");
    ckpt::detail::record_exit_status(85);
    {
        StatusFile empty("");
        ckpt::detail::record_exit_status(85);
    }
    {
        StatusFile missing(dir / "no/such/dir/status");
        errno = EINTR;
        ckpt::detail::record_exit_status(85);  // noexcept: nothing to catch
        CHECK(errno == EINTR);                 // the caller's errno survives
    }
    CHECK_FALSE(exists(dir / "no"));

    // Never through a symbolic link: someone else's link must not redirect the write.
    const std::string target = dir / "target";
    { std::ofstream(target) << "untouched\n"; }
    REQUIRE(::symlink(target.c_str(), (dir / "link").c_str()) == 0);
    StatusFile link(dir / "link");
    ckpt::detail::record_exit_status(85);
    CHECK(contents(target) == "untouched\n");
}

TEST_CASE("main_guard records the status of a job that leaves, and an error's exit code", "[unit][exit_record][signals]") {
    TempDir dir;
    const std::string path = dir / "status";
    StatusFile env(path);

    long step = 0;
    const int left = ckpt::main_guard([&] {
        ckpt::Checkpointer cp(options_in(dir / "ck"));
        cp.protect("step", step);
        std::raise(SIGTERM);
        cp.poll(1);
        FAIL("poll() should have left through main_guard");
        return 0;
    });
    CHECK(left == 85);
    CHECK(contents(path) == "85\n");

    ::unlink(path.c_str());
    std::string flag = "--checkpoint", value = "sometimes", program = "app";
    char* argv[] = {program.data(), flag.data(), value.data(), nullptr};
    int argc = 3;
    CHECK(ckpt::main_guard([&] { ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD); }) == 64);
    CHECK(contents(path) == "64\n");

    ::unlink(path.c_str());
    CHECK(ckpt::main_guard([] { return 7; }) == 7);  // a job that did not leave records nothing
    CHECK_FALSE(exists(path));
}
