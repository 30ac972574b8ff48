#pragma once
/// The checkpointer's one background thread: it runs jobs in the order they were given, one at a
/// time. Jobs make plain POSIX calls only (pwrite, fsync, unlink), never MPI or HDF5, so the
/// library needs no more than MPI_THREAD_FUNNELED and works with a non-thread-safe HDF5. Used
/// for rotation (unlinking old versions) and for the durable half of asynchronous checkpoints.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>

namespace ckpt::detail {

class Worker {
public:
    Worker() = default;
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;
    ~Worker() { stop(); }

    /// Queues `job` behind the ones already given. The thread starts at the first job; where no
    /// thread can be had, the job runs here, before submit() returns. A job reports its own
    /// failures (it must not throw).
    void submit(std::function<void()> job) {
        {
            std::lock_guard<std::mutex> lock(m_);
            if (!thread_.joinable() && !stopping_) {
                try {
                    thread_ = std::thread([this] { loop(); });
                } catch (const std::system_error&) {
                }
            }
            if (thread_.joinable()) {
                jobs_.push_back(std::move(job));
                ++queued_;
                cv_.notify_all();
                return;
            }
        }
        job();
    }

    /// Blocks until every job given so far has finished.
    void wait() {
        std::unique_lock<std::mutex> lock(m_);
        const unsigned long long target = queued_;
        idle_.wait(lock, [&] { return finished_ >= target; });
    }

    /// Whether every job given so far has finished (never blocks).
    bool idle() {
        std::lock_guard<std::mutex> lock(m_);
        return finished_ == queued_;
    }

    /// Finishes the jobs given, then ends the thread.
    void stop() noexcept {
        {
            std::lock_guard<std::mutex> lock(m_);
            stopping_ = true;
            cv_.notify_all();
        }
        if (thread_.joinable()) thread_.join();
        stopping_ = false;
    }

private:
    void loop() {
        std::unique_lock<std::mutex> lock(m_);
        while (true) {
            cv_.wait(lock, [&] { return !jobs_.empty() || stopping_; });
            if (jobs_.empty()) return;  // stopping, and nothing left to do
            std::function<void()> job = std::move(jobs_.front());
            jobs_.pop_front();
            lock.unlock();
            job();
            lock.lock();
            ++finished_;
            idle_.notify_all();
        }
    }

    std::mutex m_;
    std::condition_variable cv_, idle_;
    std::deque<std::function<void()>> jobs_;
    unsigned long long queued_ = 0, finished_ = 0;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace ckpt::detail
