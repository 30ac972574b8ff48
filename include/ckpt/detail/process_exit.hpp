#pragma once
/// Ending the process the way launchers and batch systems understand: every rank finalises MPI
/// (else hydra reports a bad termination or SIGKILLs the ranks still finalising) and exits with
/// the contract's status, recorded for ckpt-run (exit_record.hpp).
///
/// Three ways out reach here: poll() leaving without main_guard (Checkpointer::leave), main_guard
/// returning a leaving status from main in a program that initialised MPI itself, and a ckpt::Error
/// that the application does not catch (std::terminate).

#include "ckpt/detail/exit_record.hpp"
#include "ckpt/detail/h5/check.hpp"
#include "ckpt/error.hpp"

#include <hdf5.h>
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>

namespace ckpt::detail {

/// MPI is running: initialised and not yet finalised.
inline bool mpi_running() noexcept {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized;
}

/// Collective over MPI_COMM_WORLD, but safe when some ranks never come: waits at most `seconds`
/// for every rank to arrive, then finalises HDF5 (whose own exit handler would run after MPI is
/// gone) and MPI. Returns whether it finalised; false leaves MPI as it was.
inline bool finalize_if_every_rank_arrives(double seconds) noexcept {
    if (!mpi_running()) return false;
    MPI_Request arrived = MPI_REQUEST_NULL;
    if (MPI_Ibarrier(MPI_COMM_WORLD, &arrived) != MPI_SUCCESS) return false;
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    int done = 0;
    while (MPI_Test(&arrived, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done) {
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!done) return false;
    h5::close_library();
    MPI_Finalize();
    return true;
}

/// How long ranks that leave together wait for each other before finalising anyway.
constexpr double leaving_wait_seconds = 30;

/// main_guard, when the job leaves (a checkpoint-and-exit, or a ckpt::Error) in a program that
/// initialised MPI itself: if main then returns without MPI_Finalize, it is done at exit, once
/// every rank is there. A program that finalises by itself is left alone.
CKPT_INLINE void finalize_mpi_at_exit() noexcept {
    static std::once_flag once;
    std::call_once(once, [] { std::atexit([] { finalize_if_every_rank_arrives(leaving_wait_seconds); }); });
}

/// The std::terminate handler installed with the first Checkpointer: a ckpt::Error that nobody
/// caught ends the process with its one-line message (rank 0 prints it) and exit_code(e), as
/// main_guard would, instead of "terminate called after throwing" and an abort. A collective
/// call fails the same way on every rank, so they all come here and finalise together; a rank
/// that finds itself alone prints its own message and aborts the job with the same status.
/// Anything else goes to the handler that was there before.
inline std::terminate_handler& previous_terminate_handler() {
    static std::terminate_handler previous = nullptr;
    return previous;
}

[[noreturn]] inline void terminate_on_error() noexcept {
    if (std::exception_ptr current = std::current_exception()) {
        try {
            std::rethrow_exception(current);
        } catch (const Error& e) {
            const int status = exit_code(e);
            int rank = 0;
            if (mpi_running()) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
            if (rank == 0) std::fprintf(stderr, "%s\n", e.what());
            record_exit_status(status);
            if (!mpi_running() || finalize_if_every_rank_arrives(leaving_wait_seconds)) {
                std::fflush(nullptr);
                std::_Exit(status);
            }
            if (rank != 0) std::fprintf(stderr, "%s\n", e.what());
            std::fflush(nullptr);
            MPI_Abort(MPI_COMM_WORLD, status);
            std::_Exit(status);
        } catch (...) {
        }
    }
    if (std::terminate_handler previous = previous_terminate_handler()) previous();
    std::abort();
}

inline void install_terminate_handler() {
    static std::once_flag once;
    std::call_once(once, [] { previous_terminate_handler() = std::set_terminate(terminate_on_error); });
}

}  // namespace ckpt::detail
