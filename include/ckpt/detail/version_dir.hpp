#pragma once
/// The checkpoint directory's versions: their names, listing, quarantine and retention. The one
/// home of these rules; the library, `ckpt list/prune` and the restore fallback all use it.
///
///   <name>.<seq>.h5           a committed version (complete: see atomic_commit.hpp)
///   <name>.<seq>.h5.tmp       a write in progress, or a crashed one
///   <name>.<seq>.h5.reserve   its metadata room (store.hpp), equally in progress
///   <name>.<seq>.h5.bad       a committed version that failed verification at a restore: kept for
///                             inspection, never counted as one of the `depth` versions kept
///
/// A node cache (docs/multilevel.md) holds one file per rank and version, with the same suffixes:
///   <name>.<seq>.rank<r>.h5   rank r's part of version <seq> (its own, or a partner's copy)

#include "ckpt/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ckpt::detail {

/// For each version (by sequence number), the older versions whose files it refers to: an
/// incremental version's links (docs/incremental.md). A version that refers to nothing may be absent.
using References = std::map<std::uint64_t, std::vector<std::uint64_t>>;

struct Version {
    std::uint64_t sequence = 0;
    std::string path;
    bool temporary = false;    ///< `.tmp` or `.reserve`: an uncommitted write
    bool quarantined = false;  ///< `.bad`: failed verification; not a candidate, not counted
    bool committed() const noexcept { return !temporary && !quarantined; }
};

/// Why `name` cannot be the prefix of version files, or "" if it can: the one rule for
/// --checkpoint name=, CKPT_NAME, Options::name, requests and the ckpt command. A leading '.'
/// would hide the files (and could clash with the control directory `.ckpt`); a control
/// character cannot travel in a request file or a log line.
inline std::string version_prefix_problem(const std::string& name) {
    if (name.empty()) return "it is empty";
    if (name.find('/') != std::string::npos) return "it contains '/'";
    if (name[0] == '.') return "it starts with '.'";
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f) return "it contains a control character";
    return {};
}
/// What version_prefix_problem() accepts, for messages.
inline const char* version_prefix_rule() {
    return "a file name prefix without '/' or control characters that does not start with '.'";
}

/// Suffix a quarantined version gets.
inline const char* quarantine_suffix() { return ".bad"; }

inline std::string version_file_name(const std::string& name, std::uint64_t seq) {
    char digits[32];
    std::snprintf(digits, sizeof digits, "%06llu", static_cast<unsigned long long>(seq));
    return name + "." + digits + ".h5";
}
inline std::string join_path(const std::string& dir, const std::string& file) {
    return dir.empty() || dir.back() == '/' ? dir + file : dir + "/" + file;
}
inline std::string parent_directory(const std::string& path) {
    auto parent = std::filesystem::path(path).parent_path().string();
    return parent.empty() ? "." : parent;
}

/// Removes the suffix after ".h5" that marks a temporary or quarantined file; `rest` keeps the
/// "<name>.<digits>.h5" part.
inline void strip_version_suffix(std::string& rest, Version& out) {
    auto strip = [&rest](const std::string& suffix) {
        const bool has = rest.size() > suffix.size() && rest.compare(rest.size() - suffix.size(), suffix.size(), suffix) == 0;
        if (has) rest.resize(rest.size() - suffix.size());
        return has;
    };
    out.temporary = strip(".tmp") || strip(".reserve");
    out.quarantined = !out.temporary && strip(quarantine_suffix());
}

/// Parses "<name>.<digits>.h5[.tmp|.reserve|.bad]"; false for any other file name.
inline bool parse_version_name(const std::string& file, const std::string& name, Version& out) {
    if (file.size() <= name.size() + 1 || file.compare(0, name.size(), name) != 0 || file[name.size()] != '.')
        return false;
    std::string rest = file.substr(name.size() + 1);
    strip_version_suffix(rest, out);
    if (rest.size() < 4 || rest.compare(rest.size() - 3, 3, ".h5") != 0) return false;
    rest.resize(rest.size() - 3);
    if (rest.empty() || rest.size() > 19 || !std::all_of(rest.begin(), rest.end(), ::isdigit)) return false;
    out.sequence = std::stoull(rest);
    return true;
}

