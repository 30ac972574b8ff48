#pragma once
/// The exit status a leaving job records for its launcher wrapper, tools/scripts/ckpt-run
/// (docs/batch-systems.md, "ckpt-run's exit status").
///
/// MPICH 4.0's mpiexec (hydra, Debian 12) sometimes reports 0 for a job whose ranks all exited
/// 85 (MPICH issue 7057), and then a batch system's requeue-on-85 silently does nothing. So
/// ckpt-run does not rely on the launcher alone: it sets CKPT_STATUS_FILE to a fresh path that
/// the ranks can reach, the library writes the status it is about to leave with there, and
/// ckpt-run exits with that status.

#include "ckpt/config.hpp"

#include <mpi.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>

namespace ckpt::detail {

/// Whether this process is the one that records the job's status: rank 0 of MPI_COMM_WORLD, or
/// every process when MPI is not running (not initialised, or finalized).
inline bool records_exit_status() noexcept {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized) return true;
    int rank = 0;
    return MPI_Comm_rank(MPI_COMM_WORLD, &rank) == MPI_SUCCESS && rank == 0;
}

/// Writes "<status>\n" (status & 0xff, what the parent's wait() will see) to $CKPT_STATUS_FILE,
/// if that is set, whichever process this is: no MPI call, so a thread that must not call MPI
/// (a watchdog) may use it, having asked records_exit_status() on the main thread before. The
/// file is created mode 0600, truncated, never through a symbolic link, and synced, so that
/// ckpt-run finds it whatever happens next (a rank killed in MPI_Finalize, a node's cache lost).
/// Best effort: every error is ignored. Not async-signal-safe. Thread safety: any thread.
inline void write_exit_status(int status) noexcept {
    const char* path = std::getenv("CKPT_STATUS_FILE");
    if (path == nullptr || *path == '\0') return;
    char text[8];
    unsigned value = static_cast<unsigned>(status) & 0xffu;
    char digits[4];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    int len = 0;
    while (n > 0) text[len++] = digits[--n];
    text[len++] = '\n';

    const int saved_errno = errno;  // a caller about to report errno should still see its own
    const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        int done = 0;
        while (done < len) {
            const ssize_t w = ::write(fd, text + done, static_cast<std::size_t>(len - done));
            if (w > 0) {
                done += static_cast<int>(w);
            } else if (w < 0 && errno == EINTR) {
                continue;
            } else {
                break;
            }
        }
        ::fsync(fd);
        ::close(fd);
    }
    errno = saved_errno;
}

/// record_exit_status(status): write_exit_status() if this process records_exit_status().
/// Collective: no · Thread safety: the thread that may call MPI.
CKPT_INLINE void record_exit_status(int status) noexcept {
    if (records_exit_status()) write_exit_status(status);
}

}  // namespace ckpt::detail
