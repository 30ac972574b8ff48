#pragma once
/// Definitions for ckpt/checkpointer.hpp: the checkpointer's state, its safe-point state machine,
/// and how it writes and restores versions. Inline in the header-only mode, compiled once into
/// libckpt in the compiled mode (ckpt/config.hpp).

#include "ckpt/checkpointer.hpp"
#include "ckpt/codec.hpp"
#include "ckpt/detail/async_flush.hpp"
#include "ckpt/detail/atomic_commit.hpp"
#include "ckpt/detail/control.hpp"
#include "ckpt/detail/io_watchdog.hpp"
#include "ckpt/detail/leaf.hpp"
#include "ckpt/detail/job_lock.hpp"
#include "ckpt/detail/mpi/agree.hpp"
#include "ckpt/detail/process_exit.hpp"
#include "ckpt/detail/registry.hpp"
#include "ckpt/detail/safe_point.hpp"
#include "ckpt/detail/spread.hpp"
#include "ckpt/detail/store.hpp"
#include "ckpt/detail/worker.hpp"
#include "ckpt/impl/codec.hpp"
#include "ckpt/impl/options.hpp"
#include "ckpt/leave.hpp"
#include "ckpt/options.hpp"
#include "ckpt/stored_parts.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace ckpt {

namespace detail {
/// Where one version goes: the configured directory, name and depth, or a request's.
struct Target {
    std::string dir, name;
    unsigned depth = 2;
};

/// `rate` bytes per second with a unit that keeps three significant digits ("512 kB/s").
inline std::string format_rate(double rate) {
    static const char* const units[] = {"B/s", "kB/s", "MB/s", "GB/s", "TB/s"};
    std::size_t u = 0;
    while (rate >= 1000 && u + 1 < std::size(units)) {
        rate /= 1000;
        ++u;
    }
    char text[32];
    std::snprintf(text, sizeof text, rate >= 100 ? "%.0f %s" : rate >= 10 ? "%.1f %s" : "%.2f %s", rate, units[u]);
    return text;
}
/// The verbose log line of a written version (docs/configuration.md).
inline std::string written_line(const std::string& path, std::uint64_t bytes, double seconds, int ranks) {
    char head[96];
    std::snprintf(head, sizeof head, "%llu bytes in %.3f s, ", static_cast<unsigned long long>(bytes), seconds);
    return "ckpt: wrote " + path + " (" + head + (seconds > 0 ? format_rate(bytes / seconds) : "-") + ", " +
           std::to_string(ranks) + " rank" + (ranks == 1 ? "" : "s") + ")";
}
inline std::string current_directory() {
    std::error_code ec;
    auto p = std::filesystem::current_path(ec);
    return ec ? std::string() : p.string();
}
}  // namespace detail


struct Checkpointer::Impl {
    struct Prepared {
        Options options;
        std::vector<std::string> argv;
    };

    // Takes a pointer, not a defaulted Options argument: GCC 12 -O2 reports a temporary Options at
    // the call site as maybe-uninitialized (a known false positive with std::string members).
    // Both constructors' first steps. The terminate handler comes first of all: a bad flag or
    // variable (ConfigError) is an uncaught ckpt::Error too, and ends with its message and 64.
    static Prepared prepare(int& argc, char** argv, const Options* in_code) {
        detail::install_terminate_handler();
        detail::mpi::ensure_initialized();
        Prepared p;
        for (int i = 0; i < argc; ++i) p.argv.emplace_back(argv[i] ? argv[i] : "");
        Options base;
        if (in_code) base = *in_code;
        p.options = resolve_options(argc, argv, base);
        return p;
    }

    static Options settle(Options o) {
        detail::install_terminate_handler();
        if (!o.mode.none && (o.interval.count() > 0 || o.every > 0)) o.mode.periodic = true;
        detail::finish(o, process_environment());
        return o;
    }

    Impl(Prepared prepared, MPI_Comm comm)
        : options_(std::move(prepared.options)), argv_(std::move(prepared.argv)), comm_(comm),
          triggers_(options_, comm_) {
        detail::h5::take_over_library_exit();  // before ckpt's first HDF5 call
        if (options_.verbose && comm_.rank() == 0) std::cerr << describe(options_);
        if (options_.halt.count() > 0 && options_.end_time == 0)
            warn("halt=" + detail::format_seconds(options_.halt) +
                 " has no end time to count down from: set CKPT_END_TIME (or run under Slurm with a time limit)");
        if (options_.mode.none) return;  // nothing will ever be written: leave signals alone
        if (options_.async > 0) start_async();
        take_job_lock();
        triggers_.install_signals();
    }