/// Splits any version file name at its last numeric component, finding the name prefix.
inline bool split_version_name(const std::string& file, std::string& name, Version& v) {
    std::string rest = file;
    strip_version_suffix(rest, v);
    if (rest.size() < 4 || rest.compare(rest.size() - 3, 3, ".h5") != 0) return false;
    rest.resize(rest.size() - 3);
    const std::size_t dot = rest.rfind('.');
    if (dot == std::string::npos || dot == 0) return false;
    name = rest.substr(0, dot);
    return parse_version_name(file, name, v);  // one rule decides
}

/// A node cache's file of one rank's part: "<name>.<seq>.rank<r>.h5".
inline std::string cached_part_name(const std::string& name, std::uint64_t seq, int rank) {
    const std::string file = version_file_name(name, seq);
    return file.substr(0, file.size() - 3) + ".rank" + std::to_string(rank) + ".h5";
}

/// One file in a node cache.
struct CachedPart {
    Version version;
    int rank = -1;
};

/// "<stem>.rank<r>.h5[.tmp|.reserve|.bad]": the rank, the suffix's flags, and the version by
/// `parse_version("<stem>.h5", out.version)`; false for any other file name.
template <class ParseVersion>
bool parse_part_name_with(const std::string& file, CachedPart& out, ParseVersion&& parse_version) {
    std::string rest = file;
    Version flags;
    strip_version_suffix(rest, flags);
    if (rest.size() < 4 || rest.compare(rest.size() - 3, 3, ".h5") != 0) return false;
    rest.resize(rest.size() - 3);
    const std::size_t at = rest.rfind(".rank");
    if (at == std::string::npos) return false;
    const std::string digits = rest.substr(at + 5);
    if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return false;
    if (!parse_version(rest.substr(0, at) + ".h5", out.version)) return false;
    out.version.temporary = flags.temporary;
    out.version.quarantined = flags.quarantined;
    out.rank = std::stoi(digits);
    return true;
}

/// Parses "<name>.<seq>.rank<r>.h5[.tmp|.reserve|.bad]" (the version part by parse_version_name's
/// rule); false for any other file name.
inline bool parse_cached_part_name(const std::string& file, const std::string& name, CachedPart& out) {
    return parse_part_name_with(file, out, [&](const std::string& f, Version& v) { return parse_version_name(f, name, v); });
}

/// As parse_cached_part_name, for any name prefix, which it finds (split_version_name's rule).
inline bool split_cached_part_name(const std::string& file, std::string& name, CachedPart& out) {
    return parse_part_name_with(file, out, [&](const std::string& f, Version& v) { return split_version_name(f, name, v); });
}

/// Every file of `name` in the node cache `dir`, by sequence then rank; an absent directory has none.
inline std::vector<CachedPart> list_cached_parts(const std::string& dir, const std::string& name) {
    std::vector<CachedPart> out;
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec), end;
    if (ec) {
        if (ec == std::errc::no_such_file_or_directory) return out;
        raise(posix_error("opening the node cache", dir, ec.value(), "check cache= / CKPT_CACHE_DIR"));
    }
    for (; it != end; it.increment(ec)) {
        CachedPart p;
        const std::string file = it->path().filename().string();
        if (parse_cached_part_name(file, name, p)) {
            p.version.path = join_path(dir, file);
            out.push_back(p);
        }
    }
    std::sort(out.begin(), out.end(), [](const CachedPart& a, const CachedPart& b) {
        return a.version.sequence != b.version.sequence ? a.version.sequence < b.version.sequence : a.rank < b.rank;
    });
    return out;
}

/// Every version of `name` in `dir`, oldest first (final before temporary or quarantined for one
/// sequence number); an absent directory has none.
inline std::vector<Version> list_versions(const std::string& dir, const std::string& name) {
    std::vector<Version> out;
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec), end;
    if (ec) {
        if (ec == std::errc::no_such_file_or_directory) return out;
        raise(posix_error("opening checkpoint directory", dir, ec.value()));
    }
    for (; it != end; it.increment(ec)) {
        Version v;
        const std::string file = it->path().filename().string();
        if (parse_version_name(file, name, v)) {
            v.path = join_path(dir, file);
            out.push_back(v);
        }
    }
    std::sort(out.begin(), out.end(), [](const Version& a, const Version& b) {
        if (a.sequence != b.sequence) return a.sequence < b.sequence;
        return a.committed() > b.committed();
    });
    return out;
}

/// The committed versions (candidates for --restart latest), oldest first.
inline std::vector<Version> committed_versions(const std::string& dir, const std::string& name) {
    auto all = list_versions(dir, name);
    all.erase(std::remove_if(all.begin(), all.end(), [](const Version& v) { return !v.committed(); }), all.end());
    return all;
}

