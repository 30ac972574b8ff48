#pragma once
/// The node-local cache level of multi-level checkpoints (docs/multilevel.md): each rank's part
/// of a version as a file of its own in its node's cache, a partner's copy in the next node's,
/// and where the parts of each cached version are. Names and rotation: version_dir.hpp.

#include "ckpt/detail/mpi/agree.hpp"
#include "ckpt/detail/mpi/comm.hpp"
#include "ckpt/detail/mpi/exchange.hpp"
#include "ckpt/detail/mpi/nodes.hpp"
#include "ckpt/detail/version_dir.hpp"
#include "ckpt/error.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
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
    if (at + sizeof v > in.size()) raise(FormatError({"a transferred cache file's header is truncated", "", "", -1, {}}));
    std::memcpy(&v, in.data() + at, sizeof v);
    at += sizeof v;
    return v;
}
/// A part's header: [size][n][n x (offset, length)] of its data extents.
struct Header {
    std::uint64_t size = 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> extents;
    std::vector<char> bytes() const {
        std::vector<char> out;
        put(out, size);
        put(out, extents.size());
        for (const auto& e : extents) put(out, e.first), put(out, e.second);
        return out;
    }
    static Header parse(const std::vector<char>& in) {
        Header h;
        std::size_t at = 0;
        h.size = get(in, at);
        const std::uint64_t n = get(in, at);
        if (n > in.size() / 16) raise(FormatError({"a transferred cache file's header is corrupt", "", "", -1, {}}));
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint64_t offset = get(in, at), length = get(in, at);
            if (offset > h.size || length > h.size - offset)
                raise(FormatError({"a transferred cache file's header is corrupt", "", "", -1, {}}));
            h.extents.emplace_back(offset, length);
        }
        return h;
    }
};
}  // namespace image

/// A file mapped into memory (shared: writes go to the file), unmapped and closed with it.
class Mapping {
public:
    Mapping() = default;
    /// Takes `fd` over (closed on failure too) and maps its first `size` bytes.
    void map(int fd, std::uint64_t size, bool write, const std::string& path) {
        fd_ = fd;
        size_ = size;
        if (size_ == 0) return;
        void* p = ::mmap(nullptr, static_cast<std::size_t>(size_), write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd_, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd_);
            raise(posix_error("mapping a cached part", path, err));
        }
        data_ = static_cast<char*>(p);
    }
    ~Mapping() { release(); }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    char* data() const noexcept { return data_; }
    void release() noexcept {
        if (data_) ::munmap(data_, static_cast<std::size_t>(size_));
        if (fd_ >= 0) ::close(fd_);
        data_ = nullptr;
        fd_ = -1;
    }

private:
    int fd_ = -1;
    std::uint64_t size_ = 0;
    char* data_ = nullptr;
};

/// A cached part to send: its header, and its data extents straight from the file's mapping
/// (the page cache; no copy). A cache file's block entries are sparse (a dataset of the global
/// shape, the rank's box written), so holes are left out (SEEK_DATA; a file system without it
/// sends every byte). Throws: IoError naming the file.
class OutgoingPart {
public:
    explicit OutgoingPart(const std::string& path) {
        const int fd = open(path, header_);
        mapping_.map(fd, header_.size, false, path);
    }
    std::vector<char> header() const { return header_.bytes(); }
    std::vector<mpi::Segment> segments() const {
        std::vector<mpi::Segment> out;
        for (const auto& [offset, length] : header_.extents) out.push_back({mapping_.data() + offset, length});
        return out;
    }

private:
    static int open(const std::string& path, image::Header& h) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) raise(posix_error("opening a cached part", path, errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int err = errno;
            ::close(fd);
            raise(posix_error("examining a cached part", path, err));
        }
        h.size = static_cast<std::uint64_t>(st.st_size);
        for (off_t at = 0; static_cast<std::uint64_t>(at) < h.size;) {
            const off_t data = ::lseek(fd, at, SEEK_DATA);
            if (data < 0 && errno == ENXIO) break;  // a hole to the end
            if (data < 0) {
                h.extents = {{0, h.size}};  // no SEEK_DATA here: every byte
                break;
            }
            off_t hole = ::lseek(fd, data, SEEK_HOLE);
            if (hole < 0) hole = static_cast<off_t>(h.size);
            h.extents.emplace_back(static_cast<std::uint64_t>(data), static_cast<std::uint64_t>(hole - data));
            at = hole;
        }
        return fd;
    }
    image::Header header_;
    Mapping mapping_;
};