    /// Asynchronous checkpoints: the worker makes no MPI call, so the main thread must be
    /// allowed to call MPI while another thread runs (MPI_THREAD_FUNNELED); MPI_Finalize drains
    /// what is still in flight (an attribute of MPI_COMM_SELF, deleted first thing in it).
    void start_async() {
        int provided = MPI_THREAD_SINGLE;
        MPI_Query_thread(&provided);
        if (provided < MPI_THREAD_FUNNELED) {
            ErrorInfo i("asynchronous checkpoints (async=" + std::to_string(options_.async) +
                            ") write on a background thread, and MPI was initialised with MPI_THREAD_SINGLE",
                        "", "", -1,
                        "initialise MPI with MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) (or let "
                        "ckpt initialise it), or checkpoint synchronously (async=0)");
            i.option = "async";
            i.value = std::to_string(options_.async);
            detail::raise(ConfigError(std::move(i)));
        }
        triggers_.watch_flushes([this] { return detail::FlushProgress{flushes_.done(), flushes_.failed()}; });
        detail::mpi::check(MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, &drain_at_finalize, &finalize_key_, nullptr),
                           "MPI_Comm_create_keyval");
        detail::mpi::check(MPI_Comm_set_attr(MPI_COMM_SELF, finalize_key_, this), "MPI_Comm_set_attr");
    }
    static int drain_at_finalize(MPI_Comm, int, void* self, void*) {
        static_cast<Impl*>(self)->finish_flushes();
        return MPI_SUCCESS;
    }

    void restore_entry(detail::FileSource& source, const detail::Entry& e, std::vector<std::string>& absent);
    /// Runs `read` (reads of `object` in the checkpoint `path`): an I/O error in a stored structure
    /// HDF5 cannot read, or a Boost archive that does not decode, is a corrupt file (65).
    template <class F>
    void stored_structure(const std::string& path, const std::string& object, F&& read);
    /// Collective, before a restore reads anything: the blocks the ranks declare now tile their
    /// arrays (else the same UsageError everywhere, never a reason to skip a good checkpoint).
    void check_restore_declarations() {
        detail::mpi::Outcome local;
        std::vector<detail::SaveNode> blocks;
        local.run([&] { blocks = registry_.block_leaves(); });
        const auto rows = exchange_declarations(local, blocks,
                                                "declare different blocks: the names, element types, dimensions or "
                                                "global shapes of the block entries differ between ranks");
        detail::check_declarations(blocks, rows, 1);
    }
    /// Collective, one round: the ranks agree that `local` succeeded everywhere and that they hold
    /// the same structure of `nodes` (else the same UsageError on every rank, "ranks " + `what`,
    /// naming the first rank that differs from rank 0), and exchange their declaration words.
    /// Returns every rank's words, after one word of structure digest, for check_declarations().
    std::vector<std::vector<std::uint64_t>> exchange_declarations(detail::mpi::Outcome& local,
                                                                  const std::vector<detail::SaveNode>& nodes,
                                                                  const std::string& what) const {
        std::vector<std::uint64_t> words;
        local.run([&] {
            words = {detail::structure_digest(nodes)};
            const auto declared = detail::declaration_words(nodes);
            words.insert(words.end(), declared.begin(), declared.end());
        });
        const auto rows = detail::mpi::agree_and_gather(comm_, local, words);
        for (std::size_t r = 1; r < rows.size(); ++r)
            if (rows[r].empty() || rows[r][0] != rows[0][0])
                detail::raise(UsageError({"ranks " + what + " (rank " + std::to_string(r) + " differs from rank 0)", "",
                                          "", static_cast<int>(r),
                                          "every rank must protect the same names with the same kinds of object"}));
        return rows;
    }

    ~Impl() {
        finish_flushes();
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (finalize_key_ != MPI_KEYVAL_INVALID && !finalized) {
            MPI_Comm_delete_attr(MPI_COMM_SELF, finalize_key_);  // runs drain_at_finalize: nothing left
            MPI_Comm_free_keyval(&finalize_key_);
        }
        join_rotation();
        release_directory();
    }

    bool restore(const RestartSpec& what);
    std::string checkpoint();
    void request_checkpoint(Action action);
    std::vector<std::string> candidates(const RestartSpec& what) const;
    void restore_from(const std::string& path);
    void quarantine(const std::string& path) const;
    bool poll_impl(std::int64_t step, bool have_step);
    std::string write_version(const detail::Target& target, bool durable);
    std::string stage_version(detail::mpi::Outcome& local, std::vector<detail::SaveNode> nodes, const detail::Target& target,
                              const detail::FileMeta& meta, const std::string& tmp, const std::string& final_path,
                              double started);
    void settle_flushes(const detail::Due& due);
    void drain(std::size_t keep);
    void commit_oldest();
    void abandon_flushes();
    void finish_flushes() noexcept;
    void start_rotation(const detail::Target& target, std::uint64_t seq);
    bool act(const detail::Due& due);
    std::optional<detail::control::Request> claim_request();
    void answer(const std::optional<detail::control::Request>& request, bool ok, int status, const std::string& file,
                double seconds, const std::string& msg);
    void leave(int status);
    void join_rotation();
    void join_rotation_failures();
    void make_pid_file();
    void take_job_lock();
    void release_directory() noexcept;
    void warn(const std::string& message) const {
        if (comm_.rank() == 0) std::cerr << "ckpt: warning: " << message << "\n";
    }

    Options options_;
    std::vector<std::string> argv_;
    detail::mpi::Comm comm_;
    detail::Registry registry_;
    bool restored_ = false;
    std::int64_t schema_version_ = 0;
    std::int64_t restored_schema_version_ = 0;
    int restored_ranks_ = 0;
    std::string last_path_;
    std::uint64_t sequence_ = 0;
    std::int64_t last_step_ = -1;      ///< step of the last checkpoint written or restored
    std::uint64_t poll_calls_ = 0;
    std::int64_t last_poll_step_ = -1;  ///< step given to the current poll, recorded in the file
    std::uint64_t last_write_call_ = 0; ///< poll_calls_ at the last write: one write per safe point
    detail::SafePoint triggers_;        ///< what each poll() must do: signals, requests, clocks

    std::unique_ptr<detail::control::PidFile> pid_file_;
    std::unique_ptr<detail::JobLock> job_lock_;  ///< rank 0: this job alone writes (dir, name)
    std::vector<std::string> made_dirs_;           ///< what the job lock created, deepest first
    bool pid_file_tried_ = false;  ///< made at the first poll(): the job is reachable from its loop on
    ExitPolicy exit_policy_ = ExitPolicy::Exit;
    bool leaving_ = false;
    int exit_status_ = 0;

    int finalize_key_ = MPI_KEYVAL_INVALID;
    std::mutex rotation_mutex_;
    std::vector<std::string> rotation_failures_;  ///< under rotation_mutex_ (the worker adds)
    detail::Flushes flushes_;  ///< asynchronous checkpoints in flight, oldest first
    // Rank 0's rotation, and every rank's share of the asynchronous checkpoints, run on the
    // worker, in order; the directory is listed again for a restore only once it is idle. Last:
    // destroyed first, so its thread ends before anything its jobs use.
    detail::Worker worker_;
};

