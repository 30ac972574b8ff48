#pragma once
/// The node-local cache level of multi-level checkpoints (docs/multilevel.md): each rank's part
/// of a version as a file of its own in its node's cache, a partner's copy in the next node's,
/// and where the parts of each cached version are. Names and rotation: version_dir.hpp.

#include "ckpt/detail/mpi/comm.hpp"
#include "ckpt/detail/mpi/nodes.hpp"
#include "ckpt/detail/version_dir.hpp"
#include "ckpt/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail {

/// The cache directory of `node`: `cache` itself on real nodes (a path each node has of its own),
/// <cache>/node<k> for simulated ones.
inline std::string node_cache_dir(const std::string& cache, unsigned simulated, int node) {
    return simulated > 0 ? join_path(cache, "node" + std::to_string(node)) : cache;
}

/// The directories of a cache as the ckpt command sees it from one machine: `cache` itself, and
/// each simulated node's <cache>/node<k> in it.
inline std::vector<std::string> cache_directories(const std::string& cache) {
    std::vector<std::string> dirs{cache};
    std::error_code ec;
    for (std::filesystem::directory_iterator it(cache, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string f = it->path().filename().string();
        if (f.size() > 4 && f.compare(0, 4, "node") == 0 && std::all_of(f.begin() + 4, f.end(), ::isdigit) &&
            it->is_directory())
            dirs.push_back(join_path(cache, f));
    }
    std::sort(dirs.begin() + 1, dirs.end());
    return dirs;
}

namespace image {
inline void put(std::vector<char>& out, std::uint64_t v) {
    const char* p = reinterpret_cast<const char*>(&v);
    out.insert(out.end(), p, p + sizeof v);
}
inline std::uint64_t get(const std::vector<char>& in, std::size_t& at) {
    std::uint64_t v = 0;
    if (at + sizeof v > in.size()) raise(FormatError({"a transferred cache file is truncated", "", "", -1, {}}));
    std::memcpy(&v, in.data() + at, sizeof v);
    at += sizeof v;
    return v;
}
}  // namespace image

/// A file's bytes without its holes, as one buffer: [size][n][n × (offset, length)][the data].
/// A cache file's block entries are sparse (a dataset of the global shape, the rank's box
/// written), so holes are left out (SEEK_DATA; a file system without it sends every byte).
/// Throws: IoError naming the file.
inline std::vector<char> read_file_image(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) raise(posix_error("opening a cached part", path, errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) raise(posix_error("examining a cached part", path, errno));
    const auto size = static_cast<std::uint64_t>(st.st_size);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> extents;
    for (off_t at = 0; static_cast<std::uint64_t>(at) < size;) {
        off_t data = ::lseek(fd, at, SEEK_DATA);
        if (data < 0 && errno == ENXIO) break;  // a hole to the end
        if (data < 0) {
            extents = {{0, size}};  // no SEEK_DATA here: every byte
            break;
        }
        off_t hole = ::lseek(fd, data, SEEK_HOLE);
        if (hole < 0) hole = static_cast<off_t>(size);
        extents.emplace_back(static_cast<std::uint64_t>(data), static_cast<std::uint64_t>(hole - data));
        at = hole;
    }
    std::uint64_t bytes = 0;
    for (const auto& e : extents) bytes += e.second;
    std::vector<char> out;
    out.reserve(static_cast<std::size_t>(16 + 16 * extents.size() + bytes));
    image::put(out, size);
    image::put(out, extents.size());
    for (const auto& e : extents) image::put(out, e.first), image::put(out, e.second);
    for (const auto& e : extents) {
        const std::size_t start = out.size();
        out.resize(start + static_cast<std::size_t>(e.second));
        std::uint64_t done = 0;
        while (done < e.second) {
            const ssize_t n = ::pread(fd, out.data() + start + done, static_cast<std::size_t>(e.second - done),
                                      static_cast<off_t>(e.first + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) raise(posix_error("reading a cached part", path, n < 0 ? errno : EIO));
            done += static_cast<std::uint64_t>(n);
        }
    }
    return out;
}

/// Writes an image from read_file_image() as the new file `path` (created exclusively, as every
/// checkpoint file is), holes again holes; returns its identity for commit().
/// Throws: IoError naming the file; FormatError for an image that does not add up.
inline FileIdentity write_file_image(const std::string& path, const std::vector<char>& bytes) {
    std::size_t at = 0;
    const std::uint64_t size = image::get(bytes, at), n = image::get(bytes, at);
    if (n > bytes.size() / 16) raise(FormatError({"a transferred cache file is corrupt", path, "", -1, {}}));
    std::vector<std::pair<std::uint64_t, std::uint64_t>> extents;
    for (std::uint64_t i = 0; i < n; ++i) {
        const std::uint64_t offset = image::get(bytes, at), length = image::get(bytes, at);
        extents.emplace_back(offset, length);
    }
    const FileIdentity id = create_exclusive(path, "a copy of a cached part");
    const int fd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) raise(posix_error("opening a copy of a cached part", path, errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    for (const auto& [offset, length] : extents) {
        if (length > bytes.size() - at || offset + length > size)
            raise(FormatError({"a transferred cache file is corrupt", path, "", -1, {}}));
        std::uint64_t done = 0;
        while (done < length) {
            const ssize_t w = ::pwrite(fd, bytes.data() + at + done, static_cast<std::size_t>(length - done),
                                       static_cast<off_t>(offset + done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) raise(posix_error("writing a copy of a cached part", path, w < 0 ? errno : EIO));
            done += static_cast<std::uint64_t>(w);
        }
        at += static_cast<std::size_t>(length);
    }
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) raise(posix_error("sizing a copy of a cached part", path, errno));
    return id;
}

/// Which nodes' caches hold each rank's committed part of each cached version, as every rank
/// sees it after one gather of the reporters' listings.
class CacheInventory {
public:
    /// Collective: each node's reporter lists its cache. Throws: IoError (the same on every rank
    /// only through the caller's agreement: call it under an Outcome).
    static CacheInventory gather(const mpi::Comm& comm, const mpi::Nodes& nodes, const std::string& dir,
                                 const std::string& name) {
        std::vector<std::uint64_t> words;  // [sequence, rank, committed] per file
        std::string problem;
        if (nodes.reporter) {
            try {
                for (const auto& p : list_cached_parts(dir, name))
                    words.insert(words.end(), {p.version.sequence, static_cast<std::uint64_t>(p.rank),
                                               p.version.committed() ? 1u : 0u});
            } catch (const Error& e) {
                problem = e.what();  // an unreadable cache holds nothing this restore can use
                words.clear();
            }
        }
        const std::vector<std::uint64_t> counts64 = comm.allgather({static_cast<std::uint64_t>(words.size())});
        std::vector<int> counts(counts64.begin(), counts64.end());
        const std::vector<std::uint64_t> all = comm.allgatherv(words, counts);
        CacheInventory inv;
        inv.problem_ = problem;
        std::size_t at = 0;
        for (std::size_t r = 0; r < counts.size(); ++r) {
            const int node = nodes.node_of[r];
            for (int i = 0; i < counts[r]; i += 3, at += 3) {
                inv.newest_ = std::max(inv.newest_, all[at]);
                if (all[at + 2] != 0) inv.holders_[{all[at], static_cast<int>(all[at + 1])}].push_back(node);
            }
        }
        return inv;
    }

    /// The highest sequence number of any file in any cache, committed or not (0: none).
    std::uint64_t newest() const noexcept { return newest_; }
    /// The sequence numbers whose parts 0 .. ranks-1 are all held somewhere, newest first.
    std::vector<std::uint64_t> complete(int ranks) const {
        std::map<std::uint64_t, int> found;
        for (const auto& [key, nodes] : holders_)
            if (key.second < ranks) ++found[key.first];
        std::vector<std::uint64_t> out;
        for (auto it = found.rbegin(); it != found.rend(); ++it)
            if (it->second == ranks) out.push_back(it->first);
        return out;
    }
    /// The nodes whose caches hold rank `rank`'s part of `seq`, lowest first.
    std::vector<int> holders(std::uint64_t seq, int rank) const {
        const auto it = holders_.find({seq, rank});
        if (it == holders_.end()) return {};
        std::vector<int> nodes = it->second;
        std::sort(nodes.begin(), nodes.end());
        return nodes;
    }
    /// This rank's reporter's listing error, if its cache could not be read ("" if none).
    const std::string& problem() const noexcept { return problem_; }

private:
    std::map<std::pair<std::uint64_t, int>, std::vector<int>> holders_;
    std::uint64_t newest_ = 0;
    std::string problem_;
};

}  // namespace ckpt::detail
