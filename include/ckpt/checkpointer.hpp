#pragma once
/// ckpt::Checkpointer: register state once, then checkpoint and restore it collectively.
///
///   ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);   // reads --restart, --checkpoint, CKPT_*
///   cp.protect("step", step).protect("u", u).protect("params", params);
///   cp.on_restart([&] { rebuild(); });
///   cp.restore_if_requested();
///   while (step < n) { advance(); ++step; cp.poll(step); }

#include "ckpt/codec.hpp"
#include "ckpt/detail/atomic_commit.hpp"
#include "ckpt/detail/mpi/agree.hpp"
#include "ckpt/detail/mpi/poll_agreement.hpp"
#include "ckpt/detail/store.hpp"
#include "ckpt/options.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

namespace ckpt {

namespace detail {
/// One protected object, type-erased: its name and how to save/load it.
struct Entry {
    std::string name;
    std::function<void(Writer&)> save;
    std::function<void(Reader&)> load;
};

inline double now_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
inline std::string current_directory() {
    std::error_code ec;
    auto p = std::filesystem::current_path(ec);
    return ec ? std::string() : p.string();
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
    Checkpointer(int& argc, char** argv, MPI_Comm comm, const Options& in_code)
        : Checkpointer(prepare(argc, argv, &in_code), comm, Private{}) {}
    /// As above, with the built-in defaults as the values set in code.
    Checkpointer(int& argc, char** argv, MPI_Comm comm) : Checkpointer(prepare(argc, argv, nullptr), comm, Private{}) {}

    /// Collective over `comm`. Uses `options` exactly as given (no environment, no command line).
    explicit Checkpointer(Options options, MPI_Comm comm = MPI_COMM_WORLD)
        : Checkpointer(Prepared{(detail::mpi::ensure_initialized(), std::move(options)), {}}, comm, Private{}) {}

    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;

    /// Binds `obj` by reference under `name`; it must outlive the checkpointer. Not collective, but
    /// every rank must protect the same names with the same kinds of object, in the same order.
    /// Throws: UsageError (duplicate or invalid name, called after restore_if_requested()).
    template <class T>
    Checkpointer& protect(const std::string& name, T& obj) {
        static_assert(!std::is_const_v<T>, "ckpt: protect() cannot restore into a const object; pass a non-const lvalue");
        if constexpr (is_checkpointable_v<T>) {
            add_entry(name, [&obj, name](Writer& w) { w.write(name, obj); },
                      [&obj, name](Reader& r) { r.read(name, obj); });
        } else {
            detail::report_not_checkpointable<T>();
        }
        return *this;
    }
    /// A view is a handle, so a temporary view is fine; the memory it points to must outlive cp.
    template <class T>
    Checkpointer& protect(const std::string& name, ArrayView<T> view) {
        add_entry(name, [view, name](Writer& w) { w.write(name, view); },
                  [view, name](Reader& r) mutable { r.read(name, view); });
        return *this;
    }
    template <class T, class = std::enable_if_t<!std::is_lvalue_reference_v<T>>>
    Checkpointer& protect(const std::string&, T&&) {
        static_assert(detail::dependent_false<T>::value,
                      "ckpt: protect() keeps a reference to the object; pass a named lvalue, not a temporary");
        return *this;
    }

    /// Runs before data is written (e.g. copy device data to host), in registration order.
    Checkpointer& on_checkpoint(std::function<void()> hook) {
        checkpoint_hooks_.push_back(std::move(hook));
        return *this;
    }
    /// Runs after data is restored (e.g. rebuild derived state), in reverse registration order.
    Checkpointer& on_restart(std::function<void()> hook) {
        restart_hooks_.push_back(std::move(hook));
        return *this;
    }

    /// Collective. Restores every protected object from the checkpoint that --restart selects
    /// (none, auto, latest, a sequence number, a name in the directory, or a path). Returns whether
    /// it restored. `latest` and `auto` skip unreadable, corrupt or incompatible versions with a
    /// warning and fall back to the next older one.
    /// Throws (the same on every rank): IoError with errno ENOENT (nothing where --restart points),
    /// FormatError (corrupt or not ckpt), MismatchError (does not fit what is protected), MpiError.
    bool restore_if_requested() { return restore(options_.restart); }

    /// Collective. As restore_if_requested(), for an explicit selection.
    bool restore(const RestartSpec& what);

    /// Collective. Writes a new version now and returns its path ("" if the mode is `none`).
    /// Throws (the same on every rank): IoError, UsageError, MpiError. A failure never damages an
    /// older version.
    std::string checkpoint();

    /// Collective safe point, called once per step by every rank. Checkpoints when `every=N`
    /// divides `step` or when the periodic interval has elapsed. Returns whether it checkpointed.
    /// Cheap when nothing is due: no blocking collective (see detail/mpi/poll_agreement.hpp).
    bool poll(std::int64_t step) { return poll_impl(step, true); }
    /// As poll(step), counting calls instead of steps for `every=N`.
    bool poll() { return poll_impl(static_cast<std::int64_t>(poll_calls_ + 1), false); }

    const Options& options() const noexcept { return options_; }
    int rank() const noexcept { return comm_.rank(); }
    int size() const noexcept { return comm_.size(); }
    /// Path of the last version this checkpointer wrote or restored from ("" if none).
    const std::string& last_path() const noexcept { return last_path_; }
    /// Sequence number of the last version written or restored (0 if none).
    std::uint64_t sequence() const noexcept { return sequence_; }

private:
    struct Private {};
    struct Prepared {
        Options options;
        std::vector<std::string> argv;
    };

    // Takes a pointer, not a defaulted Options argument: GCC 12 -O2 reports a temporary Options at
    // the call site as maybe-uninitialized (a known false positive with std::string members).
    static Prepared prepare(int& argc, char** argv, const Options* in_code) {
        detail::mpi::ensure_initialized();
        Prepared p;
        for (int i = 0; i < argc; ++i) p.argv.emplace_back(argv[i] ? argv[i] : "");
        Options base;
        if (in_code) base = *in_code;
        p.options = resolve_options(argc, argv, base);
        return p;
    }

    Checkpointer(Prepared prepared, MPI_Comm comm, Private)
        : options_(std::move(prepared.options)), argv_(std::move(prepared.argv)), comm_(comm),
          last_time_(detail::now_seconds()) {
        if (options_.verbose && comm_.rank() == 0) std::cerr << describe(options_);
    }

    void add_entry(const std::string& name, std::function<void(Writer&)> save, std::function<void(Reader&)> load) {
        detail::check_entry_name(name);
        if (restored_) detail::raise(UsageError::too_late(name, "restore_if_requested()"));
        if (!names_.insert(name).second) detail::raise(UsageError::duplicate_name(name));
        entries_.push_back({name, std::move(save), std::move(load)});
    }

    std::vector<std::string> candidates(const RestartSpec& what) const;
    void restore_from(const std::string& path);
    bool poll_impl(std::int64_t step, bool have_step);
    void warn(const std::string& message) const {
        if (comm_.rank() == 0) std::cerr << "ckpt: warning: " << message << "\n";
    }

    Options options_;
    std::vector<std::string> argv_;
    detail::mpi::Comm comm_;
    std::vector<detail::Entry> entries_;
    std::set<std::string> names_;
    std::vector<std::function<void()>> checkpoint_hooks_;
    std::vector<std::function<void()>> restart_hooks_;
    detail::mpi::PollAgreement agreement_;
    bool restored_ = false;
    std::string last_path_;
    std::uint64_t sequence_ = 0;
    std::int64_t last_step_ = -1;      ///< step of the last checkpoint written or restored
    std::uint64_t poll_calls_ = 0;
    std::int64_t last_poll_step_ = -1;  ///< step given to the current poll, recorded in the file
    double last_time_;                 ///< rank 0: when the last checkpoint was written or restored
};

// ---------------------------------------------------------------------------------------------

inline std::vector<std::string> Checkpointer::candidates(const RestartSpec& what) const {
    // Rank 0 looks at the directory; everyone gets the same list (newline-separated).
    detail::mpi::Outcome local;
    std::string list;
    if (comm_.rank() == 0) {
        local.run([&] {
            auto missing = [&](const std::string& sentence, const std::string& file) {
                ErrorInfo i{sentence, file, "", -1, "check --restart / CKPT_RESTART and --checkpoint-dir / CKPT_DIR"};
                i.errno_value = ENOENT;
                return IoError(std::move(i));
            };
            std::vector<std::string> paths;
            switch (what.kind) {
                case RestartKind::None: break;
                case RestartKind::Auto:
                case RestartKind::Latest: {
                    auto versions = detail::complete_versions(options_.dir, options_.name);
                    for (auto it = versions.rbegin(); it != versions.rend(); ++it) paths.push_back(it->path);
                    if (paths.empty() && what.kind == RestartKind::Latest)
                        detail::raise(missing("--restart latest: no complete checkpoint \"" + options_.name +
                                                  ".*.h5\" in the directory",
                                              options_.dir));
                    break;
                }
                case RestartKind::Sequence: {
                    std::string p = detail::join_path(options_.dir, detail::version_file_name(options_.name, what.sequence));
                    if (!std::filesystem::exists(p))
                        detail::raise(missing("--restart " + std::to_string(what.sequence) +
                                                  ": no checkpoint with that sequence number",
                                              p));
                    paths.push_back(p);
                    break;
                }
                case RestartKind::Name:
                case RestartKind::Path: {
                    std::string p = what.kind == RestartKind::Name ? detail::join_path(options_.dir, what.target)
                                                                   : what.target;
                    if (!std::filesystem::exists(p)) detail::raise(missing("--restart: no such checkpoint file", p));
                    detail::Version v;
                    if (detail::parse_version_name(std::filesystem::path(p).filename().string(), options_.name, v) &&
                        v.temporary)
                        detail::raise(FormatError({"--restart points at an uncommitted temporary file", p, "", -1,
                                                   "restart from a committed version (ckpt list DIR)"}));
                    paths.push_back(p);
                    break;
                }
            }
            for (auto& p : paths) list += p + "\n";
        });
    }
    detail::mpi::agree(comm_, local);
    comm_.bcast(list);
    std::vector<std::string> out;
    for (std::size_t pos = 0, nl; (nl = list.find('\n', pos)) != std::string::npos; pos = nl + 1)
        out.push_back(list.substr(pos, nl - pos));
    return out;
}

inline void Checkpointer::restore_from(const std::string& path) {
    detail::mpi::Outcome local;
    detail::FileMeta meta;
    {
        std::unique_ptr<detail::FileSource> source;
        local.run([&] { source = std::make_unique<detail::FileSource>(path, comm_); });
        // The open is collective; if it failed anywhere, stop here, together.
        detail::mpi::agree(comm_, local);
        // Reads are independent, so a rank that fails here cannot strand the others.
        local.run([&] {
            for (auto& e : entries_) {
                Reader r(*source, "/state");
                try {
                    e.load(r);
                } catch (const Error&) {
                    throw;
                } catch (const std::exception& ex) {  // a Boost archive that does not decode
                    detail::raise(FormatError({"cannot decode \"" + e.name + "\": " + ex.what(), path,
                                               "/state/" + e.name, comm_.rank(), {}}));
                }
            }
            meta = source->meta();
        });
        local.run([&] { source->close(); });  // collective, reached by every rank
    }
    detail::mpi::agree(comm_, local);
    last_path_ = path;
    sequence_ = meta.sequence;
    last_step_ = meta.step;
}

inline bool Checkpointer::restore(const RestartSpec& what) {
    restored_ = true;
    if (what.kind == RestartKind::None) return false;
    const bool fall_back = what.kind == RestartKind::Latest || what.kind == RestartKind::Auto;
    auto paths = candidates(what);
    std::string skipped;
    std::optional<Error> newest_failure;
    for (const auto& path : paths) {
        try {
            restore_from(path);
            if (!skipped.empty()) warn("restored from " + path + " after skipping: " + skipped);
            for (auto it = restart_hooks_.rbegin(); it != restart_hooks_.rend(); ++it) (*it)();
            last_time_ = detail::now_seconds();
            agreement_.restart(comm_);
            return true;
        } catch (const Error& e) {
            const bool skippable = e.kind() == ErrorKind::Format || e.kind() == ErrorKind::Mismatch ||
                                   e.kind() == ErrorKind::Io;
            if (!fall_back || !skippable) throw;
            warn("skipping " + path + ": " + (e.what() + 6));  // what() without its "ckpt: "
            skipped += (skipped.empty() ? "" : ", ") + path;
            if (!newest_failure) newest_failure = e;
        }
    }
    if (paths.empty()) return false;  // auto with no checkpoint: start fresh
    // Every version failed: report the newest one's error, as its own kind (exit code 65 either way).
    ErrorInfo info = newest_failure->info();
    info.sentence = "--restart " + std::string(what.kind == RestartKind::Auto ? "auto" : "latest") +
                    ": no usable checkpoint among " + std::to_string(paths.size()) + " (" + skipped +
                    "); the newest failed: " + info.sentence;
    detail::raise(newest_failure->kind(), std::move(info));
}

inline std::string Checkpointer::checkpoint() {
    if (options_.mode.none) return {};
    const double started = detail::now_seconds();
    detail::mpi::Outcome local;

    // 1. Local: hooks, then every entry's nodes and checksums. Nothing collective yet.
    std::vector<detail::SaveNode> nodes;
    std::vector<std::uint64_t> sums;
    std::uint64_t digest[2] = {0, 0};
    local.run([&] {
        for (auto& hook : checkpoint_hooks_) hook();
        Writer w(nodes, "/state");
        for (auto& e : entries_) e.save(w);
        sums = detail::checksums(nodes);
        digest[0] = detail::structure_digest(nodes);
        digest[1] = ~digest[0];
    });
    detail::mpi::agree(comm_, local);
    comm_.allreduce(digest, 2, MPI_MAX);  // max(d) == min(d) iff ~max(~d) == max(d)
    if (~digest[1] != digest[0])
        detail::raise(UsageError({"ranks protect different state: names, kinds, element types or dimensions "
                                  "of the protected objects differ between ranks",
                                  "", "", -1, "every rank must protect the same names with the same kinds of object"}));

    // 2. Rank 0 picks the next sequence number and makes the directory.
    std::uint64_t seq = 0;
    if (comm_.rank() == 0) {
        local.run([&] {
            detail::make_directories(options_.dir);
            auto all = detail::list_versions(options_.dir, options_.name);
            seq = (all.empty() ? 0 : all.back().sequence) + 1;
        });
    }
    detail::mpi::agree(comm_, local);
    comm_.bcast(&seq, 1);
    const std::string final_path =
        detail::join_path(options_.dir, detail::version_file_name(options_.name, seq));
    const std::string tmp = final_path + ".tmp";

    // 3. Everyone writes the temporary file.
    detail::FileMeta meta;
    meta.sequence = seq;
    meta.step = last_poll_step_;
    meta.time = started;
    meta.ranks = comm_.size();
    meta.argv = argv_;
    meta.cwd = detail::current_directory();
    local.run([&] { detail::write_file(tmp, comm_, nodes, sums, meta); });
    detail::mpi::agree(comm_, local);

    // 4. Rank 0 makes it durable and visible; then rotates.
    std::vector<std::string> not_deleted;
    if (comm_.rank() == 0) {
        local.run([&] {
            detail::commit(tmp, final_path);
            not_deleted = detail::rotate(options_.dir, options_.name, options_.depth, seq);
        });
    }
    detail::mpi::agree(comm_, local);
    for (auto& p : not_deleted) warn("rotation could not delete " + p);

    last_path_ = final_path;
    sequence_ = seq;
    last_step_ = last_poll_step_;
    last_time_ = detail::now_seconds();
    if (options_.verbose && comm_.rank() == 0) {
        std::uint64_t bytes = 0;
        for (auto& n : nodes) bytes += n.is_group() ? 0 : n.count * detail::element_size(n.element);
        const double seconds = last_time_ - started;
        std::cerr << "ckpt: wrote " << final_path << " (rank 0: " << bytes << " bytes, " << seconds << " s)\n";
    }
    return final_path;
}

inline bool Checkpointer::poll_impl(std::int64_t step, bool have_step) {
    ++poll_calls_;
    last_poll_step_ = have_step ? step : -1;
    if (options_.mode.none || !options_.mode.periodic) return false;

    // Step-based: deterministic on every rank, no communication.
    if (options_.every > 0 && step > 0 && step % static_cast<std::int64_t>(options_.every) == 0 &&
        step != last_step_) {
        checkpoint();
        agreement_.restart(comm_);
        return true;
    }
    if (options_.interval.count() <= 0) return false;

    // Time-based: rank 0's clock decides; all ranks learn it at the same call.
    bool due = false;
    if (comm_.size() == 1) {
        due = detail::now_seconds() - last_time_ >= options_.interval.count();
    } else {
        detail::mpi::PollAgreement::Flags agreed{};
        auto local = [&] {
            detail::mpi::PollAgreement::Flags f{};
            if (comm_.rank() == 0)
                f[detail::mpi::PollAgreement::Checkpoint] = detail::now_seconds() - last_time_ >= options_.interval.count();
            return f;
        };
        due = agreement_.step(comm_, local, agreed) && agreed[detail::mpi::PollAgreement::Checkpoint] != 0;
    }
    if (!due) return false;
    checkpoint();
    agreement_.restart(comm_);
    return true;
}

}  // namespace ckpt
