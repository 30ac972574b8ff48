#pragma once
/// Internal parsers for the ckpt knobs (docs/batch-contract.md sections 2-5): blanks, unsigned
/// integers, durations, signal names, the `--checkpoint` item syntax and `%j` expansion. Every
/// failure throws ckpt::ConfigError naming the option or variable and the bad value.

#include "ckpt/compression.hpp"
#include "ckpt/error.hpp"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::detail {

/// Throw ConfigError::bad_value, with a hint when one helps (the message prefix stays the same).
[[noreturn]] inline void reject(const std::string& option, const std::string& value, const std::string& expected,
                                const std::string& hint = {}) {
    ConfigError error = ConfigError::bad_value(option, value, expected);
    if (hint.empty()) raise(std::move(error));
    ErrorInfo info = error.info();
    info.hint = hint;
    raise(ConfigError(std::move(info)));
}

/// Blank as in "blanks around items are ignored": space, tab, and the line-end characters.
inline bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/// `text` without leading and trailing blanks.
inline std::string trim(std::string_view text) {
    std::size_t begin = 0, end = text.size();
    while (begin < end && is_blank(text[begin])) ++begin;
    while (end > begin && is_blank(text[end - 1])) --end;
    return std::string(text.substr(begin, end - begin));
}

/// Split at every `sep`, keeping empty pieces so that callers can reject them by name.
inline std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t pos = text.find(sep); pos != std::string_view::npos; pos = text.find(sep, start)) {
        parts.emplace_back(text.substr(start, pos - start));
        start = pos + 1;
    }
    parts.emplace_back(text.substr(start));
    return parts;
}

/// ASCII upper case; signal names and booleans are case-insensitive, nothing else is.
inline std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

/// True for a non-empty run of ASCII digits (no sign, no blanks).
inline bool is_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

/// Strict unsigned decimal: digits only, no sign, no trailing garbage, at most `max`; else nullopt.
inline std::optional<std::uint64_t> to_uint(std::string_view s,
                                            std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
    if (!is_digits(s)) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : s) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (max - digit) / 10) return std::nullopt;  // value * 10 + digit would pass max
        value = value * 10 + digit;
    }
    return value;
}

/// Parse an unsigned integer knob (surrounding blanks ignored); `shown` is the value errors quote.
inline std::uint64_t parse_uint(const std::string& text, std::uint64_t max, const std::string& option,
                                const std::string& expected, const std::string& shown) {
    const auto value = to_uint(trim(text), max);
    if (!value) reject(option, shown, expected);
    return *value;
}

/// What a bare number means: minutes for periods (Torque, PBS, LSF), seconds for lead times (Slurm, SCR).
enum class BareUnit { Seconds, Minutes };

/// A parsed duration and whether it was a bare number (so the log can say "unit min").
struct Duration {
    std::chrono::duration<double> value{0};
    bool bare = false;
};

/// Longest accepted duration, 100 years: nanosecond clocks (int64) overflow at 292 years.
inline constexpr double max_duration_seconds = 100.0 * 365.0 * 86400.0;
/// The most asynchronous checkpoints in flight at once (each holds a copy of the state).
inline constexpr unsigned max_async = 16;
/// The most simulated nodes (CKPT_SIMULATED_NODES): a test knob, one cache directory each.
inline constexpr unsigned max_simulated_nodes = 4096;

