#pragma once
/// Definitions for ckpt/options.hpp: the option grammar and how the layers (code, CKPT_*
/// variables, command line) combine. Inline in the header-only mode, compiled once into libckpt
/// in the compiled mode (ckpt/config.hpp).

#include "ckpt/detail/parse.hpp"
#include "ckpt/detail/version_dir.hpp"
#include "ckpt/error.hpp"
#include "ckpt/options.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <locale>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt {

CKPT_INLINE Environment process_environment() {
    return [](const char* name) -> const char* { return std::getenv(name); };
}

CKPT_INLINE RestartSpec parse_restart(const std::string& text, const std::string& origin) {
    const std::string s = detail::trim(text);
    RestartSpec r;
    if (s.empty()) detail::reject(origin, text, "none, auto, latest, a sequence number, a file name or a path");
    if (s == "none") return r;
    if (s == "auto" || s == "latest") {
        r.kind = s == "auto" ? RestartKind::Auto : RestartKind::Latest;
        return r;
    }
    if (detail::is_digits(s)) {
        const auto sequence = detail::to_uint(s);
        if (!sequence) detail::reject(origin, text, "a sequence number below 2^64");
        r.kind = RestartKind::Sequence;
        r.sequence = *sequence;
        return r;
    }
    r.kind = s.find('/') == std::string::npos ? RestartKind::Name : RestartKind::Path;
    r.target = s;
    return r;
}

CKPT_INLINE std::string to_string(const RestartSpec& r) {
    switch (r.kind) {
        case RestartKind::None: return "none";
        case RestartKind::Auto: return "auto";
        case RestartKind::Latest: return "latest";
        case RestartKind::Sequence: return std::to_string(r.sequence);
        case RestartKind::Name:
        case RestartKind::Path: return r.target;
    }
    return "none";
}

