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
#include "ckpt/detail/mpi/exchange.hpp"
#include "ckpt/detail/mpi/nodes.hpp"
#include "ckpt/detail/node_cache.hpp"
#include "ckpt/detail/process_exit.hpp"
#include "ckpt/detail/references.hpp"
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
#include <random>
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

/// A version a restore may try: a file in the shared directory, or the parts of a version in the
/// node caches.
struct Candidate {
    std::string path;  ///< the shared file; for a cached version, what messages call it
    std::uint64_t sequence = 0;
    bool cached = false;
};

/// Message tags of ckpt's point-to-point transfers (on its private communicator), two each.
constexpr int partner_copy_tag = 7100;
constexpr int part_fetch_tag = 7200;

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
        if (!options_.cache.empty()) start_cache();  // a restore may read the caches in any mode
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
    /// Multi-level storage: which node each rank is on, its partner, its node's cache directory.
    void start_cache() {
        topology_ = detail::mpi::find_nodes(comm_, options_.simulated_nodes);
        self_ = std::make_unique<detail::mpi::Comm>(MPI_COMM_SELF);
        node_dir_ = detail::node_cache_dir(options_.cache, options_.simulated_nodes, topology_.node);
        if (options_.partner && topology_.count < 2 && !options_.mode.none)
            warn("partner copies need two nodes or more, and this job runs on one: a checkpoint whose cache is lost "
                 "is restored from the shared directory (see flush=)");
    }
    bool cache_on() const noexcept { return self_ != nullptr; }

    static int drain_at_finalize(MPI_Comm, int, void* self, void*) {
        static_cast<Impl*>(self)->finish_flushes();
        return MPI_SUCCESS;
    }

    void restore_entry(detail::FileSource& source, const detail::Entry& e, int file_ranks, std::vector<std::string>& absent);
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
    std::vector<std::string> candidates(const RestartSpec& what, bool cached_instead) const;
    std::vector<detail::Candidate> restore_candidates(const RestartSpec& what,
                                                      const std::optional<detail::CacheInventory>& inventory) const;
    void restore_from(const std::string& path, const detail::mpi::Comm& file_comm, std::uint64_t cached_sequence = 0,
                      std::optional<ErrorInfo>* own_part_failure = nullptr);
    void restore_cached(std::uint64_t seq, const detail::CacheInventory& inventory);
    int fetch_cached_parts(std::uint64_t seq, const detail::CacheInventory& inventory, const std::vector<int>& wanted,
                           const std::vector<int>& avoid, std::vector<int>* source = nullptr);
    std::string write_cached(const std::vector<detail::SaveNode>& nodes, const detail::FileMeta& meta, unsigned depth);
    void taken(const std::string& path, std::uint64_t seq, bool shared);
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
    void start_cache_rotation(unsigned depth, std::uint64_t seq);
    template <class Rotate>
    void submit_rotation(const std::string& where, Rotate rotate);
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
        // One write (std::cerr writes each << at once): a line in pieces can interleave with others.
        if (comm_.rank() == 0) std::cerr << ("ckpt: warning: " + message + "\n");
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
    bool last_shared_ = true;           ///< the last version written went to the shared directory
    // Incremental versions (docs/incremental.md): where each leaf of the last version written to
    // the shared directory is stored, and how many versions that is since the last full one (0:
    // the next one is full: the first of a process, or the first after a restore).
    detail::StoredLeaves stored_leaves_;
    unsigned since_full_ = 0;
    /// Rank 0: what each version refers to (rotation), per version prefix (directory and name).
    std::map<std::string, detail::References> known_references_;
    detail::SafePoint triggers_;        ///< what each poll() must do: signals, requests, clocks

    std::unique_ptr<detail::control::PidFile> pid_file_;
    std::unique_ptr<detail::JobLock> job_lock_;  ///< rank 0: this job alone writes (dir, name)
    std::vector<std::string> made_dirs_;           ///< what the job lock created, deepest first
    bool pid_file_tried_ = false;  ///< made at the first poll(): the job is reachable from its loop on
    ExitPolicy exit_policy_ = ExitPolicy::Exit;
    bool leaving_ = false;
    int exit_status_ = 0;

    // Multi-level storage (set by start_cache()): the ranks' nodes, a communicator of this rank
    // alone (its cache file), its node's cache directory.
    detail::mpi::Nodes topology_;
    std::unique_ptr<detail::mpi::Comm> self_;
    std::string node_dir_;

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
    detail::Erased owned(object, destroy);  // deleted if refused
    if (how.compression().on() && impl_->options_.async > 0)
        detail::raise(UsageError({"entry \"" + name + "\" declares compression " + how.compression().text() +
                                      " while async checkpoints are on (async=" + std::to_string(impl_->options_.async) + ")",
                                  "", "/state/" + name, -1,
                                  "compressed entries are written synchronously only (docs/compression.md): drop async, "
                                  "or the entry's compress()"}));
    impl_->registry_.add(name, std::move(owned), save, load, how, impl_->restored_);
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