/// Seconds of `NUMBER [s|m|min|h|d]`; NUMBER is digits with an optional `.digits` fraction.
inline std::optional<double> number_seconds(std::string_view s, BareUnit unit, bool& bare) {
    // Split at the first character that cannot belong to NUMBER; the rest must be a known unit.
    std::size_t n = 0;
    while (n < s.size() && ((s[n] >= '0' && s[n] <= '9') || s[n] == '.')) ++n;
    const std::string_view number = s.substr(0, n), suffix = s.substr(n);
    const std::size_t dot = number.find('.');
    const std::string_view whole = number.substr(0, dot);
    const std::string_view fraction = dot == std::string_view::npos ? std::string_view{} : number.substr(dot + 1);
    if (!is_digits(whole) || (dot != std::string_view::npos && !is_digits(fraction))) return std::nullopt;
    // Accumulate by hand: std::strtod follows LC_NUMERIC, and an application may set a ',' locale.
    double value = 0, scale = 1;
    for (char c : whole) value = value * 10 + (c - '0');
    for (char c : fraction) {
        if (scale >= 1e18) break;  // further digits cannot change a double; skipping them avoids inf/inf
        value = value * 10 + (c - '0');
        scale *= 10;
    }
    value /= scale;  // one division keeps 0.1 exact to the last bit, unlike summing tenths
    bare = suffix.empty();
    if (bare) return value * (unit == BareUnit::Minutes ? 60.0 : 1.0);
    if (suffix == "s") return value;
    if (suffix == "m" || suffix == "min") return value * 60.0;
    if (suffix == "h") return value * 3600.0;
    if (suffix == "d") return value * 86400.0;
    return std::nullopt;
}

/// Seconds of the clock form `[D-]HH:MM[:SS]` (Slurm's --time spelling with hours first).
inline std::optional<double> clock_seconds(std::string_view s) {
    std::optional<std::uint64_t> days = 0;
    const std::size_t dash = s.find('-');
    if (dash != std::string_view::npos) {
        days = to_uint(s.substr(0, dash), 36500);
        s = s.substr(dash + 1);
    }
    const auto fields = split(s, ':');
    if (!days || fields.size() < 2 || fields.size() > 3) return std::nullopt;
    // Hours are unbounded without a day part (100:00:00 is fine); with one they stay below 24.
    const bool has_days = dash != std::string_view::npos;
    const auto hours = has_days && fields[0].size() > 2 ? std::nullopt : to_uint(fields[0], has_days ? 23 : 876000);
    std::optional<std::uint64_t> minutes_seconds[2] = {0, 0};
    for (std::size_t i = 1; i < fields.size(); ++i)
        minutes_seconds[i - 1] = fields[i].size() > 2 ? std::nullopt : to_uint(fields[i], 59);
    if (!hours || !minutes_seconds[0] || !minutes_seconds[1]) return std::nullopt;
    return static_cast<double>(*days * 86400 + *hours * 3600 + *minutes_seconds[0] * 60 + *minutes_seconds[1]);
}

/// Parse `DURATION := NUMBER [s|m|min|h|d] | [D-]HH:MM[:SS]`; 0 means off; negative or malformed throws.
inline Duration parse_duration(const std::string& text, BareUnit unit, const std::string& option,
                               const std::string& shown) {
    const std::string s = trim(text);
    Duration d;
    const auto seconds = s.find(':') != std::string::npos ? clock_seconds(s) : number_seconds(s, unit, d.bare);
    // Written as !(x <= max) so that a NaN (400 digits over 400 digits of fraction) is refused too.
    if (!seconds || !(*seconds <= max_duration_seconds)) {
        const bool minutes = unit == BareUnit::Minutes;
        const std::string expected = minutes ? "a duration like 600, 10m, 1h or 01:30:00"
                                             : "a duration like 300, 5m, 1h or 00:05:00";
        std::string hint = minutes ? "a bare number is minutes here" : "a bare number is seconds here";
        if (!s.empty() && s[0] == '-') hint = "a duration cannot be negative; 0 means off";
        if (seconds) hint = "a duration cannot exceed 100 years";
        reject(option, shown, expected, hint);
    }
    d.value = std::chrono::duration<double>(*seconds);
    return d;
}

/// One signal name without its SIG prefix, and its number on this platform.
struct SignalName {
    const char* name;
    int number;
};

