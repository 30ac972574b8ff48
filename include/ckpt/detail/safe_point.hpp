#pragma once
/// The safe-point state machine (docs/safe-points.md): what each poll() must do, decided the same
/// way on every rank. It owns every trigger (signal counters, checkpoint and exit requests, the
/// interval and halt clocks, `every=` steps), the agreement round that carries them across ranks,
/// the decisions deferred by a CriticalSection, and the bookkeeping of what has been answered.
/// It writes nothing: the checkpointer asks it at each poll and acts on the answer.

#include "ckpt/detail/mpi/comm.hpp"
#include "ckpt/detail/mpi/poll_agreement.hpp"
#include "ckpt/detail/signals.hpp"
#include "ckpt/options.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace ckpt::detail {

inline double now_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// What every rank agreed at one poll(): identical on all of them.
struct Due {
    bool checkpoint = false;  ///< a checkpoint is wanted (signal, request, interval)
    bool leave = false;       ///< the job must end at this safe point (halt, exit request)
    int signal = 0;           ///< the highest terminating signal received (0 = none)
    /// Asynchronous checkpoints: how many every rank has finished writing, and whether one of
    /// them failed on some rank (docs/async.md). Not deferred by a CriticalSection: committing
    /// touches no application state.
    std::uint64_t flushed = 0;
    bool flush_failed = false;
    /// Whether a checkpoint or the end of the job is due (not only news of the flushes).
    bool triggered() const noexcept { return checkpoint || leave || signal != 0; }
};

/// How far this rank's worker has got with the asynchronous checkpoints (detail/async_flush.hpp).
struct FlushProgress {
    std::uint64_t done = 0;  ///< finished, durable or failed, since the start
    bool failed = false;     ///< one of them failed
};

class SafePoint {
public:
    /// `options` and `comm` outlive this object (both belong to the checkpointer).
    SafePoint(const Options& options, const mpi::Comm& comm) : options_(options), comm_(comm) {}
    SafePoint(const SafePoint&) = delete;
    SafePoint& operator=(const SafePoint&) = delete;

    /// Installs the signal handlers the options name; signals that arrived before are not news.
    void install_signals() {
        std::vector<int> checkpoint_signals;
        if (options_.mode.enabled) checkpoint_signals.push_back(options_.checkpoint_signal);
        signals_ = std::make_unique<signals::Installation>(checkpoint_signals, options_.term_signals);
        for (int sig : signals_->signals()) seen_[static_cast<std::size_t>(sig)] = signals::count(sig);
    }
    /// Restores the handlers that were there before (the process is about to end).
    void remove_signals() noexcept { signals_.reset(); }

    /// From any thread: a checkpoint (and, if `exit`, the end of the job) is wanted at the next
    /// safe point.
    void request(bool exit) noexcept { requests_[exit ? 1 : 0].fetch_add(1, std::memory_order_relaxed); }

    void enter_critical() noexcept { ++critical_depth_; }
    void leave_critical() noexcept { --critical_depth_; }
    bool in_critical() const noexcept { return critical_depth_ > 0; }

    /// `every=` steps: deterministic on every rank, no communication. Never inside a critical
    /// section, and never twice for one step (`last_step`: the step of the last checkpoint).
    bool step_due(std::int64_t step, std::int64_t last_step) const noexcept {
        return options_.mode.periodic && options_.every > 0 && step > 0 &&
               step % static_cast<std::int64_t>(options_.every) == 0 && step != last_step && critical_depth_ == 0;
    }

    /// Where poll() reads this rank's progress with asynchronous checkpoints (none: never any).
    void watch_flushes(std::function<FlushProgress()> progress) { flushes_ = std::move(progress); }

    /// A checkpoint was written or restored at `when` (rank 0's clock decides the interval).
    void checkpointed_at(double when) noexcept { last_time_ = when; }

    /// Abandons the agreement round in flight. Collective: every rank calls it at the same point,
    /// after a checkpoint or restore that answered what the round carried.
    void restart() { agreement_.restart(comm_); }

