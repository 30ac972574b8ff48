#pragma once
/// How all ranks agree, cheaply, at the same poll() call, that something is due.
///
/// Every rank counts its poll() calls; poll() is collective, so the counts agree. A "round" is a
/// non-blocking MAX reduction of a few flags, started at call k and completed at call k+K on
/// every rank, and its result is acted on at that call, everywhere. Between rounds a poll costs a
/// counter increment. Rank 0 adapts K so that a round spans about `round_seconds`, and K travels
/// inside the reduction itself, so every rank schedules the next round at the same call.

#include "ckpt/detail/mpi/comm.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

namespace ckpt::detail::mpi {

class PollAgreement {
public:
    /// Flags reduced with MAX: a checkpoint is wanted; it is wanted because a rank received the
    /// checkpoint signal; the job must leave (halt, exit request); the highest terminating signal
    /// number received (0 = none); minus the number of asynchronous checkpoints this rank has
    /// finished writing (so the maximum is minus the fewest any rank has); whether one of them
    /// failed. Rank 0 alone fills RoundLength.
    enum Slot : std::size_t {
        Checkpoint = 0, CheckpointSignal, Leave, Signal, FlushesDone, FlushFailed, RoundLength, SlotCount
    };
    using Flags = std::array<std::int64_t, SlotCount>;

    explicit PollAgreement(double round_seconds = 0.05) : round_seconds_(round_seconds) {}
    PollAgreement(const PollAgreement&) = delete;
    PollAgreement& operator=(const PollAgreement&) = delete;
    ~PollAgreement() { cancel(); }

    /// Called at every poll. Returns true when a round completed at this call; `agreed` then holds
    /// the reduced flags (identical on all ranks). `local` is asked for this rank's flags only when
    /// a new round starts. Collective (in the sense that every rank must call it equally often).
    template <class LocalFlags>
    bool step(const Comm& comm, LocalFlags&& local, Flags& agreed) {
        if (++calls_ < due_at_) return false;
        bool completed = false;
        if (request_ != MPI_REQUEST_NULL) {
            check(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait", comm.rank());
            agreed = received_;
            round_length_ = std::max<std::int64_t>(1, received_[RoundLength]);
            completed = true;
        }
        start(comm, local());
        return completed;
    }

    /// Abandons the round in flight (collective: every rank calls it at the same point, e.g.
    /// after a checkpoint that reset the flags).
    void restart(const Comm& comm) {
        if (request_ != MPI_REQUEST_NULL) check(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait", comm.rank());
        due_at_ = calls_ + 1;
    }

    std::uint64_t calls() const noexcept { return calls_; }

private:
    void start(const Comm& comm, Flags flags) {
        // The length proposed in this round applies to the round after it, once every rank knows it.
        if (comm.rank() == 0) flags[RoundLength] = propose_round_length();
        sent_ = flags;
        check(MPI_Iallreduce(sent_.data(), received_.data(), SlotCount, MPI_INT64_T, MPI_MAX, comm.get(), &request_),
              "MPI_Iallreduce", comm.rank());
        due_at_ = calls_ + static_cast<std::uint64_t>(round_length_);
    }

    /// Rank 0: as many polls as fit in round_seconds at the rate observed over the last round.
    std::int64_t propose_round_length() {
        std::int64_t proposal = round_length_;
        const auto now = std::chrono::steady_clock::now();
        if (last_start_calls_ > 0 && calls_ > last_start_calls_) {
            const double seconds = std::chrono::duration<double>(now - last_start_).count();
            const double per_call = seconds / static_cast<double>(calls_ - last_start_calls_);
            const double want = per_call > 0 ? round_seconds_ / per_call : 1 << 16;
            proposal = static_cast<std::int64_t>(std::clamp(want, 1.0, double(1 << 16)));
        }
        last_start_ = now;
        last_start_calls_ = calls_;
        return proposal;
    }

    void cancel() noexcept {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (request_ != MPI_REQUEST_NULL && !finalized) MPI_Wait(&request_, MPI_STATUS_IGNORE);
    }

    double round_seconds_;
    std::uint64_t calls_ = 0;
    std::uint64_t due_at_ = 1;
    std::int64_t round_length_ = 1;
    Flags sent_{};
    Flags received_{};
    MPI_Request request_ = MPI_REQUEST_NULL;
    std::chrono::steady_clock::time_point last_start_{};
    std::uint64_t last_start_calls_ = 0;
};

}  // namespace ckpt::detail::mpi