// The public members: each forwards to the state behind the pointer. ----------------------------

CKPT_INLINE Checkpointer::Checkpointer(int& argc, char** argv, MPI_Comm comm, const Options& in_code)
    : impl_(new Impl(Impl::prepare(argc, argv, &in_code), comm)) {}
CKPT_INLINE Checkpointer::Checkpointer(int& argc, char** argv, MPI_Comm comm)
    : impl_(new Impl(Impl::prepare(argc, argv, nullptr), comm)) {}
CKPT_INLINE Checkpointer::Checkpointer(const Options& options, MPI_Comm comm)
    : impl_(new Impl(Impl::Prepared{(detail::mpi::ensure_initialized(), Impl::settle(options)), {}}, comm)) {}
CKPT_INLINE Checkpointer::~Checkpointer() { delete impl_; }

CKPT_INLINE void Checkpointer::add_entry(const std::string& name, void* object, detail::SaveFn save,
                                         detail::LoadFn load, detail::DestroyFn destroy, const Distribution& how) {
    impl_->registry_.add(name, detail::Erased(object, destroy), save, load, how, impl_->restored_);
}
CKPT_INLINE Checkpointer& Checkpointer::schema_version(std::int64_t version) noexcept {
    impl_->schema_version_ = version;
    return *this;
}
CKPT_INLINE std::int64_t Checkpointer::restored_schema_version() const noexcept { return impl_->restored_schema_version_; }
CKPT_INLINE int Checkpointer::restored_ranks() const noexcept { return impl_->restored_ranks_; }
CKPT_INLINE void Checkpointer::add_hook(bool on_restart, void* hook, detail::CallFn call, detail::DestroyFn destroy) {
    detail::Hook h{detail::Erased(hook, destroy), call};
    impl_->registry_.add_hook(on_restart, std::move(h));
}
CKPT_INLINE void Checkpointer::enter_critical_section() noexcept { impl_->triggers_.enter_critical(); }
CKPT_INLINE void Checkpointer::leave_critical_section() noexcept { impl_->triggers_.leave_critical(); }

CKPT_INLINE bool Checkpointer::restore_if_requested() { return impl_->restore(impl_->options_.restart); }
CKPT_INLINE bool Checkpointer::restore(const RestartSpec& what) { return impl_->restore(what); }
CKPT_INLINE std::string Checkpointer::checkpoint() { return impl_->checkpoint(); }
CKPT_INLINE bool Checkpointer::poll(std::int64_t step) { return impl_->poll_impl(step, true); }
CKPT_INLINE bool Checkpointer::poll() {
    return impl_->poll_impl(static_cast<std::int64_t>(impl_->poll_calls_ + 1), false);
}
CKPT_INLINE void Checkpointer::request_checkpoint(Action action) { impl_->request_checkpoint(action); }
CKPT_INLINE Checkpointer& Checkpointer::exit_policy(ExitPolicy policy) noexcept {
    impl_->exit_policy_ = policy;
    return *this;
}
CKPT_INLINE bool Checkpointer::should_exit() const noexcept { return impl_->leaving_; }
CKPT_INLINE int Checkpointer::exit_status() const noexcept { return impl_->exit_status_; }
CKPT_INLINE const Options& Checkpointer::options() const noexcept { return impl_->options_; }
CKPT_INLINE int Checkpointer::rank() const noexcept { return impl_->comm_.rank(); }
CKPT_INLINE int Checkpointer::size() const noexcept { return impl_->comm_.size(); }
CKPT_INLINE void Checkpointer::sync() {
    impl_->drain(0);
    impl_->join_rotation();
}
CKPT_INLINE const std::string& Checkpointer::last_path() const noexcept { return impl_->last_path_; }
CKPT_INLINE std::uint64_t Checkpointer::sequence() const noexcept { return impl_->sequence_; }

// The state and its work. -------------------------------------------------------------------------

inline void Checkpointer::Impl::request_checkpoint(Action action) {
    if (options_.mode.none || (action == Action::Continue && !options_.mode.enabled))
        detail::raise(UsageError({"request_checkpoint(): the checkpoint mode is \"" +
                                      detail::format_mode(options_.mode) + "\", which writes no checkpoint on request",
                                  "", "", -1, "add `enabled` to --checkpoint / CKPT_MODE"}));
    triggers_.request(action == Action::Exit);
}