/// The shared directory's candidates. `cached_instead`: the node caches hold a version this
/// spec selects, so finding none here is no error.
inline std::vector<std::string> Checkpointer::Impl::candidates(const RestartSpec& what, bool cached_instead) const {
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
                    if (paths.empty() && what.kind == RestartKind::Latest && !cached_instead)
                        detail::raise(missing("--restart latest: no complete checkpoint \"" + options_.name +
                                                  ".*.h5\" in the directory",
                                              options_.dir));
                    break;
                }
                case RestartKind::Sequence: {
                    std::string p = detail::join_path(options_.dir, detail::version_file_name(options_.name, what.sequence));
                    if (cached_instead && !std::filesystem::exists(p)) break;
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

/// Collective. What a restore tries, in order: for each sequence number, newest first, the
/// version in the node caches if every rank's part is in one of them, then the shared file.
/// Every rank computes the same list from the same inventory and rank 0's directory listing.
inline std::vector<detail::Candidate> Checkpointer::Impl::restore_candidates(
    const RestartSpec& what, const std::optional<detail::CacheInventory>& inventory) const {
    std::vector<std::uint64_t> cached;
    if (inventory) {
        for (std::uint64_t seq : inventory->complete(comm_.size()))
            if (what.kind != RestartKind::Sequence || seq == what.sequence) cached.push_back(seq);
    }
    const bool by_number = what.kind == RestartKind::Latest || what.kind == RestartKind::Auto ||
                           what.kind == RestartKind::Sequence;
    std::vector<detail::Candidate> out;
    for (const auto& path : candidates(what, by_number && !cached.empty())) {
        detail::Version v;
        detail::Candidate c{path, 0, false};
        if (detail::parse_version_name(std::filesystem::path(path).filename().string(), options_.name, v)) c.sequence = v.sequence;
        out.push_back(c);
    }
    if (!by_number || cached.empty()) return out;
    for (std::uint64_t seq : cached)
        out.push_back({options_.cache + " (version " + std::to_string(seq) + " in the node caches)", seq, true});
    // Newest first; at one number the cached parts first (read from local memory or disk).
    std::stable_sort(out.begin(), out.end(), [](const detail::Candidate& a, const detail::Candidate& b) {
        return a.sequence != b.sequence ? a.sequence > b.sequence : a.cached > b.cached;
    });
    return out;
}

/// Collective. Gives each rank r with wanted[r] its part of version `seq` from the lowest node
/// that holds it other than avoid[r] (-1: none to avoid), sent by that node's lowest rank, and
/// commits it into its own node's cache (over a file of that name). The same plan on every
/// rank, from the same inventory. (*source)[r] becomes the node it came from (-1: not fetched);
/// returns how many were fetched. A wanted part no other node holds is left as it is.
inline int Checkpointer::Impl::fetch_cached_parts(std::uint64_t seq, const detail::CacheInventory& inventory,
                                                   const std::vector<int>& wanted, const std::vector<int>& avoid,
                                                   std::vector<int>* source) {
    const int rank = comm_.rank();
    auto part_path = [&](int r) { return detail::join_path(node_dir_, detail::cached_part_name(options_.name, seq, r)); };
    std::vector<int> to;
    int from = -1, fetched = 0;
    if (source) source->assign(static_cast<std::size_t>(comm_.size()), -1);
    for (int r = 0; r < comm_.size(); ++r) {
        if (!wanted[static_cast<std::size_t>(r)]) continue;
        for (int node : inventory.holders(seq, r)) {
            if (node == avoid[static_cast<std::size_t>(r)]) continue;
            ++fetched;
            if (source) (*source)[static_cast<std::size_t>(r)] = node;
            const int sender = topology_.reporters[static_cast<std::size_t>(node)];
            if (r == rank) from = sender;
            if (sender == rank) to.push_back(r);
            break;
        }
    }
    detail::mpi::Outcome local;
    std::vector<std::pair<int, std::string>> sends, receives;
    for (int r : to) sends.emplace_back(r, part_path(r));
    const std::string mine = part_path(rank);
    if (from >= 0) {
        receives.emplace_back(from, mine + ".tmp");
        local.run([&] {
            detail::make_directories(node_dir_, "the node cache", "cache= / CKPT_CACHE_DIR");
            ::unlink((mine + ".tmp").c_str());  // this rank's own temporary name: a crashed write's
        });
    }
    const auto received = detail::transfer_parts(comm_, local, sends, receives, detail::part_fetch_tag);
    if (from >= 0 && received[0])
        local.run([&] { detail::commit(mine + ".tmp", mine, *received[0]); });  // a directory fsync warning: readable
    detail::mpi::agree(comm_, local);
    return fetched;
}

/// Collective. Restores version `seq` from the node caches: a rank whose node's cache lacks its
/// part first gets it from a node that holds it (its partner's copy), through MPI, and puts it
/// back in its own node's cache; then every rank reads its own file. A part that fails its
/// checksums (or cannot be read) is replaced by another node's copy in the same way, once.
inline void Checkpointer::Impl::restore_cached(std::uint64_t seq, const detail::CacheInventory& inventory) {
    const int rank = comm_.rank();
    const auto ranks = static_cast<std::size_t>(comm_.size());
    std::vector<int> missing(ranks, 0), homes(ranks, -1), came_from;
    for (std::size_t r = 0; r < ranks; ++r) {
        homes[r] = topology_.node_of[r];
        const std::vector<int> holders = inventory.holders(seq, static_cast<int>(r));
        missing[r] = !holders.empty() && std::find(holders.begin(), holders.end(), homes[r]) == holders.end();
    }
    const int fetched = fetch_cached_parts(seq, inventory, missing, homes, &came_from);
    const std::string mine = detail::join_path(node_dir_, detail::cached_part_name(options_.name, seq, rank));
    int repaired = 0;
    std::optional<ErrorInfo> unreadable;
    try {
        restore_from(mine, *self_, seq, &unreadable);
    } catch (const Error&) {
        // Which parts failed here (not a disagreement between good parts, which a copy cannot fix),
        // and does another node hold a copy of each? A fetched part that failed has no other copy.
        const std::vector<std::uint64_t> flags = comm_.allgather({unreadable ? 1u : 0u});
        const std::vector<int> bad(flags.begin(), flags.end());
        for (std::size_t r = 0; r < ranks; ++r) {
            if (!bad[r]) continue;
            const std::vector<int> holders = inventory.holders(seq, static_cast<int>(r));
            const bool other = came_from[r] < 0 && std::any_of(holders.begin(), holders.end(),
                                                                [&](int node) { return node != homes[r]; });
            if (!other) throw;  // the version cannot be made whole: the caller falls back
        }
        if (std::find(bad.begin(), bad.end(), 1) == bad.end()) throw;  // no part of its own failed
        if (unreadable)  // one write: a line in pieces can interleave with the application's output
            std::cerr << ("ckpt: warning: rank " + std::to_string(rank) + ": its cached part " + mine + " fails (" +
                          unreadable->sentence + (unreadable->object.empty() ? "" : ", object " + unreadable->object) +
                          "): taking its copy from another node\n");
        repaired = fetch_cached_parts(seq, inventory, bad, homes);
        restore_from(mine, *self_, seq);
    }
    if (comm_.rank() == 0) {
        std::string how;
        if (fetched)
            how = std::to_string(fetched) + " of " + std::to_string(comm_.size()) + " parts from partner copies";
        if (repaired)
            how += (how.empty() ? "" : ", ") + std::to_string(repaired) + " corrupt part" + (repaired > 1 ? "s" : "") +
                   " replaced by partner copies";
        std::cerr << ("ckpt: restored version " + std::to_string(seq) + " from the node caches" +
                      (how.empty() ? std::string() : " (" + how + ")") + "\n");
    }
}

/// Collective over comm_. Reads `path` with `file_comm`: comm_ for a shared file, which all ranks
/// read together, or self_ for a rank's own part in its node cache (of version `cached_sequence`).
inline void Checkpointer::Impl::restore_from(const std::string& path, const detail::mpi::Comm& file_comm,
                                             std::uint64_t cached_sequence, std::optional<ErrorInfo>* own_part_failure) {
    const bool whole = &file_comm == &comm_;
    detail::mpi::Outcome local;
    detail::FileMeta meta;
    // At 2 ranks and more an I/O error inside HDF5's collective open or close can strand the
    // other ranks there, as in a write: the same watchdog ends a rank that makes no progress with
    // 74. Declared before the file, so that it still watches the file's closing on an error.
    std::optional<detail::IoWatchdog> watchdog;
    if (whole && comm_.size() > 1)
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
        local.run([&] { source = std::make_unique<detail::FileSource>(path, file_comm); });
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
            for (const auto& e : registry_.entries()) restore_entry(*source, e, file_comm.size(), absent);
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
        if (whole) {
            if (watchdog && local.failed()) watchdog->failed(local.info());  // its line, if the others never come
            detail::mpi::agree_and_sum(comm_, local, sums);
            if (watchdog) watchdog->progress();
            // The stored parts of block and concatenated entries add up, whoever read them.
            source->verify_distributed(sums);
        } else {
            local.run([&] {
                source->verify_distributed(sums);  // this rank read its whole part alone
                if (meta.part != comm_.rank() || meta.parts != comm_.size() || meta.sequence != cached_sequence)
                    detail::raise(FormatError({"the cached part is not rank " + std::to_string(comm_.rank()) + " of " +
                                                   std::to_string(comm_.size()) + " of version " +
                                                   std::to_string(cached_sequence) + " (it says part " +
                                                   std::to_string(meta.part) + " of " + std::to_string(meta.parts) +
                                                   ", version " + std::to_string(meta.sequence) + ")",
                                               path, "/", comm_.rank(), {}}));
            });
            // A corrupt or unreadable part of this rank's own (not one that others disagree with).
            if (own_part_failure && local.failed() && (local.kind() == ErrorKind::Format || local.kind() == ErrorKind::Io))
                *own_part_failure = local.info();
            detail::mpi::agree(comm_, local);
            // Every part must come from one write: a stale file of another job can share the number.
            std::uint64_t ids[2] = {meta.version_id, ~meta.version_id};
            comm_.allreduce(ids, 2, MPI_MAX);
            if (ids[0] != meta.version_id || ~ids[1] != meta.version_id)
                detail::raise(FormatError({"the cached parts of version " + std::to_string(cached_sequence) +
                                               " come from different checkpoints (a stale cache file of an earlier job)",
                                           path, "/", -1, {}}));
        }
        for (const auto& name : absent)
            warn(path + " has no entry \"" + name + "\" (declared optional): left as it is");
        for (const auto& name : extra) warn(path + " holds \"" + name + "\", which nothing protects: ignored");
    }
    last_path_ = path;
    sequence_ = meta.sequence;
    last_step_ = meta.step;
    restored_schema_version_ = meta.schema_version;
    restored_ranks_ = static_cast<int>(whole ? meta.ranks : meta.parts);
}