/// Signal names ckpt knows, canonical spelling first; Linux-only ones are guarded.
inline const std::vector<SignalName>& signal_table() {
    static const std::vector<SignalName> table{
        {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
        {"ABRT", SIGABRT}, {"BUS", SIGBUS},       {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"USR1", SIGUSR1},
        {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
        {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
        {"TTOU", SIGTTOU}, {"URG", SIGURG},       {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
        {"PROF", SIGPROF}, {"SYS", SIGSYS},
#ifdef SIGWINCH
        {"WINCH", SIGWINCH},
#endif
#ifdef SIGIO
        {"IO", SIGIO},
#endif
#ifdef SIGPOLL
        {"POLL", SIGPOLL},
#endif
#ifdef SIGPWR
        {"PWR", SIGPWR},
#endif
#ifdef SIGSTKFLT
        {"STKFLT", SIGSTKFLT},
#endif
#ifdef SIGIOT
        {"IOT", SIGIOT},
#endif
    };
    return table;
}

/// "USR1" for SIGUSR1; the number as text for a signal without a known name.
inline std::string signal_name(int number) {
    for (const auto& s : signal_table())
        if (s.number == number) return s.name;
    return std::to_string(number);
}

/// Highest signal number accepted as a number (Linux SIGRTMAX).
inline constexpr int max_signal_number = 64;

/// True for a signal a handler can be installed for: 1..64 except KILL and STOP.
inline bool is_catchable_signal(int number) {
    return number >= 1 && number <= max_signal_number && number != SIGKILL && number != SIGSTOP;
}

/// Parse `USR1`, `SIGUSR1`, `term` or a number 1..64. KILL and STOP are refused: sigaction cannot catch them.
inline int parse_signal(const std::string& text, const std::string& option, const std::string& shown) {
    std::string s = upper(trim(text));
    int number = 0;  // 0 is never a signal, so it marks "not recognised"
    if (const auto n = to_uint(s, max_signal_number)) {
        number = static_cast<int>(*n);
    } else {
        if (s.size() > 3 && s.compare(0, 3, "SIG") == 0) s.erase(0, 3);
        for (const auto& entry : signal_table())
            if (s == entry.name) number = entry.number;
    }
    if (number == 0) reject(option, shown, "a signal name like USR1, SIGTERM or term, or a number 1..64");
    if (!is_catchable_signal(number))
        reject(option, shown, "a signal that can be caught", "KILL and STOP cannot be caught; use USR1 or TERM");
    return number;
}

/// Parse a comma list of signals; empty (or `none`) is no signal at all. Duplicates are dropped.
inline std::vector<int> parse_signal_list(const std::string& text, const std::string& option) {
    std::vector<int> out;
    const std::string s = trim(text);
    if (s.empty() || s == "none") return out;
    for (const auto& piece : split(s, ',')) {
        if (trim(piece).empty()) reject(option, text, "a comma list of signals like TERM,INT,USR2,XCPU without empty items");
        const int number = parse_signal(piece, option, trim(piece));
        // Installing a handler twice would chain it to itself; keep the first mention only.
        bool seen = false;
        for (int n : out) seen = seen || n == number;
        if (!seen) out.push_back(number);
    }
    return out;
}

/// Parse CKPT_VERBOSE-style booleans: 0/1/true/false/yes/no, any case.
inline bool parse_bool(const std::string& text, const std::string& option, const std::string& shown) {
    const std::string s = upper(trim(text));
    if (s == "1" || s == "TRUE" || s == "YES") return true;
    if (s == "0" || s == "FALSE" || s == "NO") return false;
    reject(option, shown, "one of 0, 1, true, false, yes, no");
}

/// A compression= / CKPT_COMPRESSION value: off, deflate (level 1), deflate:LEVEL (1-9) or lz4,
/// any case.
inline Compression parse_compression(const std::string& text, const std::string& option, const std::string& shown) {
    const std::string t = upper(trim(text));
    const char* expected = "off, deflate, deflate:LEVEL (1 to 9) or lz4";
    if (t == "OFF" || t == "NONE") return Compression::off();
    if (t == "LZ4") return Compression::lz4();
    if (t == "DEFLATE") return Compression::deflate(1);
    if (t.rfind("DEFLATE:", 0) == 0 && t.size() == 9 && t[8] >= '1' && t[8] <= '9') return Compression::deflate(t[8] - '0');
    reject(option, shown, expected);
}

/// One item of the `--checkpoint` grammar: the modes it names and the key=value it sets, if any.
struct CheckpointItem {
    std::string text;         ///< the item as written, blanks trimmed (quoted in errors and origins)
    bool sets_mode = false;   ///< it names modes, so the mode set of its text replaces the old one
    bool none = false, enabled = false, shutdown = false, periodic = false;
    std::string key;          ///< "interval", "every", "depth", "dir", "halt", "async", "async_busy", "cache",
                              ///< "flush", "partner", "compression", "incremental", or empty
    std::string value;        ///< the text after '='
};

/// What an unknown item is told to look like.
inline const char* checkpoint_items_expected() {
    return "items none, enabled, shutdown, periodic, interval=, every=, depth=, dir=, halt=, async[=], async_busy=, cache=, "
           "flush=, partner=, compression=, incremental= or the letters n, s, u, c, c=, w, w=, separated by commas";
}

/// Split and classify `checkpoint := item {"," item}` (docs/batch-contract.md section 3); values are parsed later.
inline std::vector<CheckpointItem> parse_checkpoint_items(const std::string& text, const std::string& option) {
    std::vector<CheckpointItem> items;
    for (const auto& piece : split(text, ',')) {
        CheckpointItem item;
        item.text = trim(piece);
        const std::string& t = item.text;
        if (t.empty()) reject(option, text, checkpoint_items_expected(), "remove the empty item");
        // Keys are split at the first '=', so a dir= value may itself contain '='.
        const std::size_t eq = t.find('=');
        const std::string word = trim(std::string_view(t).substr(0, eq));
        if (eq != std::string::npos) {
            item.value = trim(std::string_view(t).substr(eq + 1));
            // The legacy c=MIN / w=MIN mean "enabled,periodic,interval=MIN".
            item.key = word == "c" || word == "w" ? "interval" : word;
            item.sets_mode = item.enabled = item.periodic = word == "c" || word == "w";
            if (item.key != "interval" && item.key != "every" && item.key != "depth" && item.key != "dir" &&
                item.key != "halt" && item.key != "async" && item.key != "async_busy" && item.key != "cache" &&
                item.key != "flush" && item.key != "partner" && item.key != "compression" && item.key != "incremental")
                reject(option, t, checkpoint_items_expected());
        } else if (t == "async") {  // not a mode word: it keeps the mode set, as keys do
            item.key = "async";
            item.value = "1";
        } else if (t == "none" || t == "n") {
            item.sets_mode = item.none = true;
        } else if (t == "enabled") {
            item.sets_mode = item.enabled = true;
        } else if (t == "shutdown") {
            item.sets_mode = item.shutdown = true;
        } else if (t == "periodic") {
            item.sets_mode = item.periodic = true;
        } else if (t == "s" || t == "u") {  // u is "the default", which is enabled,shutdown
            item.sets_mode = item.enabled = item.shutdown = true;
        } else if (t == "c" || t == "w") {
            item.sets_mode = item.enabled = item.periodic = true;
        } else {
            reject(option, t, checkpoint_items_expected());
        }
        items.push_back(std::move(item));
    }
    return items;
}

/// The batch job's id: the first non-empty of SLURM_JOB_ID, PBS_JOBID, LSB_JOBID, CKPT_JOB_ID.
/// Outside a batch job it is "nojob", so `dir=/scratch/%j` still names one stable, visible
/// directory (an interactive test run and its `--restart latest` find each other) rather than
/// failing or collapsing to "/scratch/". A '/' in an id becomes '_' so it never names a subdirectory.
inline std::string job_id(const std::function<const char*(const char*)>& env) {
    for (const char* name : {"SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "CKPT_JOB_ID"}) {
        const char* value = env ? env(name) : nullptr;
        if (value == nullptr || *value == '\0') continue;
        std::string id = value;
        for (char& c : id)
            if (c == '/') c = '_';
        return id;
    }
    return "nojob";
}

/// Expand `%j` to the job id and `%%` to `%`; any other `%x` is kept as written.
inline std::string expand_job_id(const std::string& text, const std::function<const char*(const char*)>& env) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 1 < text.size() && (text[i + 1] == 'j' || text[i + 1] == '%')) {
            out += text[i + 1] == 'j' ? job_id(env) : "%";
            ++i;
        } else {
            out += text[i];
        }
    }
    return out;
}

}  // namespace ckpt::detail