/// mkdir -p, naming the directory that could not be made, `what` it is and where it is set.
inline void make_directories(const std::string& dir, const char* what = "checkpoint directory",
                             const char* set_by = "--checkpoint-dir / CKPT_DIR") {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) raise(posix_error(std::string("creating ") + what, dir, ec.value(), std::string("check ") + set_by));
}

/// The hint for a file this write must create but found already there.
inline std::string refusal_hint(int err) {
    return err == EEXIST || err == ELOOP ? "something else put a file or link there; ckpt never writes through a file "
                                           "it did not create (check who else can write the directory)"
                                         : "";
}

/// A file's identity, to tell later that a path still names the file this process created.
struct FileIdentity {
    dev_t dev = 0;
    ino_t ino = 0;
};

/// Creates `path` as a new, empty file of this user's (mode 0600), never following or reusing
/// what is there: a file or symlink planted at the name is an error. Throws: IoError naming it.
inline FileIdentity create_exclusive(const std::string& path, const char* what) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        const int err = errno;
        raise(posix_error(std::string("creating ") + what, path, err, refusal_hint(err)));
    }
    struct stat st {};
    ::fstat(fd, &st);
    ::close(fd);
    return {st.st_dev, st.st_ino};
}

/// Throws IoError unless `path` still names the regular file `id` (not a link put in its place).
inline void check_identity(const std::string& path, const FileIdentity& id, const char* what) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) raise(posix_error(std::string("checking ") + what, path, errno));
    if (!S_ISREG(st.st_mode) || st.st_dev != id.dev || st.st_ino != id.ino)
        raise(posix_error(std::string(what) + " was replaced while being written", path, EEXIST,
                          "another user can replace files in this directory: use a directory only you can write"));
}

/// Why a version found by listing must not be restored without being asked for by name, or "":
/// in a directory that other users can write, a file they own may be one they planted.
inline std::string foreign_problem(const std::string& dir, const std::string& path) {
    struct stat d {}, f {};
    if (::stat(dir.c_str(), &d) != 0 || (d.st_mode & (S_IWGRP | S_IWOTH)) == 0) return {};
    if (::lstat(path.c_str(), &f) != 0 || f.st_uid == ::geteuid()) return {};
    return "owned by uid " + std::to_string(f.st_uid) + ", not by this user (uid " + std::to_string(::geteuid()) +
           "), in a directory other users can write; restore it by name (--restart <path>) if you trust it";
}

/// Renames a committed version that failed verification to `<file>.bad`, so that neither
/// --restart latest nor rotation counts it again. Returns the new path.
/// Throws: IoError naming the file.
inline std::string quarantine(const std::string& path) {
    const std::string bad = path + quarantine_suffix();
    if (::rename(path.c_str(), bad.c_str()) != 0) raise(posix_error("quarantining a corrupt version", path, errno));
    return bad;
}

/// What retention does with one file.
struct Retained {
    const Version* version;
    bool keep;
    std::string reason;
};