inline std::vector<std::string> Checkpointer::Impl::candidates(const RestartSpec& what) const {
    // Rank 0 looks at the directory; everyone gets the same list.
    detail::mpi::Outcome local;
    std::vector<std::string> paths;
    if (comm_.rank() == 0) {
        local.run([&] {
            auto missing = [&](const std::string& sentence, const std::string& file) {
                ErrorInfo i{sentence, file, "", -1, "check --restart / CKPT_RESTART and --checkpoint-dir / CKPT_DIR"};
                i.errno_value = ENOENT;
                return IoError(std::move(i));
            };
            switch (what.kind) {
                case RestartKind::None: break;
                case RestartKind::Auto:
                case RestartKind::Latest: {
                    auto versions = detail::committed_versions(options_.dir, options_.name);
                    for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
                        const std::string foreign = detail::foreign_problem(options_.dir, it->path);
                        if (foreign.empty())
                            paths.push_back(it->path);
                        else
                            warn("skipping " + it->path + ": " + foreign);
                    }
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
                    if (const std::string foreign = detail::foreign_problem(detail::parent_directory(p), p);
                        !foreign.empty())
                        warn("restoring " + p + " as asked, although it is " + foreign.substr(0, foreign.find(';')));
                    detail::Version v;
                    if (detail::parse_version_name(std::filesystem::path(p).filename().string(), options_.name, v) &&
                        v.temporary)
                        detail::raise(FormatError({"--restart points at an uncommitted temporary file", p, "", -1,
                                                   "restart from a committed version (ckpt list DIR)"}));
                    paths.push_back(p);
                    break;
                }
            }
        });
    }
    std::string shared = detail::mpi::wire::strings(paths);
    detail::mpi::root_decides(comm_, local, shared);
    return detail::mpi::wire::strings(shared);
}

inline void Checkpointer::Impl::restore_from(const std::string& path) {
    detail::mpi::Outcome local;
    detail::FileMeta meta;
    // At 2 ranks and more an I/O error inside HDF5's collective open or close can strand the
    // other ranks there, as in a write: the same watchdog ends a rank that makes no progress with
    // 74. Declared before the file, so that it still watches the file's closing on an error.
    std::optional<detail::IoWatchdog> watchdog;
    if (comm_.size() > 1)
        local.run([&] {
            std::error_code ec;
            const std::uintmax_t bytes = std::filesystem::file_size(path, ec);
            watchdog.emplace("the restore from " + path, comm_.rank(),
                             detail::io_budget_seconds(ec ? 0 : bytes, std::getenv(detail::stuck_seconds_variable())));
        });
    {
        // One agreement for the whole restore, after the close: a rank whose open or reads failed
        // still closes (the close is collective), and the reads are independent, so a failure on
        // one rank strands no other. Each collective round costs milliseconds on a node with more
        // ranks than cores, so the checksum sums travel in the same round.
        std::unique_ptr<detail::FileSource> source;
        local.run([&] { source = std::make_unique<detail::FileSource>(path, comm_); });
        std::vector<std::string> absent, extra;
        local.run([&] {
            stored_structure(path, "/state", [&] {
                for (const auto& name : source->entries())
                    if (!registry_.protects(name)) extra.push_back(name);
            });
            if (!extra.empty() && options_.strict_restore)
                detail::raise(MismatchError::make("the checkpoint holds \"" + extra.front() + "\", which nothing protects" +
                                                      (extra.size() > 1 ? " (and " + std::to_string(extra.size() - 1) + " more)" : ""),
                                                  path, "/state/" + extra.front(), -1, "nothing", extra.front(),
                                                  "protect it, or restore without CKPT_STRICT_RESTORE"));
            for (const auto& e : registry_.entries()) restore_entry(*source, e, absent);
            meta = source->meta();
        });
        if (source) {
            try {
                source->close();  // collective: every rank that opened the file reaches it
            } catch (const Error& e) {
                local.fail(e);
            }
        }
        std::vector<std::uint64_t> sums = source ? source->distributed_sums() : std::vector<std::uint64_t>{};
        if (watchdog && local.failed()) watchdog->failed(local.info());  // its line, if the others never come
        detail::mpi::agree_and_sum(comm_, local, sums);
        if (watchdog) watchdog->progress();
        // The stored parts of block and concatenated entries add up, whoever read them.
        source->verify_distributed(sums);
        for (const auto& name : absent)
            warn(path + " has no entry \"" + name + "\" (declared optional): left as it is");
        for (const auto& name : extra) warn(path + " holds \"" + name + "\", which nothing protects: ignored");
    }
    last_path_ = path;
    sequence_ = meta.sequence;
    last_step_ = meta.step;
    restored_schema_version_ = meta.schema_version;
    restored_ranks_ = static_cast<int>(meta.ranks);
}

inline void Checkpointer::Impl::restore_entry(detail::FileSource& source, const detail::Entry& e,
                                              std::vector<std::string>& absent) {
    if (e.how.is_optional() && !source.has_entry(e.name)) {
        absent.push_back(e.name);
        return;
    }
    source.declare(e.how);
    stored_structure(source.path(), "/state/" + e.name, [&] {
        if (e.how.kind() == Distribution::Kind::Block) {
            source.read_block(e.leaves().at(0));
        } else if (e.how.has_redistribute() && source.stored_ranks() != comm_.size()) {
            StoredParts parts(source, e.name, source.stored_ranks());
            e.how.call_redistribute(parts);
        } else {
            Reader r(source, "/state");
            e.load(r, e.name, e.object.get());
        }
    });
}

template <class F>
void Checkpointer::Impl::stored_structure(const std::string& path, const std::string& object, F&& read) {
    try {
        read();
    } catch (const IoError& io) {
        // A stored structure HDF5 cannot read is a corrupt file (65), not an I/O error.
        if (io.hdf5_stack().empty() || detail::h5::storage_failure(io.hdf5_stack())) throw;
        ErrorInfo info = io.info();
        info.sentence = "corrupt checkpoint: " + info.sentence;
        detail::raise(FormatError(std::move(info)));
    } catch (const Error&) {
        throw;
    } catch (const std::exception& ex) {  // a Boost archive that does not decode
        detail::raise(FormatError({"cannot decode \"" + detail::entry_name(object) + "\": " + ex.what(), path, object,
                                   comm_.rank(), {}}));
    }
}