namespace detail {

/// The knobs in describe() order; also the keys of Options::origin (the field names).
inline const std::vector<std::string>& knob_names() {
    static const std::vector<std::string> names{
        "mode", "interval", "every", "depth", "dir", "name", "restart",
        "checkpoint_signal", "term_signals", "exit_code", "halt", "verbose", "strict_restore", "async", "async_busy",
        "cache", "flush", "partner", "simulated_nodes", "compression", "incremental"};
    return names;
}

/// "600s", "0.5s": seconds with up to 15 digits, independent of the global C++ locale.
inline std::string format_seconds(std::chrono::duration<double> d) {
    std::ostringstream out;
    out.imbue(std::locale::classic());
    out.precision(15);
    out << d.count() << 's';
    return out.str();
}

/// "enabled,shutdown,periodic", or "none".
inline std::string format_mode(const Mode& m) {
    if (m.none) return "none";
    std::string s;
    for (const auto& [on, name] : {std::pair{m.enabled, "enabled"}, std::pair{m.shutdown, "shutdown"},
                                   std::pair{m.periodic, "periodic"}})
        if (on) s += (s.empty() ? "" : ",") + std::string(name);
    return s.empty() ? "(no mode)" : s;
}

/// "TERM,INT,USR2,XCPU", or "none" for an empty list.
inline std::string format_signals(const std::vector<int>& signals) {
    std::string s;
    for (int n : signals) s += (s.empty() ? "" : ",") + signal_name(n);
    return s.empty() ? "none" : s;
}

/// The effective value of one knob, with its unit, as describe() prints it.
inline std::string knob_value(const Options& o, const std::string& knob) {
    if (knob == "mode") return format_mode(o.mode);
    if (knob == "interval") return format_seconds(o.interval);
    if (knob == "every") return std::to_string(o.every);
    if (knob == "depth") return std::to_string(o.depth);
    if (knob == "dir") return o.dir;
    if (knob == "name") return o.name;
    if (knob == "restart") return to_string(o.restart);
    if (knob == "checkpoint_signal") return signal_name(o.checkpoint_signal);
    if (knob == "term_signals") return format_signals(o.term_signals);
    if (knob == "exit_code") return std::to_string(o.exit_code);
    if (knob == "halt") return format_seconds(o.halt);
    if (knob == "verbose") return o.verbose ? "true" : "false";
    if (knob == "strict_restore") return o.strict_restore ? "true" : "false";
    if (knob == "async") return std::to_string(o.async);
    if (knob == "async_busy") return o.async_busy == AsyncBusy::Skip ? "skip" : "wait";
    if (knob == "cache") return o.cache.empty() ? "(none)" : o.cache;
    if (knob == "flush") return std::to_string(o.flush);
    if (knob == "partner") return o.partner ? "true" : "false";
    if (knob == "simulated_nodes") return std::to_string(o.simulated_nodes);
    if (knob == "compression") return o.compression.text();
    if (knob == "incremental") return std::to_string(o.incremental);
    return {};
}

/// Record where a knob's current value came from: "VALUE (from SOURCE)".
inline void set_origin(Options& o, const std::string& knob, const std::string& source) {
    o.origin[knob] = knob_value(o, knob) + " (from " + source + ")";
}

/// "CKPT_X=v" for a variable, "--flag v" for an option: a value quoted the way it was written.
inline std::string source_of(const std::string& option, const std::string& value) {
    return !option.empty() && option[0] == '-' ? option + " " + value : option + "=" + value;
}

/// Where a value being applied was written.
struct Setting {
    std::string option;  ///< what errors name: "CKPT_INTERVAL", "--checkpoint"
    std::string shown;   ///< what errors quote: the value, or the whole item inside --checkpoint
    std::string source;  ///< what the origin says: "CKPT_INTERVAL=10", "--checkpoint depth=3"
};

/// The knobs a single value sets (the mode set has its own grammar, apply_checkpoint_items).
enum class Knob {
    Interval, Every, Depth, Dir, Name, Restart, Signal, TermSignals, ExitCode, Halt, Verbose, StrictRestore, Async,
    AsyncBusy, Cache, Flush, Partner, SimulatedNodes, Compression, Incremental
};

/// Parse `text` into knob `k` of `o` and record its origin; true if it is a non-zero period,
/// which implies `periodic`.
inline bool apply_knob(Options& o, Knob k, const std::string& text, const Setting& w) {
    const std::string t = trim(text);
    switch (k) {
        case Knob::Interval:
        case Knob::Halt: {
            const bool period = k == Knob::Interval;
            const Duration d = parse_duration(t, period ? BareUnit::Minutes : BareUnit::Seconds, w.option, w.shown);
            (period ? o.interval : o.halt) = d.value;
            set_origin(o, period ? "interval" : "halt", w.source + (!d.bare ? "" : period ? ", unit min" : ", unit s"));
            return period && d.value.count() > 0;
        }
        case Knob::Every:
            o.every = parse_uint(t, std::numeric_limits<std::uint64_t>::max(), w.option,
                                 "a whole number of steps (0 = off)", w.shown);
            set_origin(o, "every", w.source);
            return o.every > 0;
        case Knob::Depth:
            o.depth = static_cast<unsigned>(parse_uint(t, std::numeric_limits<unsigned>::max(), w.option,
                                                       "a whole number of versions to keep (0 = all)", w.shown));
            set_origin(o, "depth", w.source);
            return false;
        case Knob::Dir:
            if (t.empty()) reject(w.option, w.shown, "a directory path");
            o.dir = t;
            set_origin(o, "dir", w.source);
            return false;
        case Knob::Name:
            if (!version_prefix_problem(t).empty()) reject(w.option, w.shown, version_prefix_rule());
            o.name = t;
            set_origin(o, "name", w.source);
            return false;
        case Knob::Restart:
            o.restart = parse_restart(text, w.option);
            set_origin(o, "restart", w.source);
            return false;
        case Knob::Signal:
            o.checkpoint_signal = parse_signal(t, w.option, w.shown);
            set_origin(o, "checkpoint_signal", w.source);
            return false;
        case Knob::TermSignals:
            o.term_signals = parse_signal_list(text, w.option);
            set_origin(o, "term_signals", w.source);
            return false;
        case Knob::ExitCode:
            o.exit_code = static_cast<int>(parse_uint(t, 255, w.option, "an exit status 0..255", w.shown));
            set_origin(o, "exit_code", w.source);
            return false;
        case Knob::Verbose:
            o.verbose = parse_bool(t, w.option, w.shown);
            set_origin(o, "verbose", w.source);
            return false;
        case Knob::StrictRestore:
            o.strict_restore = parse_bool(t, w.option, w.shown);
            set_origin(o, "strict_restore", w.source);
            return false;
        case Knob::Async:
            o.async = static_cast<unsigned>(parse_uint(t, max_async, w.option,
                                                       "how many checkpoints may be in flight at once, 0 to " +
                                                           std::to_string(max_async) + " (0 = synchronous)",
                                                       w.shown));
            set_origin(o, "async", w.source);
            return false;
        case Knob::AsyncBusy: {
            const std::string s = upper(t);
            if (s != "WAIT" && s != "SKIP") reject(w.option, w.shown, "wait or skip");
            o.async_busy = s == "SKIP" ? ckpt::AsyncBusy::Skip : ckpt::AsyncBusy::Wait;
            set_origin(o, "async_busy", w.source);
            return false;
        }
        case Knob::Cache:
            if (t.empty()) reject(w.option, w.shown, "a node-local directory path");
            o.cache = t;
            set_origin(o, "cache", w.source);
            return false;
        case Knob::Flush:
            o.flush = static_cast<unsigned>(parse_uint(t, std::numeric_limits<unsigned>::max(), w.option,
                                                       "every how many checkpoints also go to the shared directory "
                                                       "(0 = only shutdown and requested ones)",
                                                       w.shown));
            set_origin(o, "flush", w.source);
            return false;
        case Knob::Incremental:
            o.incremental = static_cast<unsigned>(parse_uint(t, std::numeric_limits<unsigned>::max(), w.option,
                                                             "every how many versions one is full (0 = off, "
                                                             "every version full; 2 or more)",
                                                             w.shown));
            set_origin(o, "incremental", w.source);
            return false;
        case Knob::Partner:
            o.partner = parse_bool(t, w.option, w.shown);
            set_origin(o, "partner", w.source);
            return false;
        case Knob::SimulatedNodes:
            o.simulated_nodes = static_cast<unsigned>(parse_uint(t, max_simulated_nodes, w.option,
                                                                 "a number of simulated nodes, 0 to " +
                                                                     std::to_string(max_simulated_nodes) +
                                                                     " (0 = the real nodes)",
                                                                 w.shown));
            set_origin(o, "simulated_nodes", w.source);
            return false;
        case Knob::Compression:
            o.compression = parse_compression(t, w.option, w.shown);
            set_origin(o, "compression", w.source);
            return false;
    }
    return false;
}

/// Turn `periodic` on because a non-zero period was given. `none` stays: only a mode word lifts it.
inline void imply_periodic(Options& o, const std::string& source) {
    if (o.mode.none || o.mode.periodic) return;
    o.mode.periodic = true;
    set_origin(o, "mode", source + ", which implies periodic");
}

/// The knob a `--checkpoint` key sets.
inline Knob item_knob(const std::string& key) {
    if (key == "every") return Knob::Every;
    if (key == "depth") return Knob::Depth;
    if (key == "dir") return Knob::Dir;
    if (key == "halt") return Knob::Halt;
    if (key == "async") return Knob::Async;
    if (key == "async_busy") return Knob::AsyncBusy;
    if (key == "cache") return Knob::Cache;
    if (key == "flush") return Knob::Flush;
    if (key == "partner") return Knob::Partner;
    if (key == "compression") return Knob::Compression;
    if (key == "incremental") return Knob::Incremental;
    return Knob::Interval;
}

}  // namespace detail

