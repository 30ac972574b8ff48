#pragma once
/// The control directory `<dir>/.ckpt` (docs/batch-contract.md section 7): how a batch hook, or `ckpt request`,
/// reaches a running job.
///
///   pid.<host>.<pid>   one per process, held open and flock()ed for the process lifetime
///   request            written by a tool (temp file, then link/rename): id=, action=, dir=, name=, depth=
///   claimed.<id>       a request the library took; it answers with
///   done.<id>          or failed.<id>: status=, file=, seconds=, msg=
///
/// The tool may run in root-run hooks (after dropping to the job's user), so everything here is
/// defensive: the directory is opened once with O_NOFOLLOW and must be owned by the effective
/// uid, and every file inside is opened, renamed or removed relative to that descriptor
/// (openat/renameat/unlinkat, O_NOFOLLOW), so a symlink planted by someone else is never followed.
/// Ranks of one job may share the directory over NFS/Lustre: only the creator of a pid file
/// removes it, and a request is claimed by an atomic rename, so exactly one process takes it.
///
/// This header is the protocol and the library's side of it. The tool's side (writing and
/// withdrawing requests, reading answers, finding the processes of a job) is
/// tools/control_client.hpp: applications never include it.

#include "ckpt/detail/atomic_commit.hpp"
#include "ckpt/detail/parse.hpp"
#include "ckpt/error.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail::control {

/// `<ckpt_dir>/.ckpt`.
inline std::string directory(const std::string& ckpt_dir) { return join_path(ckpt_dir, ".ckpt"); }

/// A request from a tool: checkpoint now (into `dir`/`name` if given), then continue or exit.
struct Request {
    std::string id;                 ///< [A-Za-z0-9._-]{1,128}; names the answer file
    bool exit = false;              ///< action=exit: checkpoint, then leave with CKPT_EXIT_CODE
    std::string dir, name;          ///< where to write; empty = the checkpointer's own
    std::optional<unsigned> depth;  ///< versions to keep; unset = the checkpointer's own
};

/// The library's answer to a request (done.<id> when ok, failed.<id> otherwise).
struct Answer {
    std::string id;
    bool ok = false;
    int status = 0;      ///< 0 when ok, else the exit code the failure maps to (docs/batch-contract.md section 6)
    std::string file;    ///< the checkpoint written
    double seconds = 0;  ///< how long the checkpoint took
    std::string msg;     ///< one line, for people
};

/// One pid file: a process that uses this control directory.
struct Process {
    long pid = 0;
    std::string host;
    std::string pid_file;
    bool alive = false;  ///< on this host, the process exists and still holds the file's lock
};

// ---------------------------------------------------------------------------------------------
// Small POSIX helpers. errno is always saved before an error message is built: building the
// strings allocates, and nothing promises that leaves errno alone.

/// Owning file descriptor.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

/// This host's name as it appears in pid file names: characters outside [A-Za-z0-9._-] become '_'.
inline std::string host_name() {
    char buf[256] = "";
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
    std::string host(buf);
    for (char& c : host)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_'))
            c = '_';
    return host;
}

/// Request ids name files, so they are restricted to [A-Za-z0-9._-]{1,128} and never "." or "..".
inline bool valid_id(const std::string& id) {
    if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '_';
    });
}

/// A fresh request id, "<host>.<pid>.<nanoseconds>", unique per process even within one nanosecond.
inline std::string new_request_id() {
    static std::atomic<std::uint64_t> last{0};
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    std::uint64_t now = static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
    std::uint64_t prev = last.load();
    while (!last.compare_exchange_weak(prev, std::max(now, prev + 1))) {
    }
    now = std::max(now, prev + 1);
    std::string host = host_name().substr(0, 80);
    return host + "." + std::to_string(static_cast<long>(::getpid())) + "." + std::to_string(now);
}

