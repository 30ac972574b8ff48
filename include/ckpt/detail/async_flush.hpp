#pragma once
/// The background half of an asynchronous checkpoint (docs/async.md). By the time a version is
/// staged here, the main thread has copied the state (Snapshot) and written, collectively, a
/// file with all its metadata and every dataset at a fixed address (write_file with a
/// Placement). What is left is POSIX only and needs no other rank: hash the copy, pwrite it and
/// this rank's layout rows at their addresses, fsync. That runs on the Worker; the ranks agree
/// on the outcome later, at a poll(), and only then does rank 0 commit.

#include "ckpt/detail/box.hpp"
#include "ckpt/detail/io_watchdog.hpp"
#include "ckpt/detail/mpi/agree.hpp"
#include "ckpt/detail/safe_point.hpp"
#include "ckpt/detail/snapshot.hpp"
#include "ckpt/detail/store.hpp"
#include "ckpt/detail/version_dir.hpp"
#include "ckpt/detail/worker.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::detail {

/// One asynchronous checkpoint between its staging and its commit.
struct StagedVersion {
    std::string tmp, final_path;  ///< the temporary written, and the name the commit gives it
    std::string dir, name;        ///< rotation after the commit
    unsigned depth = 0;
    std::uint64_t sequence = 0;
    std::int64_t step = -1;
    FileIdentity created;         ///< rank 0: the temporary's identity, for the commit
    Snapshot staging;
    std::vector<SaveNode> nodes;  ///< pointing into `staging`
    Placement placement;
    std::uint64_t bytes = 0;      ///< this rank's raw bytes
    double started = 0;           ///< when checkpoint() began (seconds since the epoch)
    /// The background write's watchdog (several ranks only, as a synchronous write's): its
    /// budget without progress, and whether this rank records the exit status (asked here, on
    /// the main thread: the worker makes no MPI call). 0: none.
    double stuck_seconds = 0;
    bool records_status = false;
    double blocked = 0;           ///< seconds the application waited for the staging

    // Set by the worker before it marks the version done (done() then reads them safely).
    mpi::Outcome outcome;
    double durable_at = 0;
};

/// pwrite all of [data, data + bytes) at `offset` of `fd`, or throw naming `path`.
inline void pwrite_all(int fd, const std::string& path, const void* data, std::uint64_t bytes, std::uint64_t offset) {
    const auto* at = static_cast<const unsigned char*>(data);
    while (bytes > 0) {
        const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, std::uint64_t{1} << 30));
        const ssize_t n = ::pwrite(fd, at, chunk, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            raise(posix_error("pwrite of an asynchronous checkpoint's data", path, n < 0 ? errno : EIO,
                              "free space where the checkpoints go, or keep fewer versions (depth=)"));
        at += n;
        offset += static_cast<std::uint64_t>(n);
        bytes -= static_cast<std::uint64_t>(n);
    }
}

/// This rank's share of a placed file: its part of every leaf's data, then its row of every
/// layout table (the checksums, hashed from the copy on a helper thread while the data is
/// written, as a synchronous write does), then fsync. POSIX only: no MPI, no HDF5. A write that
/// makes no progress for `v.stuck_seconds` (a file system that stopped answering) ends the
/// process with 74, as a stuck synchronous write does: every drain would wait for it.
inline void write_placed(const StagedVersion& v, int rank) {
    const auto& nodes = v.nodes;
    const Placement& at = v.placement;
    std::optional<IoWatchdog> watchdog;
    if (v.stuck_seconds > 0)
        watchdog.emplace("the background write of " + v.tmp, rank, v.stuck_seconds, v.records_status,
                         "a write or fsync of the background thread does not return: the file system is stuck");
    BackgroundChecksums sums(nodes, at.offsets, at.totals);
    const int fd = ::open(v.tmp.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) raise(posix_error("open of an asynchronous checkpoint's file", v.tmp, errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const SaveNode& n = nodes[i];
        if (n.is_group()) continue;
        const std::uint64_t size = element_size(n.element);
        const auto* data = static_cast<const unsigned char*>(n.data);
        if (n.spread == Spread::Block) {  // packed box: one run per innermost row of the box
            const std::vector<std::uint64_t> zero(n.box.count.size(), 0);
            if (n.count > 0)
                for_each_run(n.box.count, zero, n.box, n.global, [&](std::uint64_t mem, std::uint64_t glob, std::uint64_t len) {
                    pwrite_all(fd, v.tmp, data + mem * size, len * size, *at.data[i] + glob * size);
                });
        } else if (at.counts[i] > 0) {
            pwrite_all(fd, v.tmp, data, at.counts[i] * size, *at.data[i] + at.offsets[i] * size);
        }
        if (watchdog) watchdog->progress();
    }
    const std::vector<std::uint64_t> rows = layout_rows(nodes, at.offsets, sums.get());
    std::size_t row_at = 0;  // where node i's row starts in `rows`
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const SaveNode& n = nodes[i];
        if (n.is_group()) continue;
        const std::size_t width = Part::width(n.extents.size(), n.spread);
        const bool has_row = n.spread != Spread::Replicated || rank == 0;  // a replicated leaf: rank 0's row only
        const std::uint64_t row = n.spread == Spread::Replicated ? 0 : static_cast<std::uint64_t>(rank);
        if (has_row) pwrite_all(fd, v.tmp, rows.data() + row_at, width * 8, *at.layout[i] + row * width * 8);
        row_at += width;
    }
    if (::fsync(fd) != 0) raise(posix_error("fsync of an asynchronous checkpoint's file", v.tmp, errno));
}