    /// Called at every poll(): what the ranks agreed at this call, or nothing. Collective in the
    /// sense that every rank calls it equally often. Between rounds it costs a few loads. A
    /// decision taken inside a CriticalSection is kept and returned at the first poll after it.
    /// What it returns is answered: the triggers it covers are not news at the next call.
    std::optional<Due> poll() {
        Flags agreed{};
        Counts counts{};
        bool fresh = false;  // something was agreed at this call (the same on every rank)
        if (comm_.size() == 1) {
            if (anything_new() || clock_due() || flush_news()) {
                counts = current_counts();
                agreed = local_flags(counts);
                fresh = true;
            }
        } else {
            auto local = [&] {
                agreed_ = in_flight_;  // the round completing now carried these counts
                in_flight_ = current_counts();
                absorb_late_copy(in_flight_);
                return local_flags(in_flight_);
            };
            fresh = agreement_.step(comm_, local, agreed);
            if (fresh) counts = agreed_;
        }
        // News of the flushes first: never deferred, and not a trigger to be merged.
        using A = mpi::PollAgreement;
        Due flushes;
        bool flush_news = false;
        if (fresh) {
            flushes.flushed = static_cast<std::uint64_t>(-agreed[A::FlushesDone]);
            flushes.flush_failed = agreed[A::FlushFailed] != 0;
            agreed[A::FlushesDone] = agreed[A::FlushFailed] = 0;
            flush_news = flushes.flush_failed || flushes.flushed > flushed_seen_;
            flushed_seen_ = std::max(flushed_seen_, flushes.flushed);
        }
        const std::optional<Due> only_flushes = flush_news ? std::optional<Due>(flushes) : std::nullopt;
        if (critical_depth_ > 0) {  // remember; act at the first poll after the section
            if (fresh) {
                merge(deferred_, agreed);
                merge(deferred_counts_, counts);
                deferred_any_ = true;
            }
            return only_flushes;
        }
        if (!fresh && !deferred_any_) return std::nullopt;
        merge(agreed, deferred_);
        merge(counts, deferred_counts_);
        deferred_ = {};
        deferred_counts_ = {};
        deferred_any_ = false;
        Due due{agreed[A::Checkpoint] != 0, agreed[A::Leave] != 0, static_cast<int>(agreed[A::Signal]),
                flushes.flushed, flushes.flush_failed};
        if (!due.triggered()) return only_flushes;
        answer(counts, agreed[A::CheckpointSignal] != 0);
        return due;
    }

private:
    /// Trigger counters: a slot per signal number, then the two request() kinds.
    static constexpr std::size_t request_continue = signals::table_size;
    static constexpr std::size_t request_exit = request_continue + 1;
    using Counts = std::array<std::uint64_t, request_exit + 1>;
    using Flags = mpi::PollAgreement::Flags;
    static constexpr double late_copy_seconds = 5;

    template <class A>
    static void merge(A& into, const A& from) {
        for (std::size_t i = 0; i < into.size(); ++i) into[i] = std::max(into[i], from[i]);
    }

    Counts current_counts() const {
        Counts c{};
        if (signals_)
            for (int sig : signals_->signals()) c[static_cast<std::size_t>(sig)] = signals::count(sig);
        c[request_continue] = requests_[0].load(std::memory_order_relaxed);
        c[request_exit] = requests_[1].load(std::memory_order_relaxed);
        return c;
    }

    bool anything_new() const noexcept {
        if (signals_)
            for (int sig : signals_->signals())
                if (signals::count(sig) != seen_[static_cast<std::size_t>(sig)]) return true;
        return requests_[0].load(std::memory_order_relaxed) != seen_[request_continue] ||
               requests_[1].load(std::memory_order_relaxed) != seen_[request_exit];
    }

    /// Size 1: whether the worker has finished or failed something not reported yet.
    bool flush_news() const {
        if (!flushes_) return false;
        const FlushProgress p = flushes_();
        return p.failed || p.done > flushed_seen_;
    }

    bool interval_due(double now) const noexcept {
        return options_.mode.periodic && options_.interval.count() > 0 && now - last_time_ >= options_.interval.count();
    }

    bool halt_due(double now) const noexcept {
        return options_.halt.count() > 0 && options_.end_time > 0 &&
               now >= static_cast<double>(options_.end_time) - options_.halt.count();
    }

