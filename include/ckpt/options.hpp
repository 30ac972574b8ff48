#pragma once
/// ckpt::Options: every knob of the batch-system contract (docs/batch-contract.md sections 2-4),
/// resolved from the command line, CKPT_* environment variables and values set in code.

#include "ckpt/compression.hpp"
#include "ckpt/config.hpp"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ckpt {

/// What --restart / CKPT_RESTART selects.
enum class RestartKind { None, Auto, Latest, Sequence, Name, Path };

struct RestartSpec {
    RestartKind kind = RestartKind::None;
    std::uint64_t sequence = 0;  ///< RestartKind::Sequence
    std::string target;          ///< RestartKind::Name (file in the directory) or Path
};

/// Checkpoint modes, the `qsub -c` set.
struct Mode {
    bool none = false;      ///< no checkpoint is ever written (a restart still works)
    bool enabled = true;    ///< checkpoints on request (signal, request file, API call)
    bool shutdown = true;   ///< checkpoint when a termination signal arrives, then exit
    bool periodic = false;  ///< checkpoint every `interval` or `every` steps
};

/// What a checkpoint that comes due while Options::async checkpoints are already in flight does.
enum class AsyncBusy {
    Wait,  ///< finish the oldest in flight (durable and committed), then take this one
    Skip,  ///< take none this time, with a log line; the next one that comes due is taken
};

/// Every knob, with its built-in default. Values set in code are overridden by CKPT_* variables,
/// which are overridden by command-line flags (resolve_options below).
struct Options {
    Mode mode;
    std::chrono::duration<double> interval{0};  ///< periodic checkpoint period; 0 = off
    std::uint64_t every = 0;                    ///< checkpoint at steps that are multiples of N; 0 = off
    unsigned depth = 2;                         ///< complete versions kept; 0 = keep all
    std::string dir = "./ckpt";                 ///< directory of the versioned files (%j expanded)
    std::string name = "ckpt";                  ///< file name prefix: <dir>/<name>.<seq>.h5
    RestartSpec restart;
    int checkpoint_signal = SIGUSR1;
    std::vector<int> term_signals{SIGTERM, SIGINT, SIGUSR2, SIGXCPU};
    int exit_code = 85;
    std::chrono::duration<double> halt{0};      ///< leave when less than this remains of the walltime
    /// When the walltime ends, in seconds since the epoch (CKPT_END_TIME, else SLURM_JOB_END_TIME);
    /// 0 = unknown, and then `halt` has nothing to count down from.
    std::int64_t end_time = 0;
    bool verbose = false;
    /// A restore refuses a checkpoint holding entries nothing protects (else: a warning each).
    /// CKPT_STRICT_RESTORE.
    bool strict_restore = false;
    /// Asynchronous checkpoints (docs/async.md): at most this many written in the background at
    /// once, the application blocked only while its state is copied; 0 = synchronous (durable
    /// before checkpoint()/poll() returns). `--checkpoint async[=N]`, CKPT_ASYNC.
    unsigned async = 0;
    /// What a checkpoint that comes due while `async` are in flight does. `async_busy=`,
    /// CKPT_ASYNC_BUSY: wait or skip.
    AsyncBusy async_busy = AsyncBusy::Wait;
    /// Multi-level storage (docs/multilevel.md): a node-local directory (/dev/shm, a local SSD)
    /// that every checkpoint is written to first, one file per rank; "" = off. `cache=`,
    /// CKPT_CACHE_DIR (%j expanded).
    std::string cache;
    /// With a cache: every K-th checkpoint also goes to `dir`, the shared directory; 0 = only
    /// shutdown and requested checkpoints do. `flush=`, CKPT_FLUSH.
    unsigned flush = 1;
    /// With a cache: each rank's file is also copied, through MPI, into the cache of the next
    /// node, so that a node's lost cache is rebuilt from its partner. `partner=`, CKPT_PARTNER.
    bool partner = true;
    /// For tests on one machine: the ranks form this many nodes of consecutive ranks, each with
    /// the cache <cache>/node<k>; 0 = the real nodes (ranks that share memory). CKPT_SIMULATED_NODES.
    unsigned simulated_nodes = 0;
    /// How the data of every leaf of at least 64 KiB is stored, unless its entry declares its own
    /// (Distribution::compress); docs/compression.md. `compression=`, CKPT_COMPRESSION.
    Compression compression;
    /// Incremental versions (docs/incremental.md): every K-th version is full, and each of the
    /// K-1 after it stores only the leaves that changed, linking to the older files for the
    /// rest; 0 = off (every version full). `incremental=`, CKPT_INCREMENTAL.
    unsigned incremental = 0;