/// The control directory, opened without following a symlink and checked to be ours. Every file
/// operation goes through its descriptor, so the directory cannot be swapped underneath us.
class Dir {
public:
    explicit Dir(const std::string& path) : path_(path) {
        fd_ = Fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (fd_.get() < 0) {
            const int err = errno;
            struct stat st {};
            if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) raise(refused("is a symbolic link", ELOOP));
            if (err == ENOENT)
                raise(posix_error("opening control directory", path, err,
                                  "no ckpt job has run with this checkpoint directory (is it the right one?)"));
            raise(posix_error("opening control directory", path, err));
        }
        struct stat st {};
        if (::fstat(fd_.get(), &st) != 0) {
            const int err = errno;
            raise(posix_error("fstat of control directory", path, err));
        }
        if (st.st_uid != ::geteuid())
            raise(refused("is owned by uid " + std::to_string(st.st_uid) + ", not by this user (uid " +
                              std::to_string(::geteuid()) + ")",
                          EPERM));
    }

    int fd() const noexcept { return fd_.get(); }
    const std::string& path() const noexcept { return path_; }
    std::string operator/(const std::string& name) const { return join_path(path_, name); }

    /// Names of the directory's entries (not "." and "..").
    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        int copy = ::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR* d = copy >= 0 ? ::fdopendir(copy) : nullptr;
        if (!d) {
            const int err = errno;
            if (copy >= 0) ::close(copy);
            raise(posix_error("listing control directory", path_, err));
        }
        while (const dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name != "." && name != "..") out.push_back(std::move(name));
        }
        ::closedir(d);
        std::sort(out.begin(), out.end());
        return out;
    }

    /// Opens a regular file inside for reading; nullopt if it does not exist. Refuses symlinks,
    /// FIFOs and devices (O_NONBLOCK keeps a planted FIFO from blocking the open).
    std::optional<Fd> open_regular(const std::string& name) const {
        Fd f(::openat(fd_.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
        if (f.get() < 0) {
            const int err = errno;
            if (err == ENOENT) return std::nullopt;
            raise(posix_error("opening", *this / name, err,
                              err == ELOOP ? "it is a symbolic link; refusing to follow it" : ""));
        }
        struct stat st {};
        if (::fstat(f.get(), &st) != 0) {
            const int err = errno;
            raise(posix_error("fstat", *this / name, err));
        }
        if (!S_ISREG(st.st_mode)) raise(IoError({"not a regular file; refusing to read it", *this / name, "", -1, {}}));
        return f;
    }

    /// The whole content of a small regular file (at most 64 KiB); nullopt if it does not exist.
    std::optional<std::string> read(const std::string& name) const {
        auto f = open_regular(name);
        if (!f) return std::nullopt;
        std::string text;
        char buf[4096];
        for (;;) {
            const ssize_t n = ::read(f->get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                const int err = errno;
                raise(posix_error("reading", *this / name, err));
            }
            if (n == 0) break;
            text.append(buf, static_cast<std::size_t>(n));
            if (text.size() > 65536)
                raise(IoError({"control file larger than 64 KiB; refusing to read it", *this / name, "", -1, {}}));
        }
        return text;
    }

    /// Writes `text` to a new private file `name` (0600, O_EXCL: never through an existing file or
    /// symlink), flushed to stable storage.
    void write_new(const std::string& name, const std::string& text) const {
        Fd f(::openat(fd_.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (f.get() < 0 && errno == EEXIST) {  // a leftover of a crashed writer with the same unique name
            ::unlinkat(fd_.get(), name.c_str(), 0);
            f = Fd(::openat(fd_.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        }
        if (f.get() < 0) {
            const int err = errno;
            raise(posix_error("creating", *this / name, err));
        }
        std::size_t done = 0;
        while (done < text.size()) {
            const ssize_t n = ::write(f.get(), text.data() + done, text.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                const int err = errno;
                ::unlinkat(fd_.get(), name.c_str(), 0);
                raise(posix_error("writing", *this / name, err));
            }
            done += static_cast<std::size_t>(n);
        }
        if (::fsync(f.get()) != 0) {
            const int err = errno;
            ::unlinkat(fd_.get(), name.c_str(), 0);
            raise(posix_error("fsync", *this / name, err));
        }
    }

    /// rename within the directory; false if `from` does not exist.
    bool rename(const std::string& from, const std::string& to) const {
        if (::renameat(fd_.get(), from.c_str(), fd_.get(), to.c_str()) == 0) return true;
        if (errno == ENOENT) return false;
        {
            const int err = errno;
            raise(posix_error("rename to " + (*this / to), *this / from, err));
        }
    }
    /// unlink within the directory; a missing file is not an error.
    void remove(const std::string& name) const {
        if (::unlinkat(fd_.get(), name.c_str(), 0) != 0 && errno != ENOENT) {
            const int err = errno;
            raise(posix_error("removing", *this / name, err));
        }
    }

private:
    IoError refused(const std::string& why, int err) const {
        ErrorInfo i;
        i.sentence = "refusing to use the control directory: it " + why;
        i.file = path_;
        i.errno_value = err;
        i.hint = "run as the job's user, and remove the directory if somebody else planted it";
        return IoError(std::move(i));
    }

    std::string path_;
    Fd fd_;
};

/// Creates `<ckpt dir>` (mkdir -p) and its control directory (mode 0700) if they are missing.
/// Returns whether it made the control directory. Throws: IoError naming the directory.
inline bool make_control_directory(const std::string& control_dir) {
    make_directories(parent_directory(control_dir));
    if (::mkdir(control_dir.c_str(), 0700) == 0) return true;
    const int err = errno;
    if (err != EEXIST) raise(posix_error("creating control directory", control_dir, err));
    return false;
}

/// Whether a directory entry exists (without following a symlink).
inline bool exists_in(const Dir& d, const std::string& name) {
    struct stat st {};
    return ::fstatat(d.fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

// ---------------------------------------------------------------------------------------------
// Library side.

namespace pid_registry {
/// One pid file this process holds, shared by every PidFile on the same control directory.
struct Held {
    int dir_fd = -1;   ///< the control directory, so the unlink happens where the file was made
    int file_fd = -1;  ///< holds the flock; O_CLOEXEC, so an exec'd child does not keep it
    std::string name, path;
    long refs = 0;
    pid_t creator = 0;  ///< a forked child inherits this table but must not remove the parent's file
};
using Key = std::pair<dev_t, ino_t>;  ///< the control directory's identity, whatever its spelling
struct Table {
    std::mutex mutex;
    std::map<Key, Held> held;
};
/// Never destroyed, so a PidFile in a static object may outlive everything else.
inline Table& table() {
    static Table* t = new Table;
    return *t;
}
}  // namespace pid_registry

/// The process's pid file in a control directory: "pid.<host>.<pid>" holding the pid, open and
/// flock(LOCK_EX)ed for as long as any PidFile on that directory exists in this process, so tools
/// can tell a live process from a stale file. Creates `<ckpt dir>` and `.ckpt` (mode 0700).
/// Collective: no · Throws: IoError naming the directory or file · Thread safety: safe.
class PidFile {
public:
    explicit PidFile(const std::string& control_dir) {
        make_control_directory(control_dir);
        Dir dir(control_dir);
        struct stat st {};
        if (::fstat(dir.fd(), &st) != 0) {
            const int err = errno;
            raise(posix_error("fstat of control directory", control_dir, err));
        }
        key_ = {st.st_dev, st.st_ino};
        creator_ = ::getpid();

        auto& t = pid_registry::table();
        std::lock_guard<std::mutex> lock(t.mutex);
        auto it = t.held.find(key_);
        if (it != t.held.end() && it->second.creator != creator_) {
            // Inherited through fork(): the parent's descriptors stay the parent's business.
            ::close(it->second.file_fd);
            ::close(it->second.dir_fd);
            t.held.erase(it);
            it = t.held.end();
        }
        if (it == t.held.end()) it = t.held.emplace(key_, create(dir)).first;
        ++it->second.refs;
        path_ = it->second.path;
    }
    ~PidFile() { release(); }

    PidFile(PidFile&& o) noexcept
        : key_(o.key_), creator_(o.creator_), path_(std::move(o.path_)), active_(std::exchange(o.active_, false)) {}
    PidFile& operator=(PidFile&& o) noexcept {
        if (this != &o) {
            release();
            key_ = o.key_;
            creator_ = o.creator_;
            path_ = std::move(o.path_);
            active_ = std::exchange(o.active_, false);
        }
        return *this;
    }
    PidFile(const PidFile&) = delete;
    PidFile& operator=(const PidFile&) = delete;

    /// "<control dir>/pid.<host>.<pid>".
    const std::string& path() const noexcept { return path_; }

private:
    /// Pid files of processes of this host that no longer exist (killed ranks leave theirs).
    /// Other hosts' files are left to their own processes, which can tell.
    static void remove_stale(const Dir& dir) {
        const std::string prefix = "pid." + host_name() + ".";
        for (const auto& name : dir.entries()) {
            if (name.rfind(prefix, 0) != 0) continue;
            const auto pid = to_uint(std::string_view(name).substr(prefix.size()), LONG_MAX);
            if (pid && *pid > 0 && ::kill(static_cast<pid_t>(*pid), 0) != 0 && errno == ESRCH)
                ::unlinkat(dir.fd(), name.c_str(), 0);
        }
    }

    static pid_registry::Held create(const Dir& dir) {
        remove_stale(dir);
        pid_registry::Held h;
        h.name = "pid." + host_name() + "." + std::to_string(static_cast<long>(::getpid()));
        h.path = dir / h.name;
        Fd f(::openat(dir.fd(), h.name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (f.get() < 0) {
            const int err = errno;
            raise(posix_error("creating pid file", h.path, err));
        }
        // O_RDWR: NFS implements flock() with byte-range locks, and an exclusive one needs write access.
        if (::flock(f.get(), LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            if (err == EWOULDBLOCK)
                raise(posix_error("locking pid file", h.path, err,
                                  "another process with the same host name and pid holds it (containers sharing a "
                                  "directory?)"));
            // A file system without locks (Lustre without -o flock): tools fall back to kill(pid, 0).
            if (err != ENOLCK && err != EOPNOTSUPP && err != ENOSYS && err != EINVAL)
                raise(posix_error("locking pid file", h.path, err));
        }
        const std::string text = std::to_string(static_cast<long>(::getpid())) + "\n";
        if (::ftruncate(f.get(), 0) != 0 ||
            ::pwrite(f.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
            const int err = errno;
            ::unlinkat(dir.fd(), h.name.c_str(), 0);
            raise(posix_error("writing pid file", h.path, err));
        }
        h.dir_fd = ::openat(dir.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (h.dir_fd < 0) {
            const int err = errno;
            ::unlinkat(dir.fd(), h.name.c_str(), 0);
            raise(posix_error("opening control directory", dir.path(), err));
        }
        h.file_fd = f.release();
        h.creator = ::getpid();
        return h;
    }

    void release() noexcept {
        if (!active_) return;
        active_ = false;
        if (::getpid() != creator_) return;  // a forked child's copy: the file is the parent's
        auto& t = pid_registry::table();
        std::lock_guard<std::mutex> lock(t.mutex);
        auto it = t.held.find(key_);
        if (it == t.held.end() || it->second.creator != creator_ || --it->second.refs > 0) return;
        pid_registry::Held& h = it->second;
        // Remove only the file we made: if it was replaced meanwhile, the new one is not ours.
        struct stat mine {
        }, there{};
        if (::fstat(h.file_fd, &mine) == 0 && ::fstatat(h.dir_fd, h.name.c_str(), &there, AT_SYMLINK_NOFOLLOW) == 0 &&
            mine.st_dev == there.st_dev && mine.st_ino == there.st_ino)
            ::unlinkat(h.dir_fd, h.name.c_str(), 0);
        ::close(h.file_fd);
        ::close(h.dir_fd);
        t.held.erase(it);
    }

    pid_registry::Key key_{};
    pid_t creator_ = 0;
    std::string path_;
    bool active_ = true;
};

/// Why `dir` cannot be a request's dir= value, or "" if it can (empty: not given). A request is
/// one key=value per line, so a line break cannot travel in it.
inline std::string request_dir_problem(const std::string& dir) {
    if (dir.empty()) return {};
    if (dir[0] != '/') return "expected an absolute path";
    if (dir.find_first_of("\r\n") != std::string::npos) return "it contains a line break, which a request cannot carry";
    return {};
}

/// Parses the text of a request file; `file` is what errors name.
/// Throws: ConfigError naming the file, the line and the value.
inline Request parse_request(const std::string& text, const std::string& file) {
    auto fail = [&file](std::size_t line, const std::string& sentence, const std::string& key,
                        const std::string& value) {
        ErrorInfo i;
        i.sentence = "bad request: line " + std::to_string(line) + ": " + sentence;
        i.file = file;
        i.option = key;
        i.value = value;
        i.hint = "write requests with `ckpt request`; keys are id, action, dir, name and depth";
        raise(ConfigError(std::move(i)));
    };
    Request r;
    std::vector<std::string> seen;
    std::size_t line_no = 0;
    for (std::string line : split(text, '\n')) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;  // a trailing newline, or blank lines between keys
        const std::size_t eq = line.find('=');
        if (eq == std::string::npos) fail(line_no, "\"" + line + "\" is not key=value", "", line);
        const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
        if (std::find(seen.begin(), seen.end(), key) != seen.end())
            fail(line_no, "key \"" + key + "\" is given twice (value \"" + value + "\")", key, value);
        seen.push_back(key);
        if (key == "id") {
            if (!valid_id(value))
                fail(line_no, "bad value \"" + value + "\" for id: expected 1 to 128 characters of [A-Za-z0-9._-]", key,
                     value);
            r.id = value;
        } else if (key == "action") {
            if (value != "continue" && value != "exit")
                fail(line_no, "bad value \"" + value + "\" for action: expected continue or exit", key, value);
            r.exit = value == "exit";
        } else if (key == "dir") {
            // Empty means "not given": hooks pass "-" or nothing for an empty Torque argument.
            const std::string problem = request_dir_problem(value);
            if (!problem.empty()) fail(line_no, "bad value \"" + value + "\" for dir: " + problem, key, value);
            r.dir = value;
        } else if (key == "name") {
            const std::string problem = value.empty() ? std::string() : version_prefix_problem(value);
            if (!problem.empty())
                fail(line_no, "bad value \"" + value + "\" for name: " + problem + "; expected " + version_prefix_rule(),
                     key, value);
            r.name = value;
        } else if (key == "depth") {
            const auto d = to_uint(value, UINT_MAX);
            if (!d) fail(line_no, "bad value \"" + value + "\" for depth: expected an unsigned integer", key, value);
            r.depth = static_cast<unsigned>(*d);
        } else {
            fail(line_no,
                 "unknown key \"" + key + "\" (value \"" + value + "\"): expected id, action, dir, name or depth", key,
                 value);
        }
    }
    if (r.id.empty()) {
        ErrorInfo i;
        i.sentence = "bad request: no id= line";
        i.file = file;
        i.option = "id";
        i.hint = "write requests with `ckpt request`; every request needs id=";
        raise(ConfigError(std::move(i)));
    }
    return r;
}

/// The text of a request file (inverse of parse_request).
inline std::string format_request(const Request& r) {
    std::string text = "id=" + r.id + "\naction=" + (r.exit ? "exit" : "continue") + "\n";
    if (!r.dir.empty()) text += "dir=" + r.dir + "\n";
    if (!r.name.empty()) text += "name=" + r.name + "\n";
    if (r.depth) text += "depth=" + std::to_string(*r.depth) + "\n";
    return text;
}

/// Library side, rank 0 at a safe point: takes the pending request, if any. The atomic rename to
/// "claimed.<unique>" makes sure exactly one process gets it; once parsed it becomes
/// "claimed.<id>" until write_answer(). Returns nullopt when there is no request (or no directory).
/// Collective: no · Throws: ConfigError for a malformed request (moved aside to "request.bad",
/// so it is not read again), IoError · Thread safety: not with itself on the same directory.
inline std::optional<Request> claim_request(const std::string& control_dir) {
    struct stat st {};
    if (::lstat(control_dir.c_str(), &st) != 0 && errno == ENOENT) return std::nullopt;
    Dir dir(control_dir);
    const std::string taken = "claimed." + new_request_id();
    if (!dir.rename("request", taken)) return std::nullopt;
    std::optional<Request> r;
    try {
        auto text = dir.read(taken);
        if (!text) return std::nullopt;  // removed by someone else between rename and open
        r = parse_request(*text, dir / "request.bad");
    } catch (const Error& e) {
        // Out of the way first, so the next safe point does not trip over the same file; the
        // error then names the file where it now is.
        ErrorInfo info = e.info();
        if (::renameat(dir.fd(), taken.c_str(), dir.fd(), "request.bad") == 0) info.file = dir / "request.bad";
        raise(e.kind(), std::move(info));
    }
    dir.rename(taken, "claimed." + r->id);
    return r;
}

/// Library side: publishes the answer as "done.<id>" or "failed.<id>" (temp file, then rename, so a
/// tool never reads half an answer) and removes "claimed.<id>".
/// Throws: UsageError (invalid id), IoError.
inline void write_answer(const std::string& control_dir, const Answer& a) {
    if (!valid_id(a.id))
        raise(UsageError({"invalid request id \"" + a.id + "\" in an answer", control_dir, "", -1, {}}));
    auto one_line = [](std::string s) {
        for (char& c : s)
            if (c == '\n' || c == '\r') c = ' ';
        return s;
    };
    char seconds[64];
    // to_chars, not printf: an application may have set a locale whose decimal point is ','.
    auto end = std::to_chars(seconds, seconds + sizeof seconds, a.seconds, std::chars_format::fixed, 6).ptr;
    const std::string text = "status=" + std::to_string(a.status) + "\nfile=" + one_line(a.file) +
                             "\nseconds=" + std::string(seconds, end) + "\nmsg=" + one_line(a.msg) + "\n";
    Dir dir(control_dir);
    const std::string tmp = "tmp.answer." + a.id;
    dir.write_new(tmp, text);
    dir.rename(tmp, (a.ok ? "done." : "failed.") + a.id);
    dir.remove("claimed." + a.id);
}

}  // namespace ckpt::detail::control
