#pragma once
/// The crash-consistent commit: write `<name>.<seq>.h5.tmp`, fsync it, rename it to
/// `<name>.<seq>.h5`, fsync the directory. A file with a final name is therefore always complete.
/// Names, listing and rotation of versions: version_dir.hpp.

#include "ckpt/detail/version_dir.hpp"
#include "ckpt/error.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace ckpt::detail {

/// fsync a file or directory by path, so its data or its entries reach stable storage.
inline void fsync_path(const std::string& path, bool directory) {
    int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : (O_RDONLY | O_NOFOLLOW));
    if (fd < 0) raise(posix_error("open for fsync", path, errno));
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) raise(posix_error("fsync", path, err));
}

/// Makes `tmp` visible as `final_path`, durably. On failure before the rename, the temporary is
/// removed and no committed version has been touched. Once renamed, the version is committed
/// (visible, and complete on disk): a failing fsync of the directory then only means that the new
/// name might not survive a power loss, which is returned as a warning, not thrown.
/// `fsync_directory` is the step's seam for tests.
/// `created` is the temporary's identity from its exclusive creation: what is renamed must be it.
inline std::string commit(const std::string& tmp, const std::string& final_path, const FileIdentity& created,
                          void (*fsync_directory)(const std::string&, bool) = fsync_path) {
    try {
        check_identity(tmp, created, "the temporary checkpoint file");
        fsync_path(tmp, false);
        if (::rename(tmp.c_str(), final_path.c_str()) != 0) raise(posix_error("rename to " + final_path, tmp, errno));
    } catch (...) {
        ::unlink(tmp.c_str());  // a link put in its place is removed, not followed
        throw;
    }
    try {
        fsync_directory(parent_directory(final_path), true);
    } catch (const Error& e) {
        return final_path + " is committed, but its directory could not be synced, so the new name may not "
                            "survive a power failure: " + e.sentence();
    }
    return {};
}

}  // namespace ckpt::detail
