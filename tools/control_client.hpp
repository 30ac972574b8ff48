#pragma once
/// The tool's side of the control directory protocol (include/ckpt/detail/control.hpp, and
/// docs/batch-contract.md section 7): what `ckpt request`, `ckpt status` and the batch-system
/// hooks do to reach a running job. Only the ckpt command (and its tests) include this; the
/// library's side stays in the headers applications include.

#include "ckpt/detail/control.hpp"
#include "ckpt/error.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail::control {

/// Tool side: makes `r` the pending request. Linking a complete temp file to "request" is atomic
/// and fails if one exists, so two tools never overwrite each other's request.
/// Throws: UsageError (a request is already pending; invalid fields), IoError (ENOENT: no
/// control directory, i.e. no job has run there).
inline void write_request(const std::string& control_dir, const Request& r) {
    auto invalid = [&](const std::string& what) {
        raise(UsageError({"invalid request: " + what, control_dir, "", -1, {}}));
    };
    if (!valid_id(r.id)) invalid("id \"" + r.id + "\" is not 1 to 128 characters of [A-Za-z0-9._-]");
    // The same rules as parse_request(): what one writes, the other reads.
    if (const std::string problem = request_dir_problem(r.dir); !problem.empty())
        invalid("dir \"" + r.dir + "\": " + problem);
    if (const std::string problem = r.name.empty() ? std::string() : version_prefix_problem(r.name); !problem.empty())
        invalid("name \"" + r.name + "\": " + problem);

    Dir dir(control_dir);
    const std::string tmp = "tmp.request." + r.id;
    dir.write_new(tmp, format_request(r));
    if (::linkat(dir.fd(), tmp.c_str(), dir.fd(), "request", 0) != 0) {
        const int err = errno;
        if (err == EEXIST) {
            dir.remove(tmp);
            raise(UsageError({"a request is already pending and not yet claimed", dir / "request", "", -1,
                              "wait for its answer (done.* or failed.*), or remove the file if no job will claim it"}));
        }
        // File systems without hard links: check, then rename (a narrow race, but no worse than nothing).
        if (err != EPERM && err != EOPNOTSUPP && err != EXDEV && err != EMLINK) {
            dir.remove(tmp);
            raise(posix_error("linking the request", dir / "request", err));
        }
        if (exists_in(dir, "request")) {
            dir.remove(tmp);
            raise(UsageError({"a request is already pending and not yet claimed", dir / "request", "", -1,
                              "wait for its answer (done.* or failed.*), or remove the file if no job will claim it"}));
        }
        dir.rename(tmp, "request");
        return;
    }
    dir.remove(tmp);
}

/// Tool side: takes back our unclaimed request `id`, so a job does not act on it later. Returns
/// false if it was already claimed (or is not there); another tool's request is left in place.
inline bool withdraw_request(const std::string& control_dir, const std::string& id) {
    Dir dir(control_dir);
    const std::string taken = "withdrawn." + new_request_id();
    if (!dir.rename("request", taken)) return false;
    std::optional<std::string> text;
    try {
        text = dir.read(taken);
    } catch (const Error&) {
    }
    std::optional<Request> r;
    try {
        if (text) r = parse_request(*text, dir / taken);
    } catch (const ConfigError&) {
    }
    if (r && r->id == id) {
        dir.remove(taken);
        return true;
    }
    // Not ours: put it back (unless a new one arrived meanwhile, which then wins).
    if (::linkat(dir.fd(), taken.c_str(), dir.fd(), "request", 0) != 0 && errno != EEXIST) dir.rename(taken, "request");
    dir.remove(taken);
    return false;
}

/// Tool side: the answer to request `id`, or nullopt if there is none yet.
/// Throws: UsageError (invalid id), FormatError (a malformed answer, naming file and line), IoError.
inline std::optional<Answer> read_answer(const std::string& control_dir, const std::string& id) {
    if (!valid_id(id)) raise(UsageError({"invalid request id \"" + id + "\"", control_dir, "", -1, {}}));
    Dir dir(control_dir);
    for (bool ok : {true, false}) {
        const std::string name = (ok ? "done." : "failed.") + id;
        auto text = dir.read(name);
        if (!text) continue;
        Answer a;
        a.id = id;
        a.ok = ok;
        std::size_t line_no = 0;
        for (std::string line : split(*text, '\n')) {
            ++line_no;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            const std::size_t eq = line.find('=');
            if (eq == std::string::npos) continue;  // blank; later versions may add lines
            const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
            auto bad = [&] {
                raise(FormatError(
                    {"malformed answer: line " + std::to_string(line_no) + ": bad value \"" + value + "\" for " + key,
                     dir / name,
                     "",
                     -1,
                     {}}));
            };
            if (key == "status") {
                const char* b = value.data();
                auto res = std::from_chars(b, b + value.size(), a.status);
                if (value.empty() || res.ec != std::errc() || res.ptr != b + value.size()) bad();
            } else if (key == "seconds") {
                const char* b = value.data();
                auto res = std::from_chars(b, b + value.size(), a.seconds);
                if (value.empty() || res.ec != std::errc() || res.ptr != b + value.size()) bad();
            } else if (key == "file") {
                a.file = value;
            } else if (key == "msg") {
                a.msg = value;
            }
        }
        return a;
    }
    return std::nullopt;
}

/// Tool side: removes the answer to request `id` once it has been read (the asker consumes it).
inline void remove_answer(const std::string& control_dir, const std::string& id) {
    if (!valid_id(id)) raise(UsageError({"invalid request id \"" + id + "\"", control_dir, "", -1, {}}));
    Dir dir(control_dir);
    dir.remove("done." + id);
    dir.remove("failed." + id);
}