inline void Checkpointer::Impl::quarantine(const std::string& path) const {
    // Corrupt (not merely incompatible): out of the candidates and out of rotation's count, so a
    // good older version is never deleted in its favour. Rank 0 renames; the others only log.
    if (comm_.rank() != 0) return;
    try {
        warn("quarantined " + path + " as " + detail::quarantine(path));
    } catch (const Error& e) {
        warn(std::string("could not quarantine a corrupt version: ") + (e.what() + 6));
    }
}

inline bool Checkpointer::Impl::restore(const RestartSpec& what) {
    restored_ = true;
    if (what.kind == RestartKind::None) return false;
    const bool fall_back = what.kind == RestartKind::Latest || what.kind == RestartKind::Auto;
    drain(0);
    join_rotation();
    check_restore_declarations();
    auto paths = candidates(what);
    std::string skipped;
    std::optional<Error> newest_failure;
    for (const auto& path : paths) {
        try {
            restore_from(path);
        } catch (const Error& e) {
            const bool skippable = e.kind() == ErrorKind::Format || e.kind() == ErrorKind::Mismatch ||
                                   e.kind() == ErrorKind::Io;
            if (!fall_back || !skippable) throw;
            warn("skipping " + path + ": " + (e.what() + 6));  // what() without its "ckpt: "
            if (e.kind() == ErrorKind::Format && !e.info().unsupported) quarantine(path);
            skipped += (skipped.empty() ? "" : ", ") + path;
            if (!newest_failure) newest_failure = e;
            continue;
        }
        if (!skipped.empty()) warn("restored from " + path + " after skipping: " + skipped);
        // Outside the fallback: a hook's failure is the application's, not a reason to try older files.
        registry_.run_restart_hooks();
        triggers_.checkpointed_at(detail::now_seconds());
        triggers_.restart();
        return true;
    }
    if (paths.empty()) return false;  // auto with no checkpoint: start fresh
    // Every version failed: report the newest one's error, as its own kind (exit code 65 either way).
    ErrorInfo info = newest_failure->info();
    info.sentence = "--restart " + std::string(what.kind == RestartKind::Auto ? "auto" : "latest") +
                    ": no usable checkpoint among " + std::to_string(paths.size()) + " (" + skipped +
                    "); the newest failed: " + info.sentence;
    detail::raise(newest_failure->kind(), std::move(info));
}

inline std::string Checkpointer::Impl::checkpoint() {
    if (options_.mode.none) return {};
    if (triggers_.in_critical())
        detail::raise(UsageError({"checkpoint() called inside a ckpt::CriticalSection", "", "", -1,
                                  "call it after the section ends, or let poll() defer it"}));
    return write_version({options_.dir, options_.name, options_.depth}, false);
}

inline std::string Checkpointer::Impl::write_version(const detail::Target& target, bool durable) {
    // Asynchronous: a bounded number in flight; the same count on every rank, so the same choice.
    const bool async = options_.async > 0;
    if (async && flushes_.in_flight() >= options_.async) {
        if (options_.async_busy == AsyncBusy::Skip && !durable) {
            warn("skipped a checkpoint at step " + std::to_string(last_poll_step_) + ": " +
                 std::to_string(flushes_.in_flight()) + " asynchronous checkpoint" +
                 (flushes_.in_flight() == 1 ? " is" : "s are") + " still being written (async_busy=skip)");
            return {};
        }
        drain(options_.async - 1);
    }
    const double started = detail::now_seconds();
    detail::mpi::Outcome local;

    // 1. Local: hooks, then every entry's nodes (hashed later, while they are written). Nothing
    //    collective yet.
    //    Then one round: the ranks agree that this went well, that they protect the same
    //    structure, that their blocks tile and their replicas match; the same verdict everywhere.
    std::vector<detail::SaveNode> nodes;
    local.run([&] {
        registry_.run_checkpoint_hooks();
        nodes = registry_.plan();
    });
    const auto rows = exchange_declarations(local, nodes,
                                            "protect different state: names, kinds, element types or dimensions of "
                                            "the protected objects differ between ranks");
    for (const auto& [i, rank] : detail::check_declarations(nodes, rows, 1)) {
        const std::string sentence = "rank " + std::to_string(rank) + " holds a different value of the replicated entry \"" +
                                     detail::entry_name(nodes[i].path) + "\" than rank 0";
        if (!nodes[i].warn_if_ranks_differ)
            detail::raise(UsageError({sentence, "", nodes[i].path, rank,
                                      "make the ranks agree, declare it per-rank, or allow it with "
                                      ".when_ranks_differ(ckpt::OnDisagreement::Warn) (rank 0's value is stored)"}));
        warn(sentence + ": rank 0's value is stored");
    }

    // 2. Rank 0 picks the next sequence number and makes the directory; its clock, directory and
    //    command line are the ones recorded (attributes are written collectively: all ranks must agree).
    std::uint64_t seq = 0;
    double time = started;
    std::string cwd;
    detail::FileMeta meta;
    std::string decided;  // rank 0's sequence number, clock and directory, as bytes
    if (comm_.rank() == 0) {
        // A rotation still running from the last checkpoint only deletes older versions and
        // temporaries, never the newest: it cannot change the next sequence number.
        local.run([&] {
            detail::make_directories(target.dir);
            auto all = detail::list_versions(target.dir, target.name);
            seq = (all.empty() ? 0 : all.back().sequence) + 1;
            decided.append(reinterpret_cast<const char*>(&seq), sizeof seq);
            decided.append(reinterpret_cast<const char*>(&time), sizeof time);
            decided += detail::current_directory();
        });
    }
    detail::mpi::root_decides(comm_, local, decided);
    std::memcpy(&seq, decided.data(), sizeof seq);
    std::memcpy(&time, decided.data() + sizeof seq, sizeof time);
    cwd = decided.substr(sizeof seq + sizeof time);
    const std::string final_path = detail::join_path(target.dir, detail::version_file_name(target.name, seq));
    const std::string tmp = final_path + ".tmp";

    // 3. Everyone writes the temporary file.
    meta.sequence = seq;
    meta.step = last_poll_step_;
    meta.time = time;
    meta.ranks = comm_.size();
    meta.argv = argv_;  // identical on every rank: mpiexec gives every rank the same command line
    meta.cwd = cwd;
    meta.schema_version = schema_version_;
    if (async) {
        stage_version(local, std::move(nodes), target, meta, tmp, final_path, started);
        if (durable) drain(0);  // a shutdown or a requester waits until it is committed
        return final_path;
    }
    detail::FileIdentity created;  // rank 0
    local.run([&] { created = detail::write_file(tmp, comm_, nodes, meta); });
    try {
        detail::mpi::agree(comm_, local);
    } catch (...) {
        if (comm_.rank() == 0) ::unlink(tmp.c_str());  // on a full disk, give the space back now
        throw;
    }

    // 4. Rank 0 makes it durable and visible. Rotation (unlinking old versions, slow on some file
    //    systems) then runs in the background: the new version is already safe.
    if (comm_.rank() == 0) {
        local.run([&] {
            const std::string warning = detail::commit(tmp, final_path, created);
            if (!warning.empty()) warn(warning);
        });
        if (!local.failed()) start_rotation(target, seq);
    }
    detail::mpi::agree(comm_, local);

    last_path_ = final_path;
    sequence_ = seq;
    last_step_ = last_poll_step_;
    last_write_call_ = poll_calls_;
    const double finished = detail::now_seconds();
    triggers_.checkpointed_at(finished);
    if (options_.verbose) {
        std::uint64_t bytes = 0;
        for (auto& n : nodes) bytes += n.is_group() ? 0 : n.count * detail::element_size(n.element);
        comm_.allreduce(&bytes, 1, MPI_SUM);
        if (comm_.rank() == 0)
            std::cerr << detail::written_line(final_path, bytes, finished - started, comm_.size()) << "\n";
    }
    return final_path;
}