/// The asynchronous checkpoints in flight, oldest first, and how far the worker has got with
/// them. The worker finishes them in order; `done()` counts the finished ones since the start
/// (successful or not) and `failed()` says whether one of them failed, both readable from the
/// safe point's agreement without a lock.
class Flushes {
public:
    std::size_t in_flight() const noexcept { return versions_.size(); }
    StagedVersion& front() { return *versions_.front(); }
    const std::deque<std::unique_ptr<StagedVersion>>& all() const noexcept { return versions_; }

    /// A fresh version, reusing the staging memory of one already committed.
    std::unique_ptr<StagedVersion> make() {
        auto v = std::make_unique<StagedVersion>();
        if (spare_) v->staging = std::move(*spare_), spare_.reset();
        return v;
    }

    /// Queues `v`'s writing on `worker` (rank `rank`'s share).
    void submit(Worker& worker, std::unique_ptr<StagedVersion> v, int rank) {
        StagedVersion* raw = v.get();
        versions_.push_back(std::move(v));
        ++submitted_;
        worker.submit([this, raw, rank] {
            raw->outcome.run([&] { write_placed(*raw, rank); });
            raw->durable_at = now_seconds();
            std::lock_guard<std::mutex> lock(m_);
            if (raw->outcome.failed()) failed_.store(true, std::memory_order_relaxed);
            done_.fetch_add(1, std::memory_order_release);  // after failed_: whoever sees it sees that
            cv_.notify_all();
        });
    }

    /// Finished (durable or failed) on this rank, since the start; settled: taken off the queue.
    std::uint64_t done() const noexcept { return done_.load(std::memory_order_acquire); }
    bool failed() const noexcept { return failed_.load(std::memory_order_relaxed); }
    std::uint64_t settled() const noexcept { return submitted_ - versions_.size(); }

    /// Blocks until the oldest in flight is finished on this rank.
    void wait_front() {
        std::unique_lock<std::mutex> lock(m_);
        const std::uint64_t need = settled() + 1;
        cv_.wait(lock, [&] { return done_.load(std::memory_order_acquire) >= need; });
    }
    /// Blocks until every version in flight is finished on this rank.
    void wait_all() {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return done_.load(std::memory_order_acquire) >= submitted_; });
    }

    /// Takes the oldest off the queue (finished, committed or given up); its staging is kept for
    /// the next one.
    void pop_front() {
        spare_ = std::make_unique<Snapshot>(std::move(versions_.front()->staging));
        versions_.pop_front();
    }
    /// After a failure was reported: nothing in flight (the caller waited for them), no failure.
    void clear() {
        while (!versions_.empty()) pop_front();
        failed_.store(false, std::memory_order_relaxed);
    }

    /// The staging memory held: the copies in flight, and the one kept for reuse.
    std::uint64_t staging_bytes() const noexcept {
        std::uint64_t b = spare_ ? spare_->capacity() : 0;
        for (const auto& v : versions_) b += v->staging.capacity();
        return b;
    }

private:
    std::deque<std::unique_ptr<StagedVersion>> versions_;
    std::unique_ptr<Snapshot> spare_;
    std::uint64_t submitted_ = 0;
    std::atomic<std::uint64_t> done_{0};
    std::atomic<bool> failed_{false};
    std::mutex m_;
    std::condition_variable cv_;
};

}  // namespace ckpt::detail
