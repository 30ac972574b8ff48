#pragma once
/// Signal handlers that only count (docs/batch-contract.md section 5). The handler increments a per-signal
/// counter, chains to the handler installed before it, and does nothing else; poll() reads the
/// counters at its next safe point. Installation is reference-counted per signal across every
/// checkpointer of the process, and the previous action is restored when the last one goes.
///
/// Escape hatch: a terminating signal that arrives three times without any poll() acting on it
/// (a program stuck outside its loop) restores the previous action and re-raises, so Ctrl-C
/// pressed three times still ends a hung program.

#include "ckpt/error.hpp"

#include <dlfcn.h>
#include <signal.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace ckpt::detail::signals {

inline constexpr int table_size = 65;  ///< signal numbers 1..64 (Linux SIGRTMAX)

/// Written only by the handler: how many times each signal arrived since the process started.
inline volatile std::sig_atomic_t received[table_size] = {};
/// Terminating signals received that no poll() has acted on yet; the handler escalates at 3.
inline volatile std::sig_atomic_t unanswered[table_size] = {};
/// Set before installation, read by the handler: 1 for a terminating signal.
inline volatile std::sig_atomic_t terminating[table_size] = {};
/// The action each signal had before ours; written before installation, read by the handler.
inline struct sigaction previous[table_size] = {};
/// 1 if the handler calls previous[sig] after counting (see chains_to below).
inline volatile std::sig_atomic_t chain[table_size] = {};

/// Whether our handler should call the action that was installed before it. Not the MPI library's
/// own handler: MPICH installs one for SIGUSR1 at MPI_Init that takes USR1 to mean "a peer process
/// failed" and then asks the process manager which one (in a program started without mpiexec, it
/// tries to launch one and waits forever). The checkpoint signal is ours, not a failure report.
inline bool chains_to(const struct sigaction& action) {
    void* code = (action.sa_flags & SA_SIGINFO) ? reinterpret_cast<void*>(action.sa_sigaction)
                                                : reinterpret_cast<void*>(action.sa_handler);
    if (action.sa_handler == SIG_DFL || action.sa_handler == SIG_IGN || code == nullptr) return false;
    Dl_info where{};
    if (dladdr(code, &where) != 0 && where.dli_fname != nullptr &&
        std::strstr(where.dli_fname, "libmpi") != nullptr)
        return false;
    return true;
}

inline constexpr std::sig_atomic_t escalate_after = 3;

inline void handler(int sig, siginfo_t* info, void* context) {
    if (sig <= 0 || sig >= table_size) return;
    const int saved_errno = errno;
    received[sig] = received[sig] + 1;  // the same signal is blocked while its handler runs
    if (terminating[sig]) {
        unanswered[sig] = unanswered[sig] + 1;
        if (unanswered[sig] >= escalate_after) {  // sigaction and raise are async-signal-safe
            sigaction(sig, &previous[sig], nullptr);
            ::raise(sig);
        }
    }
    const struct sigaction& prev = previous[sig];
    if (!chain[sig]) {
        // not chained: SIG_DFL, SIG_IGN, or the MPI library's handler
    } else if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction != nullptr) prev.sa_sigaction(sig, info, context);
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN && prev.sa_handler != nullptr) {
        prev.sa_handler(sig);
    }
    errno = saved_errno;
}

/// The count for `sig`, read outside the handler.
inline std::uint64_t count(int sig) noexcept {
    return sig > 0 && sig < table_size ? static_cast<std::uint64_t>(received[sig]) : 0;
}

/// poll() acted on the terminating signals received so far: reset the escalation count.
inline void answered(int sig) noexcept {
    if (sig > 0 && sig < table_size) unanswered[sig] = 0;
}

/// Our handler on a set of signals for as long as this object lives.
class Installation {
public:
    Installation() = default;
    /// `terminating` marks signals that end the job; `checkpoint` ones only ask for a checkpoint.
    /// Throws: UsageError if sigaction refuses a signal (already-installed ones are restored).
    Installation(const std::vector<int>& checkpoint, const std::vector<int>& terminating_signals) {
        std::lock_guard<std::mutex> lock(mutex());
        try {
            for (int sig : checkpoint) add(sig, false);
            for (int sig : terminating_signals) add(sig, true);
        } catch (...) {
            release_locked();
            throw;
        }
    }
    Installation(const Installation&) = delete;
    Installation& operator=(const Installation&) = delete;
    ~Installation() {
        std::lock_guard<std::mutex> lock(mutex());
        release_locked();
    }

    const std::vector<int>& signals() const noexcept { return mine_; }

private:
    static std::mutex& mutex() {
        static std::mutex m;
        return m;
    }
    static int (&users())[table_size] {
        static int u[table_size] = {};
        return u;
    }

    void add(int sig, bool is_terminating) {
        if (sig <= 0 || sig >= table_size) return;
        for (int s : mine_)
            if (s == sig) return;
        if (users()[sig] == 0) {
            struct sigaction ours {};
            ours.sa_sigaction = handler;
            ours.sa_flags = SA_SIGINFO | SA_RESTART;
            sigemptyset(&ours.sa_mask);
            terminating[sig] = is_terminating ? 1 : 0;
            struct sigaction before {};
            if (sigaction(sig, nullptr, &before) == 0) {  // all before ours can run
                previous[sig] = before;
                chain[sig] = chains_to(before) ? 1 : 0;
            }
            if (sigaction(sig, &ours, nullptr) != 0)
                ::ckpt::detail::raise(UsageError({"cannot install a handler for signal " + std::to_string(sig) + ": " +
                                            std::string(std::strerror(errno)),
                                        "", "", -1, "check CKPT_SIGNAL / CKPT_TERM_SIGNALS"}));
        } else if (is_terminating) {
            terminating[sig] = 1;  // a signal may be "checkpoint" for one checkpointer and "leave" for another
        }
        ++users()[sig];
        mine_.push_back(sig);
    }

    void release_locked() noexcept {
        for (int sig : mine_)
            if (--users()[sig] == 0) {
                sigaction(sig, &previous[sig], nullptr);
                terminating[sig] = 0;
                unanswered[sig] = 0;
            }
        mine_.clear();
    }

    std::vector<int> mine_;
};

}  // namespace ckpt::detail::signals