/// The asynchronous half of write_version(), from its step 3: copy the state, write the file's
/// metadata collectively with every dataset at a fixed address, and queue this rank's share of
/// the raw data on the worker. The version is committed at a later poll(), once every rank's
/// share is durable (settle_flushes), or when drained.
inline std::string Checkpointer::Impl::stage_version(detail::mpi::Outcome& local, std::vector<detail::SaveNode> nodes,
                                                     const detail::Target& target, const detail::FileMeta& meta,
                                                     const std::string& tmp, const std::string& final_path,
                                                     double started) {
    std::unique_ptr<detail::StagedVersion> v = flushes_.make();
    local.run([&] {
        v->nodes = v->staging.take(std::move(nodes));
        if (comm_.size() > 1) {  // as a synchronous write's watchdog: a lone rank strands no peer
            std::uint64_t bytes = 0;
            for (const auto& n : v->nodes) bytes += n.is_group() ? 0 : n.count * detail::element_size(n.element);
            v->stuck_seconds = detail::io_budget_seconds(bytes, std::getenv(detail::stuck_seconds_variable()));
            v->records_status = detail::records_exit_status();
        }
    });
    detail::mpi::agree(comm_, local);  // the copy can fail alone (no memory): before the collective write
    local.run([&] { v->created = detail::write_file(tmp, comm_, v->nodes, meta, &v->placement); });
    try {
        detail::mpi::agree(comm_, local);
    } catch (...) {
        if (comm_.rank() == 0) ::unlink(tmp.c_str());
        throw;
    }
    v->tmp = tmp;
    v->final_path = final_path;
    v->dir = target.dir;
    v->name = target.name;
    v->depth = target.depth;
    v->sequence = meta.sequence;
    v->step = meta.step;
    v->started = started;
    for (const auto& n : v->nodes) v->bytes += n.is_group() ? 0 : n.count * detail::element_size(n.element);
    if (options_.verbose) comm_.allreduce(&v->bytes, 1, MPI_SUM);  // the log line gives the total
    v->blocked = detail::now_seconds() - started;
    flushes_.submit(worker_, std::move(v), comm_.rank());
    last_path_ = final_path;  // the version taken: committed once drained or agreed durable
    sequence_ = meta.sequence;
    last_step_ = last_poll_step_;
    last_write_call_ = poll_calls_;
    triggers_.checkpointed_at(detail::now_seconds());
    return final_path;
}

/// Collective, at a poll() whose agreement says how many asynchronous checkpoints every rank has
/// finished: commits those, or, if one failed on some rank, throws its error on every rank.
inline void Checkpointer::Impl::settle_flushes(const detail::Due& due) {
    if (flushes_.in_flight() == 0) return;  // the same on every rank
    if (due.flush_failed) {
        flushes_.wait_all();
        const detail::mpi::Outcome* failed = nullptr;
        for (const auto& v : flushes_.all())
            if (!failed && v->outcome.failed()) failed = &v->outcome;
        try {
            detail::mpi::agree(comm_, failed ? *failed : detail::mpi::Outcome{});
        } catch (...) {
            abandon_flushes();
            throw;
        }
    }
    while (flushes_.in_flight() > 0 && flushes_.settled() < due.flushed) commit_oldest();
}

