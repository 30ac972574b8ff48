#pragma once
/// Disk space held back for a checkpoint's HDF5 metadata, and for its compressed data.
///
/// HDF5 1.10 writes a file's metadata in a collective flush whose errors are not agreed across
/// ranks: when that flush meets a full disk on one rank, the others wait inside it forever. So
/// the space the metadata needs is taken first, in a side file, before the HDF5 file exists; it is
/// given back just before the metadata flush, which then finds the room it needs. A disk too full
/// for the reserve fails cleanly, before any collective HDF5 call. Compressed data is written in
/// collective calls too (detail/store.hpp, write_filtered()): its room, at most its raw size and
/// a little, stays held past the metadata flush and is given back just before those calls.

#include "ckpt/detail/version_dir.hpp"
#include "ckpt/error.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::detail {

class SpaceReserve {
public:
    SpaceReserve() = default;
    SpaceReserve(const SpaceReserve&) = delete;
    SpaceReserve& operator=(const SpaceReserve&) = delete;
    ~SpaceReserve() { release(); }

    /// Allocates `bytes` of disk for `what` in a new file at `path`, which must not exist (never
    /// a planted file or link). Throws IoError naming the file, with nothing left behind.
    void hold(const std::string& path, std::uint64_t bytes, const std::string& what = "the checkpoint's metadata") {
        release();
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) raise(posix_error("creating the metadata reserve", path, errno, refusal_hint(errno)));
        path_ = path;
        const int err = allocate(fd, bytes);
        ::close(fd);
        if (err != 0) {
            release();
            raise(posix_error("reserving " + std::to_string(bytes) + " bytes for " + what, path,
                              err, "free space in the checkpoint directory, or lower the depth"));
        }
    }

    /// Gives all but `bytes` of the space back (they stay held). Throws IoError naming the file.
    void shrink_to(std::uint64_t bytes) {
        if (path_.empty()) return;
        if (::truncate(path_.c_str(), static_cast<off_t>(bytes)) != 0)
            raise(posix_error("giving back part of the checkpoint's space reserve", path_, errno, ""));
    }

    /// Gives the space back (unlinks the file). Idempotent.
    void release() noexcept {
        if (!path_.empty()) ::unlink(path_.c_str());
        path_.clear();
    }

    bool held() const noexcept { return !path_.empty(); }

    /// The allocation unit for a file at `path`: the file system's block, at least a memory page
    /// (tmpfs), at most 64 KiB (GPFS reports its full block, but allocates sub-blocks).
    static std::uint64_t block_size(const std::string& path) {
        std::uint64_t block = static_cast<std::uint64_t>(std::max(::sysconf(_SC_PAGESIZE), 4096L));
        struct statvfs fs {};
        const auto slash = path.rfind('/');
        const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
        if (::statvfs(dir.c_str(), &fs) == 0) block = std::max<std::uint64_t>(block, fs.f_bsize);
        return std::min<std::uint64_t>(block, 64 << 10);
    }

private:
    /// fallocate() where the file system has it; written zeros where it does not (NFSv3, older
    /// Lustre), which allocate the same blocks. Returns 0 or an errno.
    static int allocate(int fd, std::uint64_t bytes) {
        if (bytes == 0) return 0;
        if (::fallocate(fd, 0, 0, static_cast<off_t>(bytes)) == 0) return 0;
        if (errno != EOPNOTSUPP && errno != ENOSYS) return errno;
        const std::vector<char> zeros(std::min<std::uint64_t>(bytes, 1 << 20), 0);
        for (std::uint64_t done = 0; done < bytes;) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), bytes - done));
            const ssize_t w = ::write(fd, zeros.data(), n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return w < 0 ? errno : ENOSPC;
            done += static_cast<std::uint64_t>(w);
        }
        return ::fsync(fd) == 0 ? 0 : errno;
    }

    std::string path_;
};

}  // namespace ckpt::detail