/// A part arriving from another rank: the new file `path` (created exclusively, as every
/// checkpoint file is) of the header's size, mapped, its data extents received straight into
/// it; holes stay holes. Throws: IoError naming the file.
class IncomingPart {
public:
    IncomingPart(const std::string& path, const image::Header& h)
        : header_(h), id_(create_exclusive(path, "a copy of a cached part")) {
        mapping_.map(open(path, h.size), h.size, true, path);
    }
    std::vector<mpi::Segment> segments() const {
        std::vector<mpi::Segment> out;
        for (const auto& [offset, length] : header_.extents) out.push_back({mapping_.data() + offset, length});
        return out;
    }
    /// Once received: unmaps and closes (the commit's fsync makes it durable); its identity.
    FileIdentity finish() {
        mapping_.release();
        return id_;
    }

private:
    static int open(const std::string& path, std::uint64_t size) {
        const int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) raise(posix_error("opening a copy of a cached part", path, errno));
        if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
            const int err = errno;
            ::close(fd);
            raise(posix_error("sizing a copy of a cached part", path, err, "free space in the node cache"));
        }
        return fd;
    }
    image::Header header_;
    FileIdentity id_;
    Mapping mapping_;
};

/// Collective over the ranks named. Sends the cached part at each `sends` path to its rank and
/// receives one part from each `receives` rank into the new file at its path, straight between
/// file mappings: headers first (one exchange_bytes), then the data (exchange_segments). A part
/// this rank cannot read is sent as an empty header and no data; a file it cannot make still
/// takes the bytes sent, into scratch memory; either failure goes into `local` (for the caller's
/// agreement), so no rank is left waiting. Returns each received file's identity, for commit()
/// (none where `local` failed, or where the sender sent nothing).
inline std::vector<std::optional<FileIdentity>> transfer_parts(const mpi::Comm& comm, mpi::Outcome& local,
                                                               const std::vector<std::pair<int, std::string>>& sends,
                                                               const std::vector<std::pair<int, std::string>>& receives,
                                                               int tag) {
    std::vector<std::optional<OutgoingPart>> out(sends.size());
    std::vector<std::vector<char>> headers_out(sends.size());
    std::vector<mpi::Outgoing> header_sends;
    for (std::size_t i = 0; i < sends.size(); ++i) {
        local.run([&] {
            out[i].emplace(sends[i].second);
            headers_out[i] = out[i]->header();
        });
        header_sends.push_back({sends[i].first, &headers_out[i]});
    }
    std::vector<int> from;
    for (const auto& r : receives) from.push_back(r.first);
    const auto headers_in = mpi::exchange_bytes(comm, header_sends, from, tag);

    std::vector<mpi::SegmentsTo> data_sends;
    for (std::size_t i = 0; i < sends.size(); ++i)
        if (out[i]) data_sends.push_back({sends[i].first, out[i]->segments()});
    std::vector<std::optional<IncomingPart>> in(receives.size());
    std::vector<std::vector<char>> scratch;
    std::vector<mpi::SegmentsFrom> data_receives;
    for (std::size_t j = 0; j < receives.size(); ++j) {
        if (headers_in[j].empty()) {  // its sender could not read the part: its error is in the agreement
            local.run([&] {
                raise(IoError({"rank " + std::to_string(receives[j].first) + " could not send its cached part",
                               receives[j].second, "", comm.rank(), {}}));
            });
            continue;
        }
        const image::Header h = image::Header::parse(headers_in[j]);  // written by this code: well formed
        local.run([&] { in[j].emplace(receives[j].second, h); });
        if (in[j]) {
            data_receives.push_back({receives[j].first, in[j]->segments()});
            continue;
        }
        mpi::SegmentsFrom discard{receives[j].first, {}};
        for (const auto& e : h.extents) {
            scratch.emplace_back(static_cast<std::size_t>(e.second));
            discard.segments.push_back({scratch.back().data(), e.second});
        }
        data_receives.push_back(std::move(discard));
    }
    mpi::exchange_segments(comm, data_sends, data_receives, tag + 2);
    std::vector<std::optional<FileIdentity>> ids(receives.size());
    for (std::size_t j = 0; j < receives.size(); ++j)
        if (in[j]) ids[j] = in[j]->finish();
    return ids;
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
