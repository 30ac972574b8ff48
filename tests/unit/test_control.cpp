// The control directory protocol (docs/batch-contract.md section 7, include/ckpt/detail/control.hpp): request and
// answer round trips, malformed requests, pid file liveness, and the refusal of directories that a
// root-run hook must not trust.
#include "testing.hpp"

#include "control_client.hpp"  // tools/: the tool side of the protocol, tested here too

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
namespace ctl = ckpt::detail::control;

namespace {

using ckpt::testing::TempDir;

/// A fresh control directory inside `dir`, made as PidFile would make it (0700).
std::string make_control(const TempDir& dir) {
    const std::string control = ctl::directory(dir.path());
    REQUIRE(::mkdir(control.c_str(), 0700) == 0);
    return control;
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    REQUIRE(out.good());
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Posts a request with only an id (action continue), as `ckpt request DIR` would.
void post(const std::string& control, const std::string& id) {
    ctl::Request r;
    r.id = id;
    ctl::write_request(control, r);
}

const ctl::Process* find_pid(const std::vector<ctl::Process>& all, long pid) {
    auto it = std::find_if(all.begin(), all.end(), [pid](const ctl::Process& p) { return p.pid == pid; });
    return it == all.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("a request survives write_request and claim_request unchanged", "[unit][control]") {
    TempDir dir;
    const std::string control = make_control(dir);
    ctl::Request sent;
    sent.id = ctl::new_request_id();
    sent.exit = true;
    sent.dir = "/scratch/job 42/ckpt";
    sent.name = "ckpt.42.server.1700000000";
    sent.depth = 3;
    ctl::write_request(control, sent);
    REQUIRE(fs::is_regular_file(control + "/request"));
    CHECK_FALSE(fs::exists(control + "/tmp.request." + sent.id));  // the temporary is gone

    const auto got = ctl::claim_request(control);
    REQUIRE(got);
    CHECK(got->id == sent.id);
    CHECK(got->exit);
    CHECK(got->dir == sent.dir);
    CHECK(got->name == sent.name);
    REQUIRE(got->depth);
    CHECK(*got->depth == 3u);
    CHECK_FALSE(fs::exists(control + "/request"));
    CHECK(fs::exists(control + "/claimed." + sent.id));
    CHECK_FALSE(ctl::claim_request(control));  // claimed exactly once

    // Optional fields stay unset; the default action is continue.
    ctl::Request plain;
    plain.id = "plain-1";
    ctl::write_request(control, plain);
    const auto p = ctl::claim_request(control);
    REQUIRE(p);
    CHECK_FALSE(p->exit);
    CHECK(p->dir.empty());
    CHECK(p->name.empty());
    CHECK_FALSE(p->depth);
}

TEST_CASE("claim_request finds nothing without a request or without a control directory", "[unit][control]") {
    TempDir dir;
    CHECK_FALSE(ctl::claim_request(ctl::directory(dir.path())));  // no .ckpt at all
    const std::string control = make_control(dir);
    CHECK_FALSE(ctl::claim_request(control));
}

TEST_CASE("an answer survives write_answer and read_answer and removes the claim", "[unit][control]") {
    TempDir dir;
    const std::string control = make_control(dir);
    post(control, "job.7.1");
    REQUIRE(ctl::claim_request(control));
    REQUIRE(fs::exists(control + "/claimed.job.7.1"));
    CHECK_FALSE(ctl::read_answer(control, "job.7.1"));  // not answered yet

    ctl::Answer done;
    done.id = "job.7.1";
    done.ok = true;
    done.file = "/scratch/ckpt/ckpt.000012.h5";
    done.seconds = 1.25;
    done.msg = "wrote 3 entries";
    ctl::write_answer(control, done);
    CHECK(fs::exists(control + "/done.job.7.1"));
    CHECK_FALSE(fs::exists(control + "/claimed.job.7.1"));
    const auto a = ctl::read_answer(control, "job.7.1");
    REQUIRE(a);
    CHECK(a->ok);
    CHECK(a->status == 0);
    CHECK(a->file == done.file);
    CHECK(a->seconds == Approx(1.25));
    CHECK(a->msg == done.msg);
    CHECK(read_text(control + "/done.job.7.1") ==
          "status=0\nfile=/scratch/ckpt/ckpt.000012.h5\nseconds=1.250000\nmsg=wrote 3 entries\n");

    ctl::Answer failed;
    failed.id = "job.7.2";
    failed.status = 74;
    failed.msg = "No space left on device\nsecond line";  // one line in the file
    ctl::write_answer(control, failed);
    const auto f = ctl::read_answer(control, "job.7.2");
    REQUIRE(f);
    CHECK_FALSE(f->ok);
    CHECK(f->status == 74);
    CHECK(f->msg == "No space left on device second line");
    CHECK(fs::exists(control + "/failed.job.7.2"));

    ctl::remove_answer(control, "job.7.2");
    CHECK_FALSE(fs::exists(control + "/failed.job.7.2"));
    CHECK_FALSE(ctl::read_answer(control, "job.7.2"));
    REQUIRE_THROWS_AS(ctl::read_answer(control, "../escape"), ckpt::UsageError);
}

TEST_CASE("a malformed answer is a FormatError naming the file and the line", "[unit][control]") {
    TempDir dir;
    const std::string control = make_control(dir);
    write_text(control + "/done.x1", "status=0\nseconds=fast\n");
    REQUIRE_THROWS_AS(ctl::read_answer(control, "x1"), ckpt::FormatError);
    REQUIRE_THROWS_WITH(ctl::read_answer(control, "x1"), Contains("line 2") && Contains("\"fast\"") &&
                                                             Contains("seconds") && Contains(control + "/done.x1"));
}

TEST_CASE("write_request refuses a second request while one is pending", "[unit][control]") {
    TempDir dir;
    const std::string control = make_control(dir);
    ctl::Request first, second;
    first.id = "first";
    second.id = "second";
    ctl::write_request(control, first);
    REQUIRE_THROWS_AS(ctl::write_request(control, second), ckpt::UsageError);
    REQUIRE_THROWS_WITH(ctl::write_request(control, second),
                        Contains("already pending") && Contains(control + "/request"));
    CHECK_FALSE(fs::exists(control + "/tmp.request.second"));
    const auto got = ctl::claim_request(control);  // the first one is untouched
    REQUIRE(got);
    CHECK(got->id == "first");
    ctl::write_request(control, second);  // claimed: the slot is free again
}

TEST_CASE("write_request rejects fields that would not parse back", "[unit][control]") {
    TempDir dir;
    const std::string control = make_control(dir);
    ctl::Request r;
    r.id = "a/b";
    REQUIRE_THROWS_WITH(ctl::write_request(control, r), Contains("id \"a/b\""));
    r.id = "ok";
    r.dir = "relative/dir";
    REQUIRE_THROWS_WITH(ctl::write_request(control, r), Contains("relative/dir") && Contains("absolute"));
    r.dir = "/x\nid=evil";
    REQUIRE_THROWS_WITH(ctl::write_request(control, r), Contains("line break"));
    r.dir.clear();
    r.name = "../up";
    REQUIRE_THROWS_AS(ctl::write_request(control, r), ckpt::UsageError);
    CHECK_FALSE(fs::exists(control + "/request"));
}

TEST_CASE("withdraw_request takes back only its own unclaimed request", "[unit][control]") {
    TempDir dir;
    const std::string control = make_control(dir);
    post(control, "mine");
    CHECK_FALSE(ctl::withdraw_request(control, "someone-else"));
    REQUIRE(fs::exists(control + "/request"));  // put back
    CHECK(ctl::withdraw_request(control, "mine"));
    CHECK_FALSE(fs::exists(control + "/request"));
    CHECK_FALSE(ctl::withdraw_request(control, "mine"));  // nothing left to take back
    for (const auto& e : fs::directory_iterator(control)) FAIL("left behind: " << e.path());
}

TEST_CASE("a malformed request is moved aside and its error names file, line and value", "[unit][control]") {
    struct Case {
        const char* text;
        std::vector<std::string> expected;  // substrings of the message
    };
    const std::vector<Case> cases{
        {"action=exit\n", {"no id= line"}},
        {"id=abc\nspeed=fast\n", {"line 2", "unknown key \"speed\"", "\"fast\""}},
        {"id=abc\naction=later\n", {"line 2", "bad value \"later\" for action", "continue or exit"}},
        {"id=abc\ndir=relative/path\n", {"line 2", "\"relative/path\"", "absolute path"}},
        {"id=abc\ndepth=-1\n", {"line 2", "bad value \"-1\" for depth"}},
        {"id=abc\ndepth=99999999999\n", {"line 2", "\"99999999999\""}},
        {"id=abc\nname=a/b\n", {"line 2", "\"a/b\"", "name"}},
        {"id=a/b\n", {"line 1", "bad value \"a/b\" for id"}},
        {"id=abc\njust text\n", {"line 2", "\"just text\" is not key=value"}},
        {"id=abc\naction=exit\naction=continue\n", {"line 3", "\"action\" is given twice", "\"continue\""}},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION("request text: " << c.text) {
            TempDir dir;
            const std::string control = make_control(dir);
            write_text(control + "/request", c.text);
            try {
                ctl::claim_request(control);
                FAIL("no error for a malformed request");
            } catch (const ckpt::ConfigError& e) {
                const std::string what = e.what();
                CHECK_THAT(what, Contains(control + "/request.bad"));
                for (const auto& s : c.expected) CHECK_THAT(what, Contains(s));
                CHECK(ckpt::exit_code(e) == 64);
            }
            CHECK_FALSE(fs::exists(control + "/request"));
            CHECK(read_text(control + "/request.bad") == c.text);
            CHECK_FALSE(ctl::claim_request(control));  // it is not read again
        }
    }
}

TEST_CASE("parse_request accepts CRLF line ends, blank lines and empty dir/name", "[unit][control]") {
    const auto r = ctl::parse_request("id=x-1\r\n\r\naction=exit\r\ndir=\r\nname=\r\ndepth=0\r\n", "request");
    CHECK(r.id == "x-1");
    CHECK(r.exit);
    CHECK(r.dir.empty());
    CHECK(r.name.empty());
    REQUIRE(r.depth);
    CHECK(*r.depth == 0u);
}

namespace {
/// Runs `body` in a forked child that then waits for a byte on the returned pipe before leaving
/// without destructors (as a killed process would). Returns the child's pid once `body` is done.
template <class Body>
pid_t hold_in_child(Body body, int& go_fd) {
    int ready[2], go[2];
    REQUIRE(::pipe(ready) == 0);
    REQUIRE(::pipe(go) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        char c = 'r';
        try {
            body();
        } catch (...) {
            c = 'x';
        }
        (void)!::write(ready[1], &c, 1);
        (void)!::read(go[0], &c, 1);
        ::_exit(0);
    }
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    REQUIRE(c == 'r');
    ::close(ready[0]);
    ::close(ready[1]);
    ::close(go[0]);
    go_fd = go[1];
    return child;
}
void end_child(pid_t child, int go_fd) {
    char c = 'g';
    (void)!::write(go_fd, &c, 1);
    ::close(go_fd);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
}
}  // namespace

TEST_CASE("a forked child holding a PidFile is alive, and its file is stale after it exits", "[unit][control]") {
    TempDir dir;
    const std::string control = ctl::directory(dir.path());
    int go = -1;
    // Never deleted: the process "dies" holding it.
    const pid_t child = hold_in_child([&] { static auto* held = new ctl::PidFile(control); (void)held; }, go);

    auto all = ctl::processes(control);
    const ctl::Process* p = find_pid(all, child);
    REQUIRE(p);
    CHECK(p->alive);
    CHECK(p->host == ctl::host_name());
    CHECK(p->pid_file == control + "/pid." + ctl::host_name() + "." + std::to_string(child));
    CHECK(read_text(p->pid_file) == std::to_string(child) + "\n");

    char c = 'g';
    (void)!::write(go, &c, 1);
    ::close(go);
    // Unreaped, the child is a zombie: kill(pid, 0) still succeeds, so only the released lock
    // tells that the file is stale.
    siginfo_t info{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT) == 0);
    REQUIRE(::kill(child, 0) == 0);
    all = ctl::processes(control);
    p = find_pid(all, child);
    REQUIRE(p);
    CHECK_FALSE(p->alive);

    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    all = ctl::processes(control);
    p = find_pid(all, child);
    REQUIRE(p);  // the file stays: only its creator removes it
    CHECK_FALSE(p->alive);
}

TEST_CASE("PidFiles on one directory share one file, removed with the last of them", "[unit][control]") {
    TempDir dir;
    const std::string control = ctl::directory(dir.path() + "/nested/ckpt");  // mkdir -p
    std::string path;
    {
        ctl::PidFile a(control);
        path = a.path();
        CHECK(path == control + "/pid." + ctl::host_name() + "." + std::to_string(::getpid()));
        REQUIRE(fs::exists(path));
        struct stat st {};
        REQUIRE(::stat(control.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0700);
        {
            ctl::PidFile b(dir.path() + "/nested/./ckpt/.ckpt");  // another spelling, same directory
            CHECK(b.path() == path);
            ctl::PidFile moved(std::move(b));
            CHECK(moved.path() == path);
        }
        CHECK(fs::exists(path));  // `a` still holds it
        const auto all = ctl::processes(control);
        const ctl::Process* me = find_pid(all, ::getpid());
        REQUIRE(me);
        CHECK(me->alive);  // our own lock is seen by a probe on another descriptor
    }
    CHECK_FALSE(fs::exists(path));
}

TEST_CASE("control_dirs_of finds the control directory this process holds a pid file in", "[unit][control]") {
    TempDir dir;
    const std::string control = ctl::directory(dir.path());
    CHECK(ctl::control_dirs_of(::getpid()).empty());
    {
        ctl::PidFile pid_file(control);
        const auto dirs = ctl::control_dirs_of(::getpid());
        REQUIRE(dirs.size() == 1);
        CHECK(dirs[0] == fs::canonical(control).string());
    }
    CHECK(ctl::control_dirs_of(::getpid()).empty());
    CHECK(ctl::control_dirs_of(0x7ffffff0).empty());  // no such process
}

TEST_CASE("a control directory that is a symbolic link is refused", "[unit][control]") {
    TempDir dir;
    const std::string real = dir / "elsewhere";
    REQUIRE(::mkdir(real.c_str(), 0700) == 0);
    const std::string control = ctl::directory(dir.path());
    REQUIRE(::symlink(real.c_str(), control.c_str()) == 0);
    write_text(real + "/request", "id=planted\n");
    ctl::Request r;
    r.id = "mine";
    REQUIRE_THROWS_AS(ctl::PidFile(control), ckpt::IoError);
    REQUIRE_THROWS_WITH(ctl::PidFile(control), Contains("symbolic link") && Contains(control));
    REQUIRE_THROWS_WITH(ctl::claim_request(control), Contains("symbolic link") && Contains(control));
    REQUIRE_THROWS_WITH(ctl::write_request(control, r), Contains("symbolic link") && Contains(control));
    REQUIRE_THROWS_WITH(ctl::processes(control), Contains("symbolic link") && Contains(control));
    REQUIRE_THROWS_WITH(ctl::read_answer(control, "mine"), Contains("symbolic link") && Contains(control));
    CHECK(fs::exists(real + "/request"));  // nothing was touched through the link
    CHECK(std::distance(fs::directory_iterator(real), fs::directory_iterator()) == 1);
}

TEST_CASE("a control directory owned by another user is refused", "[unit][control]") {
    TempDir dir;
    std::string control;
    if (::geteuid() == 0) {
        control = make_control(dir);
        REQUIRE(::chown(control.c_str(), 65534, 65534) == 0);
    } else {
        control = "/";  // owned by root, and we are not root
    }
    ctl::Request r;
    r.id = "mine";
    REQUIRE_THROWS_AS(ctl::processes(control), ckpt::IoError);
    REQUIRE_THROWS_WITH(ctl::processes(control), Contains("owned by uid") && Contains(control));
    REQUIRE_THROWS_WITH(ctl::write_request(control, r), Contains("owned by uid"));
    REQUIRE_THROWS_WITH(ctl::claim_request(control), Contains("owned by uid"));
}

TEST_CASE("a planted symlink inside the control directory is not followed", "[unit][control]") {
    TempDir dir;
    const std::string control = make_control(dir);
    const std::string victim = dir / "victim";
    write_text(victim, "id=from-victim\n");
    REQUIRE(::symlink(victim.c_str(), (control + "/request").c_str()) == 0);
    REQUIRE_THROWS_AS(ctl::claim_request(control), ckpt::IoError);
    CHECK(fs::is_symlink(control + "/request.bad"));  // moved aside, not read
    REQUIRE(::symlink(victim.c_str(), (control + "/done.v1").c_str()) == 0);
    REQUIRE_THROWS_WITH(ctl::read_answer(control, "v1"), Contains(control + "/done.v1"));
    CHECK(read_text(victim) == "id=from-victim\n");
}

TEST_CASE("request ids are unique and use only the allowed characters", "[unit][control]") {
    std::set<std::string> ids;
    for (int i = 0; i < 1000; ++i) {
        const std::string id = ctl::new_request_id();
        REQUIRE(ctl::valid_id(id));
        ids.insert(id);
    }
    CHECK(ids.size() == 1000);
    CHECK_FALSE(ctl::valid_id(""));
    CHECK_FALSE(ctl::valid_id(".."));
    CHECK_FALSE(ctl::valid_id(std::string(129, 'a')));
    CHECK(ctl::valid_id(std::string(128, 'a')));
}

TEST_CASE("session and group members include this process", "[unit][control]") {
    const auto session = ctl::session_members(static_cast<long>(::getsid(0)));
    const auto group = ctl::group_members(static_cast<long>(::getpgrp()));
    CHECK(std::find(session.begin(), session.end(), static_cast<long>(::getpid())) != session.end());
    CHECK(std::find(group.begin(), group.end(), static_cast<long>(::getpid())) != group.end());
    const auto family = ctl::with_descendants(static_cast<long>(::getppid()));
    CHECK(std::find(family.begin(), family.end(), static_cast<long>(::getpid())) != family.end());
}

TEST_CASE("parse_request refuses a carriage return inside dir= or name=, as write_request does", "[unit][control]") {
    for (const std::string bad : {"dir=/a\rb\n", "name=a\rb\n", "dir=/a\r\r\n"}) {
        INFO(bad);
        CHECK_THROWS_AS(ctl::parse_request("id=x-1\n" + bad, "request"), ckpt::ConfigError);
    }
    ctl::Request r;
    r.id = "x-2";
    r.dir = "/a\rb";
    TempDir dir;
    CHECK_THROWS_AS(ctl::write_request(dir.path(), r), ckpt::UsageError);
}


TEST_CASE("a second job on the same directory and name fails at construction with 75, naming the holder",
          "[unit][control][lock]") {
    TempDir dir;
    int go = -1;
    const pid_t child = hold_in_child([&] { static auto* held = new ckpt::detail::JobLock(dir.path(), "ckpt"); (void)held; }, go);
    std::int64_t x = 0;
    try {
        ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
        FAIL("a second job took the lock");
    } catch (const ckpt::IoError& e) {
        CHECK(ckpt::exit_code(e) == 75);
        CHECK(e.errno_value() == EBUSY);
        CHECK_THAT(e.what(), Contains("another job") && Contains("host " + ctl::host_name()) &&
                                 Contains("pid " + std::to_string(child)) && Contains("lock.ckpt"));
    }
    {  // another name in the same directory is another job's business
        auto o = ckpt::testing::options_in(dir.path());
        o.name = "other";
        ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
        cp.protect("x", x);
        CHECK_FALSE(cp.checkpoint().empty());
    }
    end_child(child, go);  // dies holding it: the kernel releases the lock, the file stays
    CHECK(fs::exists(ctl::directory(dir.path()) + "/lock.ckpt"));
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("x", x);
    CHECK_FALSE(cp.checkpoint().empty());
    ckpt::Checkpointer second(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);  // one process: shared
}

TEST_CASE("a dead process's pid file is removed when the next one is made", "[unit][control]") {
    TempDir dir;
    const std::string control = ctl::directory(dir.path());
    int go = -1;
    const pid_t child = hold_in_child([&] { static auto* held = new ctl::PidFile(control); (void)held; }, go);
    const std::string stale = control + "/pid." + ctl::host_name() + "." + std::to_string(child);
    REQUIRE(fs::exists(stale));
    ctl::PidFile live_one(control);  // the child still runs: its file stays
    CHECK(fs::exists(stale));
    end_child(child, go);
    {
        ctl::PidFile* again = nullptr;
        const pid_t other = hold_in_child([&] { again = new ctl::PidFile(control); }, go);
        end_child(other, go);
    }
    CHECK_FALSE(fs::exists(stale));
}

TEST_CASE("a run that writes nothing leaves no checkpoint or control directory behind", "[unit][control]") {
    TempDir dir;
    const std::string where = dir / "ckpt";
    {
        std::int64_t step = 0;
        ckpt::Checkpointer cp(ckpt::testing::options_in(where), MPI_COMM_WORLD);
        cp.protect("step", step).exit_policy(ckpt::ExitPolicy::Return);
        for (step = 1; step < 5; ++step) cp.poll(step);
        REQUIRE(fs::exists(ctl::directory(where)));  // reachable by requests while it runs
    }
    CHECK_FALSE(fs::exists(where));
    {  // a directory that was there before stays, and one that was written to keeps its control directory
        fs::create_directories(where);
        std::int64_t step = 0;
        ckpt::Checkpointer cp(ckpt::testing::options_in(where), MPI_COMM_WORLD);
        cp.protect("step", step);
    }
    CHECK(fs::exists(where));
    CHECK_FALSE(fs::exists(ctl::directory(where)));
}