/// Tool side: the processes that have pid files in the directory, by pid. `alive` needs the file
/// to be from this host, the process to exist (kill(pid, 0) succeeds or says EPERM) and the file's
/// lock to be held. The probe takes a shared lock: it conflicts with the owner's exclusive one
/// but not with other probes, and it works on a read-only descriptor.
inline std::vector<Process> processes(const std::string& control_dir) {
    Dir dir(control_dir);
    const std::string host = host_name();
    std::vector<Process> out;
    for (const auto& name : dir.entries()) {
        if (name.rfind("pid.", 0) != 0) continue;
        const std::size_t dot = name.rfind('.');
        const auto pid = to_uint(std::string_view(name).substr(dot + 1), LONG_MAX);
        if (dot <= 4 || !pid || *pid == 0) continue;
        Process p;
        p.pid = static_cast<long>(*pid);
        p.host = name.substr(4, dot - 4);
        p.pid_file = dir / name;
        if (p.host == host && (::kill(static_cast<pid_t>(p.pid), 0) == 0 || errno == EPERM)) {
            Fd f(::openat(dir.fd(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
            if (f.get() >= 0) {
                if (::flock(f.get(), LOCK_SH | LOCK_NB) == 0)
                    p.alive = false;  // nobody holds it: the pid was reused by another program
                else
                    p.alive = true;  // EWOULDBLOCK (held), or no locks on this file system: trust kill()
            }
        }
        out.push_back(std::move(p));
    }
    std::sort(out.begin(), out.end(),
              [](const Process& a, const Process& b) { return a.host != b.host ? a.host < b.host : a.pid < b.pid; });
    return out;
}

/// The control directories process `pid` has pid files open in (readlink of /proc/<pid>/fd/*).
/// Empty if the process does not exist or its descriptors are not ours to read.
inline std::vector<std::string> control_dirs_of(long pid) {
    std::vector<std::string> out;
    const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = ::opendir(fd_dir.c_str());
    if (!d) return out;
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char target[PATH_MAX + 1];
        const ssize_t n = ::readlink((fd_dir + "/" + e->d_name).c_str(), target, PATH_MAX);
        if (n <= 0) continue;
        const std::string link(target, static_cast<std::size_t>(n));
        const std::size_t slash = link.rfind('/');
        if (link.empty() || link[0] != '/' || slash == std::string::npos || slash < 6) continue;
        if (link.compare(slash + 1, 4, "pid.") != 0 || link.compare(slash - 6, 6, "/.ckpt") != 0) continue;
        if (link.size() > 10 && link.compare(link.size() - 10, 10, " (deleted)") == 0) continue;
        out.push_back(link.substr(0, slash));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

/// One line of /proc/<pid>/stat, the fields the tool needs.
struct ProcStat {
    long pid = 0, ppid = 0, pgrp = 0, session = 0;
};

/// Every process visible in /proc (those that exit while we read are skipped).
inline std::vector<ProcStat> process_table() {
    std::vector<ProcStat> out;
    DIR* d = ::opendir("/proc");
    if (!d) {
        const int err = errno;
        raise(posix_error("listing processes", "/proc", err));
    }
    while (const dirent* e = ::readdir(d)) {
        if (!is_digits(e->d_name)) continue;
        Fd f(::open(("/proc/" + std::string(e->d_name) + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
        if (f.get() < 0) continue;
        char buf[1024];
        const ssize_t n = ::read(f.get(), buf, sizeof buf - 1);
        if (n <= 0) continue;
        const std::string line(buf, static_cast<std::size_t>(n));
        // "pid (comm) state ppid pgrp session ...": comm may hold spaces and ')', so use the last ')'.
        const std::size_t close = line.rfind(')');
        if (close == std::string::npos) continue;
        const auto fields = split(trim(line.substr(close + 1)), ' ');
        if (fields.size() < 4) continue;
        ProcStat p;
        p.pid = std::atol(e->d_name);
        p.ppid = std::atol(fields[1].c_str());
        p.pgrp = std::atol(fields[2].c_str());
        p.session = std::atol(fields[3].c_str());
        out.push_back(p);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(), [](const ProcStat& a, const ProcStat& b) { return a.pid < b.pid; });
    return out;
}

/// The pids of session `sid`, ascending.
inline std::vector<long> session_members(long sid) {
    std::vector<long> out;
    for (const auto& p : process_table())
        if (p.session == sid) out.push_back(p.pid);
    return out;
}

/// The pids of process group `pgid`, ascending.
inline std::vector<long> group_members(long pgid) {
    std::vector<long> out;
    for (const auto& p : process_table())
        if (p.pgrp == pgid) out.push_back(p.pid);
    return out;
}

/// `roots` and all their descendants, ascending. MPICH's hydra starts every rank in a session of
/// its own, so a job's ranks are descendants of its session's launcher, not members of the session.
inline std::vector<long> with_descendants(const std::vector<long>& roots) {
    const auto table = process_table();
    std::vector<long> out = roots;
    for (std::size_t i = 0; i < out.size(); ++i)
        for (const auto& p : table)
            if (p.ppid == out[i] && p.pid != out[i] && std::find(out.begin(), out.end(), p.pid) == out.end())
                out.push_back(p.pid);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}
inline std::vector<long> with_descendants(long pid) { return with_descendants(std::vector<long>{pid}); }

}  // namespace ckpt::detail::control
