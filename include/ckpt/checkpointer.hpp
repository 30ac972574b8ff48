#pragma once
/// ckpt::Checkpointer: register state once, then checkpoint and restore it collectively.
///
///   ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);   // reads --restart, --checkpoint, CKPT_*
///   cp.protect("step", step).protect("u", u).protect("params", params);
///   cp.on_restart([&] { rebuild(); });
///   cp.restore_if_requested();
///   while (step < n) { advance(); ++step; cp.poll(step); }
///
/// This header declares; ckpt/impl/checkpointer.hpp defines (included here in the header-only
/// mode, compiled into libckpt in the compiled mode, ckpt/config.hpp). It includes no HDF5, no
/// Boost, no <filesystem> and not even ckpt/options.hpp, so a translation unit that only
/// checkpoints pays for little.

#include "ckpt/array_view.hpp"
#include "ckpt/codec.hpp"
#include "ckpt/config.hpp"
#include "ckpt/distribution.hpp"
#include "ckpt/leave.hpp"

#include <mpi.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

namespace ckpt {

struct Options;      // ckpt/options.hpp
struct RestartSpec;  // ckpt/options.hpp
class CriticalSection;

namespace detail {
// A protected object or a hook, type-erased by function pointers (no <functional> here).
using SaveFn = void (*)(Writer&, const std::string& name, const void* object);
using LoadFn = void (*)(Reader&, const std::string& name, void* object);
using CallFn = void (*)(void* callable);
using DestroyFn = void (*)(void* object);
template <class T>
void save_object(Writer& w, const std::string& name, const void* object) {
    w.write(name, *static_cast<const T*>(object));
}
template <class T>
void load_object(Reader& r, const std::string& name, void* object) {
    r.read(name, *static_cast<T*>(object));
}
template <class F>
void call_object(void* callable) {
    (*static_cast<F*>(callable))();
}
template <class T>
void destroy_object(void* object) {
    delete static_cast<T*>(object);
}
}  // namespace detail

/// Registers application state and writes/restores coordinated, versioned HDF5 checkpoints.
/// Every rank of the communicator must create it and make the same calls in the same order.
class Checkpointer {
public:
    /// Collective over `comm`. Resolves the options from `in_code`, the CKPT_* environment and the
    /// command line, and removes ckpt's own flags from argc/argv. Initialises MPI if the program
    /// has not (and finalises it at exit), so a serial program needs no MPI code.
    /// Throws: ConfigError (bad flag or variable), MpiError.
    Checkpointer(int& argc, char** argv, MPI_Comm comm, const Options& in_code);
    /// As above, with the built-in defaults as the values set in code.
    Checkpointer(int& argc, char** argv, MPI_Comm comm);

    /// Collective over `comm`. Uses `options` as given, without the environment or a command line:
    /// the values are validated, a non-zero interval/every implies `periodic`, and `%j` in the
    /// directory is expanded. Throws: ConfigError naming the bad Options field, MpiError.
    explicit Checkpointer(const Options& options, MPI_Comm comm = MPI_COMM_WORLD);

    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;
    ~Checkpointer();

    /// Binds `obj` by reference under `name`; it must outlive the checkpointer. Not collective, but
    /// every rank must protect the same names with the same kinds of object, in the same order.
    /// Throws: UsageError (duplicate or invalid name, called after restore_if_requested()).
    /// `how` declares how the entry is spread over the ranks (ckpt/distribution.hpp): without
    /// it, per-rank, restored only on as many ranks as wrote it.
    template <class T>
    Checkpointer& protect(const std::string& name, T& obj, const Distribution& how = per_rank()) {
        static_assert(!std::is_const_v<T>, "ckpt: protect() cannot restore into a const object; pass a non-const lvalue");
        if constexpr (is_checkpointable_v<T>) {
            add_entry(name, &obj, &detail::save_object<T>, &detail::load_object<T>, nullptr, how);
        } else {
            detail::report_not_checkpointable<T>();
        }
        return *this;
    }
    /// A view is a handle, so a temporary view is fine; the memory it points to must outlive cp.
    template <class T>
    Checkpointer& protect(const std::string& name, ArrayView<T> view, const Distribution& how = per_rank()) {
        add_entry(name, new ArrayView<T>(std::move(view)), &detail::save_object<ArrayView<T>>,
                  &detail::load_object<ArrayView<T>>, &detail::destroy_object<ArrayView<T>>, how);
        return *this;
    }
    template <class T, class = std::enable_if_t<!std::is_lvalue_reference_v<T>>>
    Checkpointer& protect(const std::string&, T&&, const Distribution& = per_rank()) {
        static_assert(detail::dependent_false<T>::value,
                      "ckpt: protect() keeps a reference to the object; pass a named lvalue, not a temporary");
        return *this;
    }

    /// Runs `hook()` before data is written (e.g. copy device data to host), in registration
    /// order. Any callable: a lambda, a function, a std::function (copied or moved in).
    template <class F>
    Checkpointer& on_checkpoint(F&& hook) {
        return add_hook(false, std::forward<F>(hook));
    }
    /// Runs `hook()` after data is restored (e.g. rebuild derived state), in reverse registration order.
    template <class F>
    Checkpointer& on_restart(F&& hook) {
        return add_hook(true, std::forward<F>(hook));
    }