    /// Where each non-default value came from, keyed by field name (mode, interval, every, depth,
    /// dir, name, restart, checkpoint_signal, term_signals, exit_code, halt, verbose,
    /// strict_restore, async, async_busy, cache, flush, partner, simulated_nodes, compression,
    /// incremental), e.g.
    /// "600s (from CKPT_INTERVAL=10, unit min)". Filled by resolve_options(); a caller may preset
    /// entries for values it sets (a batch hook's request), which are kept unless overridden.
    std::map<std::string, std::string> origin;
};

/// Mode sets are equal when every flag is.
inline bool operator==(const Mode& a, const Mode& b) {
    return a.none == b.none && a.enabled == b.enabled && a.shutdown == b.shutdown && a.periodic == b.periodic;
}
inline bool operator!=(const Mode& a, const Mode& b) { return !(a == b); }

/// Restart specs are equal when they select the same checkpoint.
inline bool operator==(const RestartSpec& a, const RestartSpec& b) {
    return a.kind == b.kind && a.sequence == b.sequence && a.target == b.target;
}
inline bool operator!=(const RestartSpec& a, const RestartSpec& b) { return !(a == b); }

/// Environment lookup: the value of a variable, or nullptr if unset. Injectable so tests never
/// touch the real process environment.
using Environment = std::function<const char*(const char*)>;

/// The real process environment, through std::getenv.
CKPT_INLINE Environment process_environment();

/// Parse a --restart / CKPT_RESTART value: `none`, `auto`, `latest`, an all-digits sequence number,
/// a name without '/' (a file in the checkpoint directory), or anything with '/' (a path).
/// Collective: no · Throws: ConfigError naming `origin` (empty value, sequence number past 2^64) ·
/// Thread safety: reentrant.
CKPT_INLINE RestartSpec parse_restart(const std::string& text, const std::string& origin);

/// The text that parse_restart() reads back into the same spec: "auto", "12", "ckpt.12.h5", "/x/y.h5".
CKPT_INLINE std::string to_string(const RestartSpec& r);

/// Apply a --checkpoint / CKPT_MODE item list (docs/batch-contract.md section 3) on top of `o`. Mode words
/// (none, enabled, shutdown, periodic, n, s, u, c, w, c=, w=) replace the mode set with the set
/// they name, so a higher layer's `enabled` really means "not shutdown". A text of keys only keeps
/// the mode set. A non-zero interval= / every= / c= / w= adds periodic; none/n anywhere wins over
/// all. Repeated keys: the last wins. `origin` is the option or variable that errors name.
/// Collective: no · Throws: ConfigError naming `origin` and the bad item; `o` is unchanged then ·
/// Thread safety: reentrant.
CKPT_INLINE void apply_checkpoint_items(Options& o, const std::string& text, const std::string& origin);

/// Resolve the effective options: `in_code` values (and any origins preset in it), overridden by
/// CKPT_* variables, overridden by command-line flags. Removes every ckpt flag and its value from
/// argc/argv, so the application's own parser never sees them; a bare `--` and all after it stay.
/// Collective: no (every rank calls it with the same argv and environment) · Throws: ConfigError
/// on any bad value, unknown --checkpoint item or flag without a value; argc/argv are untouched
/// then · Thread safety: as std::getenv (no concurrent setenv).
CKPT_INLINE Options resolve_options(int& argc, char** argv, Options in_code = {},
                                    const Environment& env = process_environment());

/// One "ckpt: knob=value (from ...)" line per knob, for rank 0 to log at start-up (docs/batch-contract.md
/// section 2); knobs without a recorded origin say "(default)" when they hold the default.
/// Collective: no · Throws: std::bad_alloc only · Thread safety: reentrant.
CKPT_INLINE std::string describe(const Options& o);

}  // namespace ckpt

#if CKPT_HEADER_ONLY
#include "ckpt/impl/options.hpp"
#endif
