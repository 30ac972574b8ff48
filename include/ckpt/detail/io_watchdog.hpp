#pragma once
/// A deadline on a collective checkpoint write or restore, for ranks stranded inside HDF5 1.10
/// and ROMIO.
///
/// An I/O error inside a collective HDF5 call returns on the rank that hit it and can leave its
/// peers inside that call, or send the ranks into *different* collectives (MPI_File_open's
/// creation probe on one rank, H5FD_open's file size on another): no rank comes back to ckpt, so
/// no agreement can free them, and the job would hang until the batch system kills it. So every
/// rank of a multi-rank write (detail::write_file) or restore (Checkpointer's restore_from) runs
/// an IoWatchdog: a thread that sleeps until the deadline and, if the operation has not made
/// progress by then, ends this process with exit status 74. Progress is a step the ranks completed together (an agreement), so the deadline
/// moves on after every step and falls on every rank at about the same time. The write itself
/// never waits for the thread, and the thread makes no communication call (the thread level may
/// be MPI_THREAD_SINGLE): it only prints, records the status for ckpt-run and _exits.

#include "ckpt/detail/exit_record.hpp"
#include "ckpt/detail/parse.hpp"
#include "ckpt/error.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

namespace ckpt::detail {

/// The exit status of a rank that a watchdog ends: an I/O error, as the contract says (74).
constexpr int stuck_exit_status = 74;

/// Internal test knob: seconds without progress after which a write or restore is taken to be stuck, in
/// place of the budget below (the fault-injection tests set a few seconds). Never needed in
/// production: the budget is what a healthy write can take.
inline const char* stuck_seconds_variable() { return "CKPT_STUCK_SECONDS"; }

/// How long one step of writing a file of `file_bytes` may take before the ranks are taken to be
/// stuck: a minute, plus the whole file at 100 MB/s, so that a slow disk, or peers still
/// writing or syncing their data, are never taken for stuck ones. `knob` is the value of
/// CKPT_STUCK_SECONDS (null or blank: unset): a duration above 0, as CKPT_HALT_SECONDS is
/// spelled (a bare number is seconds). Throws ConfigError naming the variable.
inline double io_budget_seconds(std::uint64_t file_bytes, const char* knob) {
    if (knob == nullptr || trim(knob).empty()) return 60 + static_cast<double>(file_bytes) / 100e6;
    const Duration d = parse_duration(knob, BareUnit::Seconds, stuck_seconds_variable(), knob);
    if (!(d.value.count() > 0))
        reject(stuck_seconds_variable(), knob, "a duration like 300, 5m, 1h or 00:05:00",
               "0 would end every write at once; unset it for the default (60 s + the file at 100 MB/s)");
    return d.value.count();
}

/// One line, whatever the error's text holds: a launcher's log keeps it with its rank.
inline std::string one_line(std::string text) {
    for (char& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    return text + "\n";
}

/// "3", "0.5", "1060": seconds for a message, to a tenth (no printf: a locale may spell 0,5).
inline std::string seconds_text(double seconds) {
    const long tenths = std::lround(seconds * 10);
    return std::to_string(tenths / 10) + (tenths % 10 != 0 ? "." + std::to_string(tenths % 10) : "");
}

/// Why a collective write or restore makes no progress, as the stuck line says it.
inline const char* stuck_in_collective() {
    return "an MPI-IO/HDF5 collective is stuck, most likely after an I/O error on another rank";
}

/// The line of a rank whose write is stuck with no error of its own; `cause` says why that is.
inline std::string stuck_message(const std::string& what, int rank, double seconds, const char* cause) {
    return one_line("ckpt: rank " + std::to_string(rank) + ": " + what + " made no progress for " +
                    seconds_text(seconds) + " s (" + cause + "); ending the job with exit status " +
                    std::to_string(stuck_exit_status));
}

/// The line of a rank whose own step failed and whose peers then did not come to agree on it.
inline std::string failed_message(ErrorInfo info, int rank, double seconds) {
    info.rank = rank;
    info.sentence = "rank " + std::to_string(rank) + ": " + info.sentence +
                    "; the other ranks did not come to agree on it within " + seconds_text(seconds) +
                    " s (stuck in a collective HDF5 call this rank left when it failed): "
                    "ending the job with exit status " + std::to_string(stuck_exit_status);
    return one_line(format_what(info));
}

/// RAII: from construction to destruction, this rank's write is watched. Collective: no ·
/// Thread safety: progress() and failed() from the writing thread only (the background writer's
/// own thread, for an asynchronous checkpoint).
class IoWatchdog {
public:
    /// Starts the thread; throws std::system_error when none can be had (the caller agrees it).
    /// `what` names the operation for the message: "the checkpoint write of <path>".
    IoWatchdog(const std::string& what, int rank, double seconds)
        : IoWatchdog(what, rank, seconds, records_exit_status(), stuck_in_collective()) {}
    /// For a thread that must not call MPI (the background writer): `records_status` is
    /// records_exit_status(), asked on the main thread before; `cause` ends up in the line.
    IoWatchdog(const std::string& what, int rank, double seconds, bool records_status, const char* cause)
        : seconds_(seconds), rank_(rank), records_status_(records_status),
          message_(stuck_message(what, rank, seconds, cause)) {
        deadline_ = Clock::now() + budget();
        thread_ = std::thread([this] { watch(); });
    }
    IoWatchdog(const IoWatchdog&) = delete;
    IoWatchdog& operator=(const IoWatchdog&) = delete;
    ~IoWatchdog() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            done_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }

    /// The ranks completed a step together: the next one gets the whole budget again.
    void progress() {
        std::lock_guard<std::mutex> lock(mutex_);
        deadline_ = Clock::now() + budget();
    }

    /// This rank's own step failed: if the write then gets stuck, its line is that error.
    void failed(const ErrorInfo& info) {
        std::string message = failed_message(info, rank_, seconds_);
        std::lock_guard<std::mutex> lock(mutex_);
        message_ = std::move(message);
    }

private:
    using Clock = std::chrono::steady_clock;

    Clock::duration budget() const {
        return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds_));
    }

    void watch() {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!done_) {
            if (Clock::now() >= deadline_) end_process(message_, records_status_);
            wake_.wait_until(lock, deadline_);  // progress() moves the deadline: look again then
        }
    }

    /// The main thread waits inside MPI for peers that will never come: nothing but ending the
    /// process frees it. No MPI call at all (at MPI_THREAD_SINGLE only the main thread may call
    /// MPI, and every stranded rank ends itself at its own deadline anyway: whether this rank
    /// records the status for ckpt-run was asked at construction); no exit handlers (HDF5's
    /// would close the file the main thread is still inside).
    [[noreturn]] static void end_process(const std::string& message, bool records_status) noexcept {
        // The status first: the peers' watchdogs fire within moments, and a launcher that cleans
        // up after the first rank to leave (hydra sends SIGHUP) may end this one at any point.
        if (records_status) write_exit_status(stuck_exit_status);
        std::fflush(nullptr);  // the application's own output, then this rank's line
        std::fputs(message.c_str(), stderr);
        std::fflush(stderr);
        ::_exit(stuck_exit_status);
    }

    const double seconds_;
    const int rank_;
    const bool records_status_;  ///< asked on the main thread: the watchdog's makes no MPI call
    std::mutex mutex_;
    std::condition_variable wake_;
    Clock::time_point deadline_;
    bool done_ = false;
    std::string message_;
    std::thread thread_;
};

}  // namespace ckpt::detail