/// Which of `versions` (one name, any order) to keep with `depth` (0: all) good versions. `good`
/// says whether a committed version counts as good (the library trusts its commits; `ckpt prune`
/// examines each). Never deletes the newest good version. Quarantined and bad versions are never
/// counted; they are kept while newer than the oldest good version kept, for inspection.
/// Temporaries older than the newest good version are deleted (a write of theirs cannot be
/// running), newer ones are kept (one may be in progress). Every version that a kept version
/// refers to (`references`, followed to its end) is kept too, whatever the depth: no kept file
/// is left pointing at a deleted one.
template <class Good>
std::vector<Retained> plan_retention(const std::vector<Version>& versions, unsigned depth, Good&& good,
                                     const References& references = {}) {
    std::vector<const Version*> newest_first;
    for (const auto& v : versions) newest_first.push_back(&v);
    std::sort(newest_first.begin(), newest_first.end(), [](const Version* a, const Version* b) {
        return a->sequence != b->sequence ? a->sequence > b->sequence : a->committed() > b->committed();
    });
    std::vector<bool> is_good;  // asked once per version, newest first
    for (const Version* v : newest_first) is_good.push_back(v->committed() && good(*v));
    std::vector<Retained> plan;
    unsigned kept = 0;
    std::uint64_t newest_good = 0, oldest_kept = 0;
    bool any_good = false;
    for (std::size_t i = 0; i < newest_first.size(); ++i) {
        const Version* v = newest_first[i];
        if (!is_good[i]) continue;
        if (!any_good) newest_good = v->sequence;
        any_good = true;
        if (depth == 0 || kept < depth) {
            ++kept;
            oldest_kept = v->sequence;
            plan.push_back({v, true, "complete, " + std::to_string(kept) + (depth ? " of " + std::to_string(depth) : "")});
        } else {
            plan.push_back({v, false, "older than the newest " + std::to_string(depth) + " complete"});
        }
    }
    // Newest first, so a version kept for a reference passes its own references on further down.
    for (std::size_t k = 0; k < plan.size(); ++k) {
        if (!plan[k].keep) continue;
        const auto refs = references.find(plan[k].version->sequence);
        if (refs == references.end()) continue;
        for (std::uint64_t seq : refs->second)
            for (std::size_t j = k + 1; j < plan.size(); ++j)
                if (plan[j].version->sequence == seq && !plan[j].keep) {
                    plan[j].keep = true;
                    plan[j].reason = "complete, referred to by version " + std::to_string(plan[k].version->sequence) +
                                     " (incremental)";
                    oldest_kept = std::min(oldest_kept, seq);
                }
    }
    for (std::size_t i = 0; i < newest_first.size(); ++i) {
        const Version* v = newest_first[i];
        if (is_good[i]) continue;
        if (v->temporary) {
            if (any_good && v->sequence < newest_good)
                plan.push_back({v, false, "temporary, older than the newest complete version"});
            else
                plan.push_back({v, true, any_good ? "temporary, newer than the newest complete version (may be in progress)"
                                                  : "temporary, no complete version of this name"});
            continue;
        }
        const char* what = v->quarantined ? "quarantined (failed verification at a restore)" : "unreadable";
        if (any_good && v->sequence < oldest_kept)
            plan.push_back({v, false, std::string(what) + ", older than every version kept"});
        else
            plan.push_back({v, true, std::string(what) + ", not counted"});
    }
    return plan;
}

/// The library's rotation after committing `newest` (so the newest good version is `newest`):
/// keeps `depth` committed versions, and the temporaries a write may still own. Returns the paths it could not delete; the caller warns
/// (the new version is already safe).
inline std::vector<std::string> rotate(const std::string& dir, const std::string& name, unsigned depth,
                                       std::uint64_t newest, const References& references) {
    std::vector<std::string> failed;
    const auto all = list_versions(dir, name);
    for (const auto& r : plan_retention(all, depth, [](const Version&) { return true; }, references)) {
        if (r.keep || r.version->sequence >= newest) continue;  // never the version just committed
        if (::unlink(r.version->path.c_str()) != 0 && errno != ENOENT) failed.push_back(r.version->path);
    }
    return failed;
}

/// What rotate_cache() does with each of `parts` (one cache's files), in their order: true to keep.
inline std::vector<bool> plan_cache_retention(const std::vector<CachedPart>& parts, unsigned depth, std::uint64_t newest) {
    std::vector<Version> versions;  // one per sequence number
    for (const auto& p : parts) {
        if (!versions.empty() && versions.back().sequence == p.version.sequence) {
            if (p.version.committed()) versions.back() = p.version;
            continue;
        }
        versions.push_back(p.version);
    }
    std::vector<std::uint64_t> kept;
    for (const auto& r : plan_retention(versions, depth, [](const Version&) { return true; }))
        if (r.keep && r.version->committed()) kept.push_back(r.version->sequence);
    std::vector<bool> keep;
    for (const auto& p : parts) {
        const std::uint64_t seq = p.version.sequence;
        // Never the version just written, nor a newer one in progress.
        keep.push_back(seq >= newest || (std::find(kept.begin(), kept.end(), seq) != kept.end() && !p.version.temporary));
    }
    return keep;
}

/// A node cache's rotation after version `newest` is in every cache: keeps the parts of the
/// newest `depth` versions (plan_retention's rule, a version counting as committed when any part
/// of it is), and removes temporaries older than `newest` (a crashed write's). Returns the paths
/// it could not delete.
inline std::vector<std::string> rotate_cache(const std::string& dir, const std::string& name, unsigned depth,
                                             std::uint64_t newest) {
    const auto parts = list_cached_parts(dir, name);
    const auto keep = plan_cache_retention(parts, depth, newest);
    std::vector<std::string> failed;
    for (std::size_t i = 0; i < parts.size(); ++i)
        if (!keep[i] && ::unlink(parts[i].version.path.c_str()) != 0 && errno != ENOENT) failed.push_back(parts[i].version.path);
    return failed;
}

}  // namespace ckpt::detail