    /// Collective. Restores every protected object from the checkpoint that --restart selects
    /// (none, auto, latest, a sequence number, a name in the directory, or a path). Returns whether
    /// it restored. `latest` and `auto` skip unreadable, corrupt or incompatible versions with a
    /// warning and fall back to the next older one.
    /// Throws (the same on every rank): IoError with errno ENOENT (nothing where --restart points),
    /// FormatError (corrupt or not ckpt), MismatchError (does not fit what is protected), MpiError.
    bool restore_if_requested();

    /// Collective. As restore_if_requested(), for an explicit selection.
    bool restore(const RestartSpec& what);

    /// Collective. Writes a new version now and returns its path ("" if the mode is `none`).
    /// With asynchronous checkpoints (docs/async.md) it returns once the state is copied, with
    /// the path the version has once committed, or "" if async_busy=skip skipped it.
    /// Throws (the same on every rank): IoError, UsageError, MpiError. A failure never damages an
    /// older version.
    std::string checkpoint();

    /// Collective safe point, called once per step by every rank: the only place where ckpt acts.
    /// Checkpoints when `every=N` divides `step`, when the periodic interval has elapsed, or when
    /// the checkpoint signal, a request file or request_checkpoint() asked; leaves the job after a
    /// termination signal, `halt=` or an exit request (docs/safe-points.md). Every rank reaches the
    /// same decision at the same call. Returns whether it checkpointed. Cheap when nothing is due:
    /// no blocking collective (see detail/mpi/poll_agreement.hpp).
    /// Throws: as checkpoint() for a periodic or signalled checkpoint that fails; ExitRequest
    /// inside ckpt::main_guard when the job leaves.
    bool poll(std::int64_t step);
    /// As poll(step), counting calls instead of steps for `every=N`.
    bool poll();

    /// Ask for a checkpoint at a coming poll(), as the checkpoint signal does; with Action::Exit the
    /// job then leaves with CKPT_EXIT_CODE. Not collective: one rank asking is enough, and every
    /// rank acts at the same poll(). Thread-safe (a watchdog thread may call it).
    /// Throws: UsageError if the mode is `none`, or lacks `enabled` for Action::Continue.
    void request_checkpoint(Action action = Action::Continue);

    /// What poll() does when the job must leave; ExitPolicy::Exit (the default) ends the process,
    /// or unwinds to ckpt::main_guard. Not collective, but set it the same on every rank.
    Checkpointer& exit_policy(ExitPolicy policy) noexcept;
    /// True once poll() has decided that the job leaves (with ExitPolicy::Return); poll() then
    /// does nothing more. Not collective; the same on every rank.
    bool should_exit() const noexcept;
    /// The status to leave with once should_exit(): CKPT_EXIT_CODE after a checkpoint, 128+N for
    /// a termination signal N without `shutdown`, 74 if the shutdown checkpoint failed; else 0.
    int exit_status() const noexcept;

    /// The effective options (include <ckpt/options.hpp> to read them in the compiled mode).
    const Options& options() const noexcept;
    int rank() const noexcept;
    int size() const noexcept;
    /// Waits until work left from earlier checkpoints has finished: rank 0 deletes the versions
    /// that rotation drops in the background, so that a checkpoint never waits for unlink().
    /// Warnings about files it could not delete are printed here. Not collective, except while
    /// asynchronous checkpoints are in flight (the same on every rank): they are then made
    /// durable and committed first, and a background failure throws as poll() would. The
    /// destructor and restore() do it too.
    void sync();

    /// The application's schema version, stored in every checkpoint this writes (default 0):
    /// raise it when the protected state changes meaning, and migrate on restore. Not collective.
    Checkpointer& schema_version(std::int64_t version) noexcept;
    /// The schema version of the checkpoint last restored (0 if it has none, or nothing was
    /// restored); readable in on_restart hooks.
    std::int64_t restored_schema_version() const noexcept;
    /// The number of ranks that wrote the checkpoint last restored (0 if none).
    int restored_ranks() const noexcept;

    /// Path of the last version this checkpointer wrote or restored from ("" if none). With
    /// asynchronous checkpoints, the last one taken: committed at a later poll() or at sync().
    const std::string& last_path() const noexcept;
    /// Sequence number of the last version written or restored (0 if none).
    std::uint64_t sequence() const noexcept;

private:
    /// Everything else: the state, the safe-point state machine, the writes and restores
    /// (ckpt/impl/checkpointer.hpp). Behind a pointer, so that this header needs none of it.
    struct Impl;
    friend class CriticalSection;

    /// Registers a protected object; takes ownership of `object` when `destroy` is given.
    void add_entry(const std::string& name, void* object, detail::SaveFn save, detail::LoadFn load,
                   detail::DestroyFn destroy, const Distribution& how);
    template <class F>
    Checkpointer& add_hook(bool on_restart, F&& hook) {
        using H = std::decay_t<F>;
        add_hook(on_restart, new H(std::forward<F>(hook)), &detail::call_object<H>, &detail::destroy_object<H>);
        return *this;
    }
    /// Takes ownership of `hook` (freed with `destroy`, also when this throws).
    void add_hook(bool on_restart, void* hook, detail::CallFn call, detail::DestroyFn destroy);
    void enter_critical_section() noexcept;
    void leave_critical_section() noexcept;

    Impl* impl_;

};

}  // namespace ckpt

#if CKPT_HEADER_ONLY
#include "ckpt/impl/checkpointer.hpp"
#endif
