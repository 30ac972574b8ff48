#pragma once
/// Versioned files in the checkpoint directory and the crash-consistent commit:
/// write `<name>.<seq>.h5.tmp`, fsync it, rename it to `<name>.<seq>.h5`, fsync the directory. A file with a final name is therefore always complete. Rotation keeps `depth`
/// complete versions and never deletes the newest one.

#include "ckpt/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace ckpt::detail {

struct Version {
    std::uint64_t sequence = 0;
    std::string path;
    bool temporary = false;  ///< an uncommitted `.tmp` file
};

inline std::string version_file_name(const std::string& name, std::uint64_t seq) {
    char digits[32];
    std::snprintf(digits, sizeof digits, "%06llu", static_cast<unsigned long long>(seq));
    return name + "." + digits + ".h5";
}
inline std::string join_path(const std::string& dir, const std::string& file) {
    return dir.empty() || dir.back() == '/' ? dir + file : dir + "/" + file;
}

/// Parses "<name>.<digits>.h5[.tmp|.reserve]"; false for any other file name. Both suffixes are
/// a write in progress (or a crashed one): the temporary and its metadata reserve (store.hpp).
inline bool parse_version_name(const std::string& file, const std::string& name, Version& out) {
    if (file.size() <= name.size() + 1 || file.compare(0, name.size(), name) != 0 || file[name.size()] != '.')
        return false;
    std::string rest = file.substr(name.size() + 1);
    auto strip = [&rest](const std::string& suffix) {
        const bool has = rest.size() > suffix.size() && rest.compare(rest.size() - suffix.size(), suffix.size(), suffix) == 0;
        if (has) rest.resize(rest.size() - suffix.size());
        return has;
    };
    out.temporary = strip(".tmp") || strip(".reserve");
    if (rest.size() < 4 || rest.compare(rest.size() - 3, 3, ".h5") != 0) return false;
    rest.resize(rest.size() - 3);
    if (rest.empty() || rest.size() > 19 || !std::all_of(rest.begin(), rest.end(), ::isdigit)) return false;
    out.sequence = std::stoull(rest);
    return true;
}

/// Every version of `name` in `dir`, oldest first; an absent directory has none.
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
        return a.sequence != b.sequence ? a.sequence < b.sequence : a.temporary < b.temporary;
    });
    return out;
}

inline std::vector<Version> complete_versions(const std::string& dir, const std::string& name) {
    auto all = list_versions(dir, name);
    all.erase(std::remove_if(all.begin(), all.end(), [](const Version& v) { return v.temporary; }), all.end());
    return all;
}

/// mkdir -p, naming the directory that could not be made.
inline void make_directories(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) raise(posix_error("creating checkpoint directory", dir, ec.value(), "check --checkpoint-dir / CKPT_DIR"));
}

/// fsync a file or directory by path, so its data or its entries reach stable storage.
inline void fsync_path(const std::string& path, bool directory) {
    int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
    if (fd < 0) raise(posix_error("open for fsync", path, errno));
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) raise(posix_error("fsync", path, err));
}

inline std::string parent_directory(const std::string& path) {
    auto parent = std::filesystem::path(path).parent_path().string();
    return parent.empty() ? "." : parent;
}

/// Makes `tmp` visible as `final_path`, durably. On failure the temporary is removed and no
/// committed version has been touched.
inline void commit(const std::string& tmp, const std::string& final_path) {
    const std::string dir = parent_directory(final_path);
    try {
        fsync_path(tmp, false);
        if (::rename(tmp.c_str(), final_path.c_str()) != 0) raise(posix_error("rename to " + final_path, tmp, errno));
        fsync_path(dir, true);
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
}

/// Deletes complete versions beyond `depth` (0 keeps all) and temporaries older than `newest`.
/// Returns the paths it could not delete; the caller warns (the new version is already safe).
inline std::vector<std::string> rotate(const std::string& dir, const std::string& name, unsigned depth,
                                       std::uint64_t newest) {
    std::vector<std::string> failed;
    auto remove = [&failed](const std::string& path) {
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) failed.push_back(path);
    };
    auto all = list_versions(dir, name);
    std::vector<Version> complete;
    for (const auto& v : all) {
        if (v.temporary && v.sequence < newest) remove(v.path);
        if (!v.temporary) complete.push_back(v);
    }
    if (depth > 0 && complete.size() > depth) {
        // complete is oldest first; the newest `depth` (which include the newest) stay.
        for (std::size_t i = 0; i + depth < complete.size(); ++i) remove(complete[i].path);
    }
    return failed;
}

}  // namespace ckpt::detail
