#pragma once
/// How a job leaves at a safe point (docs/batch-contract.md sections 5 and 6).
///
/// When poll() decides the job must end (a termination signal, `halt=`, a request with
/// action=exit), it writes the checkpoint if the mode says so and then, by default, ends the
/// process with the contract's exit status. Three ways to take part:
///
///   int main(int argc, char** argv) {            // 1. main_guard: destructors run, status returned
///       return ckpt::main_guard([&] { ...; return 0; });
///   }
///   cp.exit_policy(ckpt::ExitPolicy::Return);     // 2. own loop: poll() returns, then
///   while (!cp.should_exit()) { ... cp.poll(step); }   return cp.exit_status();
///   (neither)                                      // 3. poll() calls std::exit(status) itself
///
/// main_guard also turns a ckpt::Error that escapes (a bad --checkpoint value in the constructor,
/// a checkpoint that cannot be read) into its contract exit status, printing the message once.

#include "ckpt/config.hpp"
#include "ckpt/error.hpp"

#include <mpi.h>

#include <cstdio>
#include <type_traits>
#include <utility>

namespace ckpt {

/// What request_checkpoint() asks for.
enum class Action {
    Continue,  ///< checkpoint, then go on
    Exit,      ///< checkpoint, then leave with CKPT_EXIT_CODE
};

/// What poll() does once it has decided that the job leaves.
enum class ExitPolicy {
    Exit,    ///< end the process (or unwind to main_guard) with exit_status()
    Return,  ///< return; should_exit() is then true and the application leaves by itself
};

/// Thrown by poll() inside main_guard when the job leaves; main_guard returns status().
/// Deliberately not a std::exception, so `catch (const std::exception&)` does not swallow it.
class ExitRequest {
public:
    explicit ExitRequest(int status) noexcept : status_(status) {}
    int status() const noexcept { return status_; }

private:
    int status_;
};

namespace detail {
/// How many main_guard frames are active on this thread; poll() throws ExitRequest when > 0.
inline thread_local int main_guard_depth = 0;

/// Records `status` for ckpt-run (ckpt/detail/exit_record.hpp).
CKPT_INLINE void record_exit_status(int status) noexcept;
/// Finalises MPI at exit once every rank is there (ckpt/detail/process_exit.hpp).
CKPT_INLINE void finalize_mpi_at_exit() noexcept;

/// Rank in MPI_COMM_WORLD, or 0 when MPI is not running (errors are then printed by everyone).
inline int world_rank_or_zero() noexcept {
    int initialized = 0, finalized = 0, rank = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}
}  // namespace detail

/// Runs `body` (returning int, or void for 0) and returns its status, or the status a leaving
/// job must exit with: the ExitRequest's, or exit_code(e) for a ckpt::Error (whose message rank 0
/// of MPI_COMM_WORLD prints to stderr). Other exceptions pass through. When it returns a leaving
/// status, MPI is finalised at exit if main does not do it first (every rank must, or the
/// launcher kills the job), so `MPI_Init(); return ckpt::main_guard(...);` is a correct main, as
/// is one that calls MPI_Finalize itself.
/// Collective: no · Thread safety: per thread.
template <class Body>
int main_guard(Body&& body) {
    struct Depth {
        Depth() { ++detail::main_guard_depth; }
        ~Depth() { --detail::main_guard_depth; }
    };
    try {
        Depth depth;
        if constexpr (std::is_void_v<std::invoke_result_t<Body&>>) {
            body();
            return 0;
        } else {
            return static_cast<int>(body());
        }
    } catch (const ExitRequest& e) {
        detail::record_exit_status(e.status());
        detail::finalize_mpi_at_exit();  // main may return without MPI_Finalize: every rank leaves now
        return e.status();
    } catch (const Error& e) {
        if (detail::world_rank_or_zero() == 0) std::fprintf(stderr, "%s\n", e.what());
        detail::record_exit_status(exit_code(e));
        detail::finalize_mpi_at_exit();
        return exit_code(e);
    }
}

}  // namespace ckpt

#if CKPT_HEADER_ONLY
#include "ckpt/detail/process_exit.hpp"
#endif