CKPT_INLINE void apply_checkpoint_items(Options& o, const std::string& text, const std::string& origin) {
    const auto items = detail::parse_checkpoint_items(text, origin);
    Options r = o;  // apply to a copy: a bad item later in the list leaves `o` untouched
    Mode words{false, false, false, false};
    bool sets_mode = false, sets_interval = false, sets_every = false;
    const bool is_flag = !origin.empty() && origin[0] == '-';
    for (const auto& item : items) {
        sets_mode = sets_mode || item.sets_mode;
        words.none = words.none || item.none;
        words.enabled = words.enabled || item.enabled;
        words.shutdown = words.shutdown || item.shutdown;
        words.periodic = words.periodic || item.periodic;
        if (item.key.empty()) continue;
        const std::string source = is_flag ? origin + " " + item.text : item.text + " in " + origin;
        detail::apply_knob(r, detail::item_knob(item.key), item.value, {origin, item.text, source});
        sets_interval = sets_interval || item.key == "interval";
        sets_every = sets_every || item.key == "every";
    }
    // Judged on the final values, so "interval=10,interval=0" implies nothing.
    const bool implied = (sets_interval && r.interval.count() > 0) || (sets_every && r.every > 0);
    Mode m = sets_mode ? words : r.mode;
    if (m.none)
        m = Mode{true, false, false, false};
    else if (implied)
        m.periodic = true;
    if (sets_mode || m != r.mode) {
        r.mode = m;
        detail::set_origin(r, "mode", detail::source_of(origin, text));
    }
    o = std::move(r);
}

