#pragma once
/// One running job per (checkpoint directory, name). Two jobs writing the same versions delete
/// each other's files and can commit a torn one; it happens for real when an orphaned rank of a
/// killed job still runs while the job is resubmitted.
///
/// Rank 0 holds `<dir>/.ckpt/lock.<name>` open and flock()ed for the Checkpointer's lifetime; the
/// file says who holds it (host, pid). The kernel drops the lock when the process dies, however it
/// dies, so a crashed job never blocks its own restart. A second job fails at construction with an
/// IoError of errno EBUSY, exit status 75 (EX_TEMPFAIL: try again once the holder has ended).
/// Checkpointers of one process share the lock (a registry, as for pid files).

#include "ckpt/detail/control.hpp"
#include "ckpt/error.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail {

class JobLock {
public:
    /// Takes the lock on (`dir`, `name`), creating the directories it needs.
    /// Throws: IoError (EBUSY: another job holds it, named in the message; or the file system's error).
    JobLock(const std::string& dir, const std::string& name) {
        const std::string control_dir = control::directory(dir);
        for (std::string d = dir; !d.empty() && d != "." && d != "/"; d = parent_directory(d)) {
            struct stat before {};
            if (::stat(d.c_str(), &before) == 0 || errno != ENOENT) break;
            made_.push_back(d);  // deepest first
        }
        control::make_control_directory(control_dir);
        control::Dir d(control_dir);
        struct stat st {};
        ::fstat(d.fd(), &st);
        key_ = {{st.st_dev, st.st_ino}, name};
        auto& t = table();
        std::lock_guard<std::mutex> guard(t.mutex);
        auto it = t.held.find(key_);
        if (it != t.held.end() && it->second.lock->creator != ::getpid()) {  // a forked child's copy
            it->second.lock.release();  // the parent's descriptors: neither closed nor unlocked here
            t.held.erase(it);
            it = t.held.end();
        }
        if (it == t.held.end()) it = t.held.emplace(key_, Entry{acquire(d, "lock." + name), 0}).first;
        ++it->second.refs;
        path_ = it->second.lock->path;
    }
    ~JobLock() {
        auto& t = table();
        std::lock_guard<std::mutex> guard(t.mutex);
        auto it = t.held.find(key_);
        if (it == t.held.end() || it->second.lock->creator != ::getpid() || --it->second.refs > 0) return;
        t.held.erase(it);  // the Held's destructor removes the file and unlocks
    }
    JobLock(const JobLock&) = delete;
    JobLock& operator=(const JobLock&) = delete;

    const std::string& path() const noexcept { return path_; }
    /// The directories this lock created for the checkpoint directory, deepest first (so unused
    /// ones can go with it).
    const std::vector<std::string>& made_directories() const noexcept { return made_; }

private:
    struct Held {
        int dir_fd = -1, fd = -1;
        std::string file, path;
        pid_t creator = 0;
        Held() = default;
        Held(const Held&) = delete;
        Held& operator=(const Held&) = delete;
        ~Held() {
            // Unlinked while still locked: a job that opened the old file then finds it gone
            // (acquire() checks), so two jobs never hold two different files.
            struct stat mine {}, there{};
            if (::fstat(fd, &mine) == 0 && ::fstatat(dir_fd, file.c_str(), &there, AT_SYMLINK_NOFOLLOW) == 0 &&
                mine.st_ino == there.st_ino && mine.st_dev == there.st_dev)
                ::unlinkat(dir_fd, file.c_str(), 0);
            ::close(fd);
            ::close(dir_fd);
        }
    };
    struct Entry {
        std::unique_ptr<Held> lock;
        long refs = 0;
    };
    using Key = std::pair<std::pair<dev_t, ino_t>, std::string>;
    struct Table {
        std::mutex mutex;
        std::map<Key, Entry> held;
    };
    static Table& table() {
        static Table* t = new Table;  // never destroyed: a static Checkpointer may outlive it
        return *t;
    }

    static std::unique_ptr<Held> acquire(const control::Dir& d, const std::string& file) {
        auto h = std::make_unique<Held>();
        h->file = file;
        h->path = d / file;
        for (int attempt = 0; attempt < 100; ++attempt) {
            control::Fd f(::openat(d.fd(), file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
            if (f.get() < 0) {
                const int err = errno;
                raise(posix_error("creating the job lock", h->path, err,
                                  err == ELOOP ? "it is a symbolic link; refusing to follow it" : ""));
            }
            if (::flock(f.get(), LOCK_EX | LOCK_NB) != 0) {
                const int err = errno;
                if (err == EWOULDBLOCK) raise(busy(h->path, holder(f.get())));
                // No locks on this file system (Lustre without -o flock): say so, and go on unprotected.
                if (err == ENOLCK || err == EOPNOTSUPP || err == ENOSYS || err == EINVAL) {
                    std::fprintf(stderr,
                                 "ckpt: warning: cannot lock %s (%s): two jobs sharing this checkpoint directory "
                                 "and name would not be detected\n",
                                 h->path.c_str(), std::strerror(err));
                } else {
                    raise(posix_error("locking the job lock", h->path, err));
                }
            }
            // The holder we waited for may have removed the file meanwhile: lock what the name is.
            struct stat mine {}, there{};
            if (::fstat(f.get(), &mine) != 0 || ::fstatat(d.fd(), file.c_str(), &there, AT_SYMLINK_NOFOLLOW) != 0 ||
                mine.st_ino != there.st_ino || mine.st_dev != there.st_dev)
                continue;
            const std::string text =
                "host=" + control::host_name() + "\npid=" + std::to_string(static_cast<long>(::getpid())) + "\n";
            if (::ftruncate(f.get(), 0) != 0 ||
                ::pwrite(f.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
                const int err = errno;
                raise(posix_error("writing the job lock", h->path, err));
            }
            h->dir_fd = ::openat(d.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (h->dir_fd < 0) {
                const int err = errno;
                ::unlinkat(d.fd(), file.c_str(), 0);
                raise(posix_error("opening control directory", d.path(), err));
            }
            h->fd = f.release();
            h->creator = ::getpid();
            return h;
        }
        raise(posix_error("locking the job lock", h->path, EAGAIN, "the lock file keeps being replaced"));
    }

    /// "host H, pid P" from the holder's lock file, or what can be said without it.
    static std::string holder(int fd) {
        char buf[512] = "";
        const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        std::string text(buf, n > 0 ? static_cast<std::size_t>(n) : 0), host, pid;
        for (std::size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
            const std::string line = text.substr(pos, nl - pos);
            if (line.rfind("host=", 0) == 0) host = line.substr(5);
            if (line.rfind("pid=", 0) == 0) pid = line.substr(4);
        }
        if (host.empty() || pid.empty()) return "a process that has not yet said who it is";
        return "host " + host + ", pid " + pid;
    }

    static IoError busy(const std::string& path, const std::string& who) {
        ErrorInfo i("another job is using this checkpoint directory and name: the lock is held by " + who, path, "", -1,
                    "wait for that job to end (or kill it: an orphaned rank of a killed job holds it until it exits), "
                    "or give this job its own --checkpoint-dir or name=");
        i.errno_value = EBUSY;
        return IoError(std::move(i));
    }

    Key key_;
    std::string path_;
    std::vector<std::string> made_;
};

}  // namespace ckpt::detail