    bool clock_due() const {
        const bool timed = (options_.mode.periodic && options_.interval.count() > 0) ||
                           (options_.halt.count() > 0 && options_.end_time > 0);
        if (!timed) return false;  // no clock read at all
        const double now = now_seconds();
        return interval_due(now) || halt_due(now);
    }

    Flags local_flags(const Counts& counts) const {
        using A = mpi::PollAgreement;
        Flags f{};
        auto fresh = [&](std::size_t slot) { return counts[slot] != seen_[slot]; };
        if (options_.mode.enabled && fresh(static_cast<std::size_t>(options_.checkpoint_signal)))
            f[A::Checkpoint] = f[A::CheckpointSignal] = 1;
        if (fresh(request_continue)) f[A::Checkpoint] = 1;
        if (fresh(request_exit)) f[A::Leave] = 1;
        for (int sig : options_.term_signals)
            if (fresh(static_cast<std::size_t>(sig))) f[A::Signal] = std::max<std::int64_t>(f[A::Signal], sig);
        if (flushes_) {
            const FlushProgress p = flushes_();
            f[A::FlushesDone] = -static_cast<std::int64_t>(p.done);
            f[A::FlushFailed] = p.failed ? 1 : 0;
        }
        if (comm_.rank() == 0) {  // time decisions: rank 0's clock only
            const double now = now_seconds();
            if (interval_due(now)) f[A::Checkpoint] = 1;
            if (halt_due(now)) f[A::Leave] = 1;
        }
        return f;
    }

    /// A checkpoint signal a rank receives within late_copy_seconds after a checkpoint that the
    /// signal's delivery to other ranks already served is that same delivery, not a new one.
    void absorb_late_copy(const Counts& counts) {
        if (late_copy_until_ == 0) return;
        const auto sig = static_cast<std::size_t>(options_.checkpoint_signal);
        if (counts[sig] == seen_[sig]) return;  // not arrived yet: a clock read only once it has
        if (now_seconds() < late_copy_until_) ++seen_[sig];
        late_copy_until_ = 0;
    }

    /// Everything up to `counts` is answered now. So is every checkpoint signal or checkpoint
    /// request that arrived since the round began: the checkpoint about to be written serves it too.
    void answer(const Counts& counts, bool for_checkpoint_signal) {
        const Counts before = seen_;
        merge(seen_, counts);
        for (int sig : options_.term_signals) signals::answered(sig);
        const Counts now = current_counts();
        const auto usr = static_cast<std::size_t>(options_.checkpoint_signal);
        const bool had_signal = options_.mode.enabled && now[usr] != before[usr];
        if (options_.mode.enabled) seen_[usr] = std::max(seen_[usr], now[usr]);
        seen_[request_continue] = std::max(seen_[request_continue], now[request_continue]);
        // Launchers and batch systems signal every rank, not all at the same instant: a rank the
        // signal has not reached yet expects its own copy of the delivery this checkpoint serves.
        late_copy_until_ = for_checkpoint_signal && !had_signal ? now_seconds() + late_copy_seconds : 0;
    }

    const Options& options_;
    const mpi::Comm& comm_;
    mpi::PollAgreement agreement_;
    std::unique_ptr<signals::Installation> signals_;
    std::atomic<std::uint64_t> requests_[2] = {0, 0};
    double last_time_ = now_seconds();  ///< rank 0: when the last checkpoint was written or restored
    Counts seen_{};                     ///< counts already answered
    /// Until when this rank's next checkpoint signal is taken as its copy of a delivery that a
    /// checkpoint has already served on the ranks it reached first (0 = no copy expected).
    double late_copy_until_ = 0;
    Counts in_flight_{};  ///< counts sent with the agreement round in flight
    Counts agreed_{};     ///< counts of the round that just completed
    Flags deferred_{};    ///< decisions taken inside a CriticalSection, answered after it
    Counts deferred_counts_{};
    bool deferred_any_ = false;  ///< deferred_ holds an agreed decision (the same on every rank)
    int critical_depth_ = 0;
    std::function<FlushProgress()> flushes_;
    std::uint64_t flushed_seen_ = 0;  ///< the most flushes agreed finished everywhere, so far
};

}  // namespace ckpt::detail