inline void Checkpointer::Impl::restore_entry(detail::FileSource& source, const detail::Entry& e, int file_ranks,
                                              std::vector<std::string>& absent) {
    if (e.how.is_optional() && !source.has_entry(e.name)) {
        absent.push_back(e.name);
        return;
    }
    source.declare(e.how);
    stored_structure(source.path(), "/state/" + e.name, [&] {
        if (e.how.kind() == Distribution::Kind::Block) {
            source.read_block(e.leaves().at(0));
        } else if (e.how.has_redistribute() && source.stored_ranks() != file_ranks) {
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
    since_full_ = 0;  // the state goes back: the next version compares with nothing
    if (what.kind == RestartKind::None) return false;
    const bool fall_back = what.kind == RestartKind::Latest || what.kind == RestartKind::Auto;
    drain(0);
    join_rotation();
    if (comm_.rank() == 0) {
        // What the versions there refer to, for the rotations to come: read now, before any
        // checkpoint's write, so that a write opens no file but its own.
        try {
            detail::add_references(known_references_[detail::join_path(options_.dir, options_.name)],
                                   detail::list_versions(options_.dir, options_.name), options_.name);
        } catch (const std::exception&) {  // no directory yet: nothing to refer to
        }
    }
    check_restore_declarations();
    std::optional<detail::CacheInventory> inventory;
    if (cache_on()) inventory = detail::CacheInventory::gather(comm_, topology_, node_dir_, options_.name);
    if (inventory && !inventory->problem().empty())
        std::cerr << ("ckpt: warning: rank " + std::to_string(comm_.rank()) + ": the node cache is not usable: " +
                      inventory->problem().substr(6) + "\n");
    const auto versions = restore_candidates(what, inventory);
    // A cached version that fails has its shared copy, if any, next: still the same version.
    const bool fall_back_cached = fall_back || what.kind == RestartKind::Sequence;
    std::string skipped;
    std::optional<Error> newest_failure;
    for (const auto& version : versions) {
        const std::string& path = version.path;
        try {
            if (version.cached)
                restore_cached(version.sequence, *inventory);
            else
                restore_from(path, comm_);
        } catch (const Error& e) {
            const bool skippable = e.kind() == ErrorKind::Format || e.kind() == ErrorKind::Mismatch ||
                                   e.kind() == ErrorKind::Io;
            const bool last = &version == &versions.back();
            if (!skippable || !(fall_back || (version.cached && fall_back_cached && !last))) throw;
            warn("skipping " + path + ": " + (e.what() + 6));  // what() without its "ckpt: "
            if (e.kind() == ErrorKind::Format && !e.info().unsupported && !version.cached) quarantine(path);
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
    if (versions.empty()) return false;  // auto with no checkpoint: start fresh
    // Every version failed: report the newest one's error, as its own kind (exit code 65 either way).
    ErrorInfo info = newest_failure->info();
    info.sentence = "--restart " + std::string(what.kind == RestartKind::Auto ? "auto" : "latest") +
                    ": no usable checkpoint among " + std::to_string(versions.size()) + " (" + skipped +
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
        for (auto& n : nodes)
            if (!n.compression_declared) n.compression = options_.compression;
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

    // 2. Rank 0 picks the next sequence number (past every file in the directory and, with a
    //    cache, in every node's cache) and makes the directory; its clock, directory and command
    //    line are the ones recorded (attributes are written collectively: all ranks must agree).
    const bool cached = cache_on() && target.dir == options_.dir && target.name == options_.name;
    std::uint64_t cached_newest = 0;
    if (cached) {
        if (topology_.reporter)
            local.run([&] {
                for (const auto& p : detail::list_cached_parts(node_dir_, target.name))
                    cached_newest = std::max(cached_newest, p.version.sequence);
            });
        detail::mpi::agree(comm_, local);
        comm_.allreduce(&cached_newest, 1, MPI_MAX);
    }
    std::uint64_t seq = 0, id = 0;
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
            seq = std::max(all.empty() ? 0 : all.back().sequence, cached_newest) + 1;
            // For the rotation after this version: what the versions there refer to.
            detail::add_references(known_references_[detail::join_path(target.dir, target.name)], all, target.name);
            std::random_device entropy;
            id = (std::uint64_t{entropy()} << 32 | entropy()) ^ static_cast<std::uint64_t>(time * 1e6);
            decided.append(reinterpret_cast<const char*>(&seq), sizeof seq);
            decided.append(reinterpret_cast<const char*>(&id), sizeof id);
            decided.append(reinterpret_cast<const char*>(&time), sizeof time);
            decided += detail::current_directory();
        });
    }
    detail::mpi::root_decides(comm_, local, decided);
    std::memcpy(&seq, decided.data(), sizeof seq);
    std::memcpy(&id, decided.data() + sizeof seq, sizeof id);
    std::memcpy(&time, decided.data() + sizeof seq + sizeof id, sizeof time);
    cwd = decided.substr(sizeof seq + sizeof id + sizeof time);
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
    meta.version_id = id;
    // 3a. With a cache: every rank's part to its node's cache (and its partner's), synchronously
    //     (node-local memory or disk); the shared directory gets every flush-th version, and every
    //     one that a shutdown or a requester waits for.
    if (cached) {
        const std::string part = write_cached(nodes, meta, target.depth);
        const bool flushed = durable || (options_.flush > 0 && seq % options_.flush == 0);
        if (!flushed) {
            taken(part, seq, false);
            if (options_.verbose) {
                std::uint64_t bytes = 0;
                for (auto& n : nodes) bytes += n.is_group() ? 0 : n.count * detail::element_size(n.element);
                comm_.allreduce(&bytes, 1, MPI_SUM);
                if (comm_.rank() == 0)
                    std::cerr << (detail::written_line(part, bytes, detail::now_seconds() - started, comm_.size()) +
                                  " to the node caches\n");
            }
            return part;
        }
    }
    if (async) {
        stage_version(local, std::move(nodes), target, meta, tmp, final_path, started);
        if (durable) drain(0);  // a shutdown or a requester waits until it is committed
        return final_path;
    }
    // 3b. Incremental: after a full version, K-1 that link the leaves unchanged since the one before.
    const bool incremental = options_.incremental > 0 && target.dir == options_.dir && target.name == options_.name;
    detail::Increment increment;
    increment.home = detail::version_file_name(target.name, seq);
    if (since_full_ > 0) increment.previous = &stored_leaves_;  // compared with, if only to learn what changes
    increment.link = since_full_ > 0 && since_full_ < options_.incremental;
    detail::FileIdentity created;  // rank 0
    local.run([&] { created = detail::write_file(tmp, comm_, nodes, meta, nullptr, incremental ? &increment : nullptr); });
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
        if (!local.failed()) {
            std::vector<std::uint64_t>& refs = known_references_[detail::join_path(target.dir, target.name)][seq];
            for (const auto& [path, leaf] : increment.stored) {
                detail::Version home;
                if (leaf.home != increment.home && detail::parse_version_name(leaf.home, target.name, home))
                    refs.push_back(home.sequence);
            }
            std::sort(refs.begin(), refs.end());
            refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
            start_rotation(target, seq);
        }
    }
    detail::mpi::agree(comm_, local);
    if (incremental) {
        stored_leaves_ = std::move(increment.stored);
        since_full_ = increment.link ? since_full_ + 1 : 1;
    }

    taken(final_path, seq, true);
    const double finished = detail::now_seconds();
    if (options_.verbose) {
        std::uint64_t bytes = 0;
        for (auto& n : nodes) bytes += n.is_group() ? 0 : n.count * detail::element_size(n.element);
        comm_.allreduce(&bytes, 1, MPI_SUM);
        if (comm_.rank() == 0)
            std::cerr << (detail::written_line(final_path, bytes, finished - started, comm_.size()) + "\n");
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
    taken(final_path, meta.sequence, true);  // the version taken: committed once drained or agreed durable
    return final_path;
}

/// The bookkeeping of a version taken at this safe point.
inline void Checkpointer::Impl::taken(const std::string& path, std::uint64_t seq, bool shared) {
    last_shared_ = shared;
    last_path_ = path;
    sequence_ = seq;
    last_step_ = last_poll_step_;
    last_write_call_ = poll_calls_;
    triggers_.checkpointed_at(detail::now_seconds());
}

/// Collective. Writes this rank's part of the version `meta` as a file of its own in its node's
/// cache (the same format, written by this rank alone) and commits it; sends a copy to its
/// partner and commits the copies it receives. A failure on any rank throws the same error on
/// every rank, and every rank removes what it wrote of this version: only versions whose every
/// part and copy is in place are left. Returns this rank's file.
inline std::string Checkpointer::Impl::write_cached(const std::vector<detail::SaveNode>& nodes,
                                                    const detail::FileMeta& meta, unsigned depth) {
    const int rank = comm_.rank();
    auto part_path = [&](int r) {
        return detail::join_path(node_dir_, detail::cached_part_name(options_.name, meta.sequence, r));
    };
    const std::string mine = part_path(rank);
    std::vector<std::string> written{mine + ".tmp", mine};  // removed again if any rank fails
    detail::mpi::Outcome local;
    local.run([&] {
        detail::make_directories(node_dir_, "the node cache", "cache= / CKPT_CACHE_DIR");
        detail::FileMeta part = meta;
        part.ranks = 1;
        part.part = rank;
        part.parts = comm_.size();
        const detail::FileIdentity created = detail::write_file(mine + ".tmp", *self_, nodes, part);
        detail::commit(mine + ".tmp", mine, created);  // a directory fsync warning: the node keeps it readable
    });
    if (options_.partner && topology_.partner >= 0) {
        std::vector<std::pair<int, std::string>> copies;
        for (int r : topology_.holds) {
            copies.emplace_back(r, part_path(r) + ".tmp");
            written.insert(written.end(), {part_path(r) + ".tmp", part_path(r)});
        }
        const auto received = detail::transfer_parts(comm_, local, {{topology_.partner, mine}}, copies,
                                                     detail::partner_copy_tag);
        for (std::size_t k = 0; k < copies.size(); ++k)
            if (received[k])
                local.run([&] { detail::commit(copies[k].second, part_path(topology_.holds[k]), *received[k]); });
    }
    try {
        detail::mpi::agree(comm_, local);
    } catch (...) {
        for (const auto& f : written) ::unlink(f.c_str());
        throw;
    }
    if (topology_.reporter) start_cache_rotation(depth, meta.sequence);
    return mine;
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
        std::cerr << (detail::written_line(v.final_path, v.bytes, v.durable_at - v.started, comm_.size()) + blocked +
                      "\n");
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
        std::cerr << ("ckpt: warning: " + std::to_string(flushes_.in_flight()) +
                      " asynchronous checkpoint(s) left uncommitted: the checkpointer ended where the ranks could not "
                      "agree that they were durable (call sync() before MPI_Finalize or an exception)\n");
    flushes_.clear();
}

/// Rank 0, after committing `seq`: rotation on the worker (unlinking is slow on some file systems).
/// What each version refers to was read when this version was begun (write_version(): HDF5 is
/// not thread-safe, and an asynchronous version may be committed inside MPI_Finalize).
inline void Checkpointer::Impl::start_rotation(const detail::Target& target, std::uint64_t seq) {
    const detail::References references = known_references_[detail::join_path(target.dir, target.name)];
    submit_rotation(target.dir, [target, seq, references] {
        return detail::rotate(target.dir, target.name, target.depth, seq, references);
    });
}

/// A node's lowest rank, once version `seq` is in every cache: the node cache's rotation.
inline void Checkpointer::Impl::start_cache_rotation(unsigned depth, std::uint64_t seq) {
    submit_rotation(node_dir_, [dir = node_dir_, name = options_.name, depth, seq] {
        return detail::rotate_cache(dir, name, depth, seq);
    });
}

/// Runs `rotate` (returns the paths it could not delete) on the worker; the failures are warned
/// about at the next join.
template <class Rotate>
void Checkpointer::Impl::submit_rotation(const std::string& where, Rotate rotate) {
    worker_.submit([this, where, rotate] {
        std::vector<std::string> failed;
        try {
            failed = rotate();
        } catch (const std::exception& e) {
            failed = {where + " (" + e.what() + ")"};
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
        std::cerr << ("ckpt: warning: rank " + std::to_string(comm_.rank()) +
                      ": requests through the control directory cannot reach this process: " + (e.what() + 6) + "\n");
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
    // Rank 0 rotates the shared directory, each node's lowest rank its cache: each warns for itself.
    for (auto& p : rotation_failures_) std::cerr << ("ckpt: warning: rotation could not delete " + p + "\n");
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
        if (last_write_call_ == poll_calls_ && !request && (!durable || last_shared_)) {
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
        std::cerr << ("ckpt: leaving at step " + std::to_string(last_poll_step_) + " with exit status " +
                      std::to_string(status) +
                      (status == options_.exit_code && !last_path_.empty() ? " after writing " + last_path_ : "") + "\n");
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