/// Collective: finishes asynchronous checkpoints, oldest first, until at most `keep` are in
/// flight: waits for this rank's share, agrees, commits. A failure on any rank abandons every
/// one in flight and throws the same error on every rank.
inline void Checkpointer::Impl::drain(std::size_t keep) {
    while (flushes_.in_flight() > keep) {
        flushes_.wait_front();
        try {
            detail::mpi::agree(comm_, flushes_.front().outcome);
        } catch (...) {
            abandon_flushes();
            throw;
        }
        commit_oldest();
    }
}

/// Collective, once every rank's share of the oldest version in flight is durable: rank 0
/// commits it (fsync, rename, directory fsync) and rotation follows in the background.
inline void Checkpointer::Impl::commit_oldest() {
    detail::StagedVersion& v = flushes_.front();
    detail::mpi::Outcome local;
    if (comm_.rank() == 0)
        local.run([&] {
            const std::string warning = detail::commit(v.tmp, v.final_path, v.created);
            if (!warning.empty()) warn(warning);
        });
    try {
        detail::mpi::agree(comm_, local);
    } catch (...) {
        abandon_flushes();
        throw;
    }
    if (comm_.rank() == 0) start_rotation({v.dir, v.name, v.depth}, v.sequence);
    if (options_.verbose && comm_.rank() == 0) {
        char blocked[64];
        std::snprintf(blocked, sizeof blocked, " asynchronously: the application waited %.3f s", v.blocked);
        std::cerr << detail::written_line(v.final_path, v.bytes, v.durable_at - v.started, comm_.size()) << blocked
                  << "\n";
    }
    flushes_.pop_front();
    join_rotation_failures();
}

/// Every asynchronous checkpoint in flight is given up (after a failure): this rank's writes are
/// waited for, rank 0 removes the temporaries. Older committed versions are untouched.
inline void Checkpointer::Impl::abandon_flushes() {
    flushes_.wait_all();
    if (comm_.rank() == 0)
        for (const auto& v : flushes_.all()) ::unlink(v->tmp.c_str());
    flushes_.clear();
}

/// At destruction and at MPI_Finalize: drains what is in flight, collectively, where every rank
/// can still take part; else only waits for this rank's writes, which then stay uncommitted.
inline void Checkpointer::Impl::finish_flushes() noexcept {
    if (flushes_.in_flight() == 0) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && std::uncaught_exceptions() == 0) {
        try {
            drain(0);
            return;
        } catch (const std::exception& e) {
            const char* what = e.what();
            warn(std::string("an asynchronous checkpoint failed as the checkpointer ended: ") +
                 (std::strncmp(what, "ckpt: ", 6) == 0 ? what + 6 : what));
        }
    }
    flushes_.wait_all();
    if (flushes_.in_flight() > 0 && comm_.rank() == 0)
        std::cerr << "ckpt: warning: " << flushes_.in_flight()
                  << " asynchronous checkpoint(s) left uncommitted: the checkpointer ended where the ranks could not "
                     "agree that they were durable (call sync() before MPI_Finalize or an exception)\n";
    flushes_.clear();
}

/// Rank 0, after committing `seq`: rotation on the worker (unlinking is slow on some file systems).
inline void Checkpointer::Impl::start_rotation(const detail::Target& target, std::uint64_t seq) {
    worker_.submit([this, target, seq] {
        std::vector<std::string> failed;
        try {
            failed = detail::rotate(target.dir, target.name, target.depth, seq);
        } catch (const std::exception& e) {
            failed = {target.dir + " (" + e.what() + ")"};
        }
        std::lock_guard<std::mutex> lock(rotation_mutex_);
        rotation_failures_.insert(rotation_failures_.end(), failed.begin(), failed.end());
    });
}

inline void Checkpointer::Impl::make_pid_file() {
    pid_file_tried_ = true;
    if (!options_.mode.enabled) return;
    // Tools (ckpt request, the batch-system scripts) find the job through its pid files.
    try {
        pid_file_ = std::make_unique<detail::control::PidFile>(detail::control::directory(options_.dir));
    } catch (const Error& e) {
        std::cerr << "ckpt: warning: rank " << comm_.rank() << ": requests through the control directory "
                  << "cannot reach this process: " << (e.what() + 6) << "\n";
    }
}

inline void Checkpointer::Impl::take_job_lock() {
    detail::mpi::Outcome local;
    if (comm_.rank() == 0)
        local.run([&] {
            job_lock_ = std::make_unique<detail::JobLock>(options_.dir, options_.name);
            made_dirs_ = job_lock_->made_directories();
        });
    std::string made = detail::mpi::wire::strings(made_dirs_);
    detail::mpi::root_decides(comm_, local, made);  // EBUSY on every rank: exit 75, naming the holder
    made_dirs_ = detail::mpi::wire::strings(made);
}

inline void Checkpointer::Impl::release_directory() noexcept {
    pid_file_.reset();
    job_lock_.reset();
    if (options_.mode.none || !last_path_.empty()) return;
    // A run that wrote nothing leaves no empty control directory behind, nor the checkpoint
    // directory if this job made it. rmdir() removes only an empty directory, so whichever rank
    // leaves last succeeds and anything of another job's stays.
    ::rmdir(detail::control::directory(options_.dir).c_str());
    for (const auto& d : made_dirs_) ::rmdir(d.c_str());
}

inline void Checkpointer::Impl::join_rotation() {
    worker_.wait();
    join_rotation_failures();
}

inline void Checkpointer::Impl::join_rotation_failures() {
    std::lock_guard<std::mutex> lock(rotation_mutex_);
    for (auto& p : rotation_failures_) warn("rotation could not delete " + p);
    rotation_failures_.clear();
}