namespace detail {

/// Give each value set in code (differs from the built-in default) the origin "code", unless the
/// caller preset one (a batch hook's request passed in as in-code options).
inline void record_code_origins(Options& o) {
    const Options defaults;
    for (const auto& knob : knob_names())
        if (o.origin.count(knob) == 0 && knob_value(o, knob) != knob_value(defaults, knob)) set_origin(o, knob, "code");
}

/// Apply the CKPT_* variables. CKPT_MODE goes first so that the one-knob variables (CKPT_INTERVAL
/// over interval=, CKPT_DIR over dir=, ...) win over its items. Set-but-empty counts as unset,
/// except CKPT_TERM_SIGNALS, where empty means "install no termination handlers".
inline void apply_environment(Options& o, const Environment& env) {
    if (!env) return;
    const char* mode = env("CKPT_MODE");
    if (mode != nullptr && !trim(mode).empty()) apply_checkpoint_items(o, mode, "CKPT_MODE");
    static const std::pair<const char*, Knob> variables[] = {
        {"CKPT_INTERVAL", Knob::Interval}, {"CKPT_EVERY", Knob::Every},
        {"CKPT_DEPTH", Knob::Depth},       {"CKPT_DIR", Knob::Dir},
        {"CKPT_NAME", Knob::Name},         {"CKPT_RESTART", Knob::Restart},
        {"CKPT_SIGNAL", Knob::Signal},     {"CKPT_TERM_SIGNALS", Knob::TermSignals},
        {"CKPT_EXIT_CODE", Knob::ExitCode}, {"CKPT_HALT_SECONDS", Knob::Halt},
        {"CKPT_VERBOSE", Knob::Verbose},   {"CKPT_STRICT_RESTORE", Knob::StrictRestore},
        {"CKPT_ASYNC", Knob::Async},       {"CKPT_ASYNC_BUSY", Knob::AsyncBusy},
        {"CKPT_CACHE_DIR", Knob::Cache},   {"CKPT_FLUSH", Knob::Flush},
        {"CKPT_PARTNER", Knob::Partner},   {"CKPT_SIMULATED_NODES", Knob::SimulatedNodes},
        {"CKPT_COMPRESSION", Knob::Compression}, {"CKPT_INCREMENTAL", Knob::Incremental}};
    for (const auto& [name, knob] : variables) {
        const char* value = env(name);
        if (value == nullptr || (knob != Knob::TermSignals && trim(value).empty())) continue;
        const std::string source = source_of(name, value);
        if (apply_knob(o, knob, value, {name, value, source})) imply_periodic(o, source);
    }
    // The walltime's end: ours first, then Slurm's (set in jobs with a time limit).
    for (const char* name : {"CKPT_END_TIME", "SLURM_JOB_END_TIME"}) {
        const char* value = env(name);
        if (value == nullptr || trim(value).empty()) continue;
        o.end_time = static_cast<std::int64_t>(parse_uint(trim(value), std::numeric_limits<std::int64_t>::max(), name,
                                                          "the end of the walltime in seconds since the epoch", value));
        o.origin["end_time"] = std::to_string(o.end_time) + " (from " + source_of(name, value) + ")";
        break;
    }
}

/// One ckpt command-line flag; `items` marks --checkpoint, which takes the item grammar.
struct Flag {
    const char* name;
    Knob knob;
    bool items;
};

/// The ckpt flags; each takes one value, as `--flag value` or `--flag=value`.
inline const std::vector<Flag>& flags() {
    static const std::vector<Flag> table{{"--restart", Knob::Restart, false},
                                         {"--checkpoint", Knob::Interval, true},
                                         {"--checkpoint-dir", Knob::Dir, false},
                                         {"--checkpoint-name", Knob::Name, false},
                                         {"--checkpoint-interval", Knob::Interval, false},
                                         {"--checkpoint-signal", Knob::Signal, false}};
    return table;
}

/// The flag `arg` is (either form), or nullptr; `value` gets the text after '=' in the `=` form.
inline const Flag* match_flag(std::string_view arg, std::string* value = nullptr, bool* has_value = nullptr) {
    for (const auto& f : flags()) {
        const std::string_view name = f.name;
        const bool exact = arg == name;
        const bool joined = arg.size() > name.size() && arg.substr(0, name.size()) == name && arg[name.size()] == '=';
        if (!exact && !joined) continue;
        if (value != nullptr && joined) *value = std::string(arg.substr(name.size() + 1));
        if (has_value != nullptr) *has_value = joined;
        return &f;
    }
    return nullptr;
}

/// A ckpt flag found on the command line, and its value.
struct FlagValue {
    const Flag* flag;
    std::string value;
};

/// The ckpt flags of argv in order, and the arguments the application keeps (argv[0] first).
struct ArgumentScan {
    std::vector<FlagValue> flags;
    std::vector<char*> kept;
};

/// Split argv into ckpt flags and application arguments; scanning stops at a bare `--`, which is
/// kept with everything after it. A flag's separate value may be anything except `--` or another
/// ckpt flag, so that `--restart --checkpoint-dir x` is an error rather than a restart named "--checkpoint-dir".
inline ArgumentScan scan_arguments(int argc, char** argv) {
    ArgumentScan scan;
    if (argv == nullptr || argc <= 0) return scan;
    scan.kept.push_back(argv[0]);
    bool passthrough = false;
    for (int i = 1; i < argc; ++i) {
        if (passthrough || argv[i] == nullptr) {
            scan.kept.push_back(argv[i]);
            continue;
        }
        const std::string_view arg = argv[i];
        std::string value;
        bool has_value = false;
        const Flag* flag = arg == "--" ? nullptr : match_flag(arg, &value, &has_value);
        if (flag == nullptr) {
            passthrough = arg == "--";
            scan.kept.push_back(argv[i]);
            continue;
        }
        if (!has_value) {
            const bool next_ok = i + 1 < argc && argv[i + 1] != nullptr && std::string_view(argv[i + 1]) != "--" &&
                                 match_flag(argv[i + 1]) == nullptr;
            if (!next_ok) raise(ConfigError::missing_value(flag->name));
            value = argv[++i];
        }
        scan.flags.push_back({flag, std::move(value)});
    }
    return scan;
}

/// Make argv hold only `kept`, in order; the freed slots become nullptr, so an argv that was
/// NULL-terminated stays so (argv[argc] itself is never read: a caller's array may end at argc).
inline void rewrite_argv(int& argc, char** argv, const std::vector<char*>& kept) {
    if (argv == nullptr || argc <= 0) return;
    const int old_argc = argc;
    argc = static_cast<int>(kept.size());
    for (int i = 0; i < old_argc; ++i) argv[i] = i < argc ? kept[static_cast<std::size_t>(i)] : nullptr;
}

/// Apply one command-line flag.
inline void apply_flag(Options& o, const FlagValue& f) {
    if (f.flag->items) return apply_checkpoint_items(o, f.value, f.flag->name);
    const std::string source = source_of(f.flag->name, f.value);
    if (apply_knob(o, f.flag->knob, f.value, {f.flag->name, f.value, source})) imply_periodic(o, source);
}

/// Check the merged values, which may come from code that no parser saw; errors name the field.
inline void validate(const Options& o) {
    for (const auto& [d, field] : {std::pair{o.interval, "Options::interval"}, std::pair{o.halt, "Options::halt"}})
        if (!(d.count() >= 0 && d.count() <= max_duration_seconds))  // also refuses NaN
            reject(field, format_seconds(d), "a duration from 0 to 100 years");
    if (o.async > max_async)
        reject("Options::async", std::to_string(o.async), "0 to " + std::to_string(max_async) + " checkpoints in flight");
    if (o.simulated_nodes > max_simulated_nodes)
        reject("Options::simulated_nodes", std::to_string(o.simulated_nodes),
               "0 to " + std::to_string(max_simulated_nodes) + " nodes");
    if (o.exit_code < 0 || o.exit_code > 255)
        reject("Options::exit_code", std::to_string(o.exit_code), "an exit status 0..255");
    const char* catchable = "a signal that can be caught: 1..64 except KILL and STOP";
    if (!is_catchable_signal(o.checkpoint_signal))
        reject("Options::checkpoint_signal", std::to_string(o.checkpoint_signal), catchable);
    for (int n : o.term_signals) {
        if (!is_catchable_signal(n)) reject("Options::term_signals", std::to_string(n), catchable);
        if (n == o.checkpoint_signal)
            reject("CKPT_SIGNAL / --checkpoint-signal", signal_name(n), "a signal that is not also in CKPT_TERM_SIGNALS",
                   "one signal cannot mean both \"checkpoint and continue\" and \"leave\"");
    }
    if (!o.compression.valid())
        reject("Options::compression", o.compression.text(), "a deflate level from 1 to 9");
    // The background flush writes at fixed file addresses with plain POSIX calls; HDF5 1.10
    // writes filtered data only in a collective MPI call, which the flush's thread cannot make.
    if (o.async > 0 && o.compression.on())
        reject("compression= / CKPT_COMPRESSION", o.compression.text(), "off while async checkpoints are on (async=" +
                   std::to_string(o.async) + ")",
               "compressed entries are written synchronously only: drop async, or compression");
    if (o.incremental == 1)
        reject("incremental= / CKPT_INCREMENTAL", "1", "0 (off) or a number of versions of 2 or more",
               "incremental=K makes every K-th version full; 1 would make every version full, which is 0");
    // The background flush writes each rank's data at addresses fixed before it is hashed; the
    // incremental choice needs every checksum first (docs/incremental.md).
    if (o.async > 0 && o.incremental > 0)
        reject("incremental= / CKPT_INCREMENTAL", std::to_string(o.incremental),
               "0 while async checkpoints are on (async=" + std::to_string(o.async) + ")",
               "incremental versions are written synchronously only: drop async, or incremental");
    if (o.dir.empty()) reject("Options::dir", o.dir, "a directory path");
    if (!version_prefix_problem(o.name).empty()) reject("Options::name", o.name, version_prefix_rule());
    const bool named = o.restart.kind == RestartKind::Name || o.restart.kind == RestartKind::Path;
    if (named && (o.restart.target.empty() ||
                  (o.restart.kind == RestartKind::Name && o.restart.target.find('/') != std::string::npos)))
        reject("Options::restart", o.restart.target, "a file name without '/' (Name) or a non-empty path (Path)");
}

/// After all layers: validate, give `periodic` its 10-minute default period, expand %j in dir.
inline void finish(Options& o, const Environment& env) {
    // CKPT_SIGNAL=USR2 takes USR2 out of the default termination list; only a list the user
    // wrote himself with the same signal in it is a conflict (validate).
    auto& t = o.term_signals;
    if (o.origin.count("term_signals") == 0)
        t.erase(std::remove(t.begin(), t.end(), o.checkpoint_signal), t.end());
    validate(o);
    if (o.mode.periodic && o.interval.count() == 0 && o.every == 0) {
        o.interval = std::chrono::duration<double>(600);  // Torque's default period
        o.origin["interval"] = knob_value(o, "interval") + " (default period of periodic, 10 min)";
    }
    for (auto [path, knob] : {std::pair{&o.dir, "dir"}, std::pair{&o.cache, "cache"}}) {
        const std::string expanded = expand_job_id(*path, env);
        if (expanded == *path) continue;
        // Keep the origin's source ("from CKPT_DIR=/s/%j") and show the expanded value in front of it.
        auto it = o.origin.find(knob);
        if (it != o.origin.end() && it->second.compare(0, path->size() + 1, *path + " ") == 0)
            it->second.replace(0, path->size(), expanded);
        *path = expanded;
    }
}

}  // namespace detail

CKPT_INLINE Options resolve_options(int& argc, char** argv, Options in_code, const Environment& env) {
    const detail::ArgumentScan scan = detail::scan_arguments(argc, argv);
    Options o = std::move(in_code);
    detail::record_code_origins(o);
    detail::apply_environment(o, env);
    for (const auto& flag : scan.flags) detail::apply_flag(o, flag);
    detail::finish(o, env);
    detail::rewrite_argv(argc, argv, scan.kept);
    return o;
}

CKPT_INLINE std::string describe(const Options& o) {
    const Options defaults;
    std::string out;
    for (const auto& knob : detail::knob_names()) {
        const auto it = o.origin.find(knob);
        const std::string value = detail::knob_value(o, knob);
        out += "ckpt: " + knob + "=";
        if (it != o.origin.end())
            out += it->second;
        else
            out += value + (value == detail::knob_value(defaults, knob) ? " (default)" : "");
        out += '\n';
    }
    if (const auto it = o.origin.find("end_time"); it != o.origin.end()) out += "ckpt: end_time=" + it->second + "\n";
    return out;
}

}  // namespace ckpt