inline bool Checkpointer::Impl::poll_impl(std::int64_t step, bool have_step) {
    ++poll_calls_;
    last_poll_step_ = have_step ? step : -1;
    if (options_.mode.none || leaving_) return false;
    if (!pid_file_tried_) make_pid_file();
    bool wrote = false;
    if (triggers_.step_due(step, last_step_)) {
        wrote = !write_version({options_.dir, options_.name, options_.depth}, false).empty();
        triggers_.restart();
    }
    // Everything else (signals, requests, interval, halt, finished asynchronous checkpoints): all
    // ranks learn it at the same call.
    const auto due = triggers_.poll();
    if (due) settle_flushes(*due);
    return (due && due->triggered() && act(*due)) || wrote;
}

inline bool Checkpointer::Impl::act(const detail::Due& due) {
    if (due.signal != 0 && !options_.mode.shutdown) {  // leave at once, writing nothing new
        try {
            drain(0);  // what is in flight is nearly done: commit it
        } catch (const Error& e) {
            warn(std::string("an asynchronous checkpoint failed: ") + (e.what() + 6));
        }
        leave(128 + due.signal);
        return false;
    }
    const bool must_leave = due.signal != 0 || due.leave;
    const auto request = claim_request();
    detail::Target target{options_.dir, options_.name, options_.depth};
    if (request) {
        if (!request->dir.empty()) target.dir = request->dir;
        if (!request->name.empty()) target.name = request->name;
        if (request->depth) target.depth = *request->depth;
    }
    const double started = detail::now_seconds();
    std::string path;
    try {
        // One write per safe point: `every=` may have just written this very state.
        const bool durable = must_leave || request.has_value();  // the process ends, or a requester waits
        if (last_write_call_ == poll_calls_ && !request) {
            if (durable) drain(0);
            path = last_path_;
        } else {
            path = write_version(target, durable);
        }
    } catch (const Error& e) {
        // The round in flight was started before this decision, with the counts it has just
        // answered: acted on, it would write a second, unrequested checkpoint. Every rank is here.
        triggers_.restart();
        answer(request, false, exit_code(e), "", detail::now_seconds() - started, e.what() + 6);
        if (must_leave) {  // told to end: end, with the status that says no checkpoint was written
            warn(std::string("the shutdown checkpoint failed: ") + (e.what() + 6));
            leave(exit_code(e));
            return false;
        }
        if (request) {  // the requester is told; the job goes on (Torque releases a failed qhold)
            warn(std::string("the requested checkpoint failed: ") + (e.what() + 6));
            return false;
        }
        throw;
    }
    triggers_.restart();
    answer(request, true, 0, path, detail::now_seconds() - started, "");
    if (must_leave || (request && request->exit)) leave(options_.exit_code);
    return !path.empty();
}

inline std::optional<detail::control::Request> Checkpointer::Impl::claim_request() {
    // Rank 0 claims a pending request file and shares it; a bad one is reported and ignored.
    std::string text;
    if (comm_.rank() == 0 && options_.mode.enabled) {
        try {
            if (auto r = detail::control::claim_request(detail::control::directory(options_.dir)))
                text = detail::control::format_request(*r);
        } catch (const Error& e) {
            warn(std::string("ignoring a checkpoint request: ") + (e.what() + 6));
        }
    }
    comm_.bcast(text);
    if (text.empty()) return std::nullopt;
    return detail::control::parse_request(text, "claimed request");  // rank 0 has parsed it once already
}

inline void Checkpointer::Impl::answer(const std::optional<detail::control::Request>& request, bool ok, int status,
                                 const std::string& file, double seconds, const std::string& msg) {
    if (!request || comm_.rank() != 0) return;
    detail::control::Answer a;
    a.id = request->id;
    a.ok = ok;
    a.status = status;
    a.file = file;
    a.seconds = seconds;
    a.msg = msg;
    try {
        detail::control::write_answer(detail::control::directory(options_.dir), a);
    } catch (const Error& e) {
        warn(std::string("could not answer request ") + request->id + ": " + (e.what() + 6));
    }
}

inline void Checkpointer::Impl::leave(int status) {
    leaving_ = true;
    exit_status_ = status;
    detail::record_exit_status(status);  // for ckpt-run, whichever way the application then leaves
    // The job log should say why the job ended, whatever the launcher then reports.
    if (comm_.rank() == 0)
        std::cerr << "ckpt: leaving at step " << last_poll_step_ << " with exit status " << status
                  << (status == options_.exit_code && !last_path_.empty() ? " after writing " + last_path_ : "")
                  << "\n";
    if (exit_policy_ == ExitPolicy::Return) return;
    if (detail::main_guard_depth > 0) throw ExitRequest(status);
    // No main_guard: end the process here, as cleanly as a library can.
    join_rotation();
    release_directory();
    triggers_.remove_signals();
    triggers_.restart();
    std::fflush(nullptr);
    std::cout.flush();
    int congruent = MPI_UNEQUAL;
    MPI_Comm_compare(comm_.get(), MPI_COMM_WORLD, &congruent);
    // MPI_Finalize is collective over the world: only safe when every process is here. (When ckpt
    // initialised MPI, its exit handler finalises it, after HDF5's.)
    if (!detail::mpi::initialized_by_ckpt && (congruent == MPI_CONGRUENT || congruent == MPI_IDENT)) {
        comm_.barrier();
        detail::h5::close_library();  // before MPI goes: HDF5's exit handler would run after it
        MPI_Finalize();
    }
    std::exit(status);
}

}  // namespace ckpt
