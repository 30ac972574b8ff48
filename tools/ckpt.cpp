// ckpt: look into checkpoint directories and ask running jobs for checkpoints (docs/batch-contract.md section 10,
// docs/command.md). Modelled on cr_checkpoint/cr_info, dmtcp_command, scr_index and scr_halt.
//
//   ckpt list DIR | info FILE|DIR | verify FILE|DIR | latest DIR | prune DIR --depth N | request DIR
//
// Text output is aligned for people; --json prints one JSON document for scripts. Errors are one
// line on stderr starting with "ckpt: ". Exit codes: 0 ok, 1 request failed or unanswered,
// 64 usage, 65 corrupt or incomplete, 66 missing, 70 misuse, 74 I/O.

#include "control_client.hpp"
#include "ckpt/detail/inspect.hpp"
#include "ckpt/detail/node_cache.hpp"
#include "ckpt/detail/parse.hpp"
#include "ckpt/detail/references.hpp"
#include "ckpt/error.hpp"
#include "ckpt/version.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace ctl = ckpt::detail::control;
namespace insp = ckpt::detail::inspect;
using ckpt::ConfigError;
using ckpt::ErrorInfo;

// The codes this file returns itself; the others come from ckpt::exit_code() (error.hpp).
constexpr int kOk = 0, kFailed = 1, kCorrupt = 65, kIo = 74;

// ---------------------------------------------------------------------------------------------
// Errors

/// A usage error (exit 64) that names the option and the value.
[[noreturn]] void usage_error(const std::string& sentence, const std::string& option = {},
                              const std::string& value = {}, const std::string& hint = "see ckpt --help") {
    ErrorInfo i;
    i.sentence = sentence;
    i.option = option;
    i.value = value;
    i.hint = hint;
    ckpt::detail::raise(ConfigError(std::move(i)));
}

/// "Nothing there" (exit 66): an IoError with ENOENT.
[[noreturn]] void missing(const std::string& sentence, const std::string& file, const std::string& hint = {}) {
    ErrorInfo i{sentence, file, "", -1, hint};
    i.errno_value = ENOENT;
    ckpt::detail::raise(ckpt::IoError(std::move(i)));
}

// ---------------------------------------------------------------------------------------------
// JSON output (RFC 8259): strings escaped, invalid UTF-8 replaced by U+FFFD so the document stays valid.

std::string jstr(std::string_view s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else if (c < 0x80) {
            out += static_cast<char>(c);
        } else {
            // Length of a well-formed UTF-8 sequence starting here, or 0.
            std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
            if (c >= 0xf5) n = 0;
            for (std::size_t k = 1; n && k < n; ++k)
                if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) n = 0;
            if (n == 0) {
                out += "\\ufffd";
                ++i;
                continue;
            }
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        ++i;
    }
    return out + "\"";
}
std::string jnum(std::int64_t v) { return std::to_string(v); }
std::string jnum(std::uint64_t v) { return std::to_string(v); }
std::string jnum(double v) {
    char buf[64];
    auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;  // shortest round trip, no locale
    return std::string(buf, end);
}
std::string jbool(bool b) { return b ? "true" : "false"; }
const std::string jnull = "null";

/// A JSON object built from already-encoded values, keys in insertion order.
class JObj {
public:
    JObj& add(const char* key, const std::string& encoded) {
        body_ += (body_.empty() ? "" : ",") + jstr(key) + ":" + encoded;
        return *this;
    }
    std::string str() const { return "{" + body_ + "}"; }

private:
    std::string body_;
};
std::string jarr(const std::vector<std::string>& encoded) {
    std::string s = "[";
    for (std::size_t i = 0; i < encoded.size(); ++i) s += (i ? "," : "") + encoded[i];
    return s + "]";
}
std::string jstrs(const std::vector<std::string>& values) {
    std::vector<std::string> e;
    for (const auto& v : values) e.push_back(jstr(v));
    return jarr(e);
}

// ---------------------------------------------------------------------------------------------
// Text output

std::string iso_time(std::int64_t seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    if (!::gmtime_r(&t, &tm)) return "-";
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string human_size(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::string seconds_text(double s) {
    char buf[64];
    auto end = std::to_chars(buf, buf + sizeof buf, s, std::chars_format::fixed, 3).ptr;
    return std::string(buf, end);
}

/// A word as a POSIX shell would need it quoted, so a printed argv can be pasted back.
std::string shell_quote(const std::string& w) {
    if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%_+=:,./-") ==
                          std::string::npos)
        return w;
    std::string out = "'";
    for (char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// Columns padded to their widest cell; numeric columns right-aligned, the last column unpadded.
class Table {
public:
    explicit Table(std::vector<std::string> header, std::string right = {}) : right_(std::move(right)) {
        rows_.push_back(std::move(header));
    }
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    void print(std::ostream& out, const std::string& indent = {}) const {
        std::vector<std::size_t> width;
        for (const auto& r : rows_)
            for (std::size_t i = 0; i < r.size(); ++i) {
                if (width.size() <= i) width.push_back(0);
                width[i] = std::max(width[i], r[i].size());
            }
        for (const auto& r : rows_) {
            std::string line = indent;
            for (std::size_t i = 0; i < r.size(); ++i) {
                const bool last = i + 1 == r.size();
                const std::string pad(width[i] - r[i].size(), ' ');
                const bool right = i < right_.size() && right_[i] == 'r';
                line += right ? pad + r[i] : (last ? r[i] : r[i] + pad);
                if (!last) line += "  ";
            }
            out << line << "\n";
        }
    }

private:
    std::string right_;  ///< per column: 'r' right-aligned, anything else left
    std::vector<std::vector<std::string>> rows_;
};

// ---------------------------------------------------------------------------------------------
// Command line

struct OptionSpec {
    const char* name;
    bool takes_value;
};

struct Command {
    const char* name;
    const char* synopsis;
    std::size_t min_positional, max_positional;
    std::vector<OptionSpec> options;
    const char* help;
};

const std::vector<Command>& commands() {
    // clang-format off
    static const std::vector<Command> table{
        {"list", "ckpt list DIR [--name NAME] [--cache CACHE] [--json]", 1, 1, {{"--name", true}, {"--cache", true}},
         "Every version in DIR: name, sequence, step, time (UTC), ranks, size, and whether it is\n"
         "complete, temporary (.tmp or .reserve: being written, or a failed write), quarantined\n"
         "(.bad: a restore found it corrupt; kept for inspection, never restored) or unreadable.\n"
         "With --cache, also the versions in the node cache CACHE (and its node<k> directories)\n"
         "and their levels: cached (every rank's part found), partnered (every part twice),\n"
         "flushed (complete in DIR)."},
        {"info", "ckpt info FILE|DIR [--name NAME] [--cache CACHE] [--json]", 1, 1, {{"--name", true}, {"--cache", true}},
         "What is inside a checkpoint: entries, types, distributions, shapes per rank (a block's\n"
         "global shape and boxes), codecs, rank count, library and schema version, argv and cwd;\n"
         "for a node cache file, which rank's part of how many it is.\n"
         "For a DIR, its newest complete readable version. With --cache (a DIR only), the newest\n"
         "version complete in DIR or in the node cache CACHE, as --restart latest would take it,\n"
         "and its levels (cached, partnered, flushed); a version in the caches only is shown\n"
         "through one of its parts."},
        {"verify", "ckpt verify FILE|DIR [--name NAME] [--json]", 1, 1, {{"--name", true}},
         "Recompute the checksum (xxh64, or position sum) of every rank's part of every entry\n"
         "and check completeness.\n"
         "For a DIR, every committed version (temporary files are listed as skipped).\n"
         "Exit 0 only if every checked file is valid, else 65; one line per problem."},
        {"latest", "ckpt latest DIR [--name NAME] [--json]", 1, 1, {{"--name", true}},
         "Print the path of the newest complete, readable checkpoint in DIR; exit 66 if none."},
        {"prune", "ckpt prune DIR --depth N [--name NAME] [--cache CACHE] [--dry-run] [--json]", 1, 1,
         {{"--depth", true}, {"--name", true}, {"--cache", true}, {"--dry-run", false}},
         "Keep the newest N complete versions of each name and delete older ones, and temporary\n"
         "files older than the newest complete version. Unreadable and quarantined versions are not\n"
         "counted; they are deleted once older than every version kept. Never deletes the newest\n"
         "complete version. With --cache, the node cache CACHE (and its node<k> directories) too:\n"
         "each keeps every part of its newest N versions, as the library's rotation does."},
        {"request", "ckpt request [DIR] [--pid PID | --pgid PGID | --session SID] [--exit] [--wait SECONDS]\n"
                    "                     [--signal SIG] [--to-dir D] [--to-name N] [--depth K] [--json]",
         0, 1,
         {{"--pid", true}, {"--pgid", true}, {"--session", true}, {"--exit", false}, {"--wait", true},
          {"--signal", true}, {"--to-dir", true}, {"--to-name", true}, {"--depth", true}},
         "Ask a running job for a checkpoint: write a request into DIR/.ckpt, send the signal\n"
         "(default $CKPT_SIGNAL, else USR1), wait up to --wait seconds (default 300, 0 = do not\n"
         "wait) for the answer. Exit 0 when the checkpoint was written; 1 when it failed, no answer\n"
         "came in time, or no live process uses DIR. Without DIR, the control directory is found\n"
         "from the processes given by --pid, --pgid or --session."},
    };
    // clang-format on
    return table;
}

struct Args {
    const Command* command = nullptr;
    std::vector<std::string> positional;
    std::map<std::string, std::string> values;
    std::set<std::string> flags;
    bool json = false;
    bool help = false;

    bool has(const std::string& option) const { return values.count(option) || flags.count(option); }
    std::optional<std::string> value(const std::string& option) const {
        auto it = values.find(option);
        return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
};

void print_general_help(std::ostream& out) {
    out << "usage: ckpt COMMAND [ARGS] [--json]\n\n"
           "Look into ckpt checkpoint directories and ask running jobs for checkpoints.\n\ncommands:\n";
    for (const auto& c : commands()) out << "  " << c.synopsis << "\n";
    out << "\n  ckpt COMMAND --help    details of one command\n"
           "  ckpt --version         the ckpt version\n\n"
           "exit codes: 0 ok, 1 request failed or unanswered, 64 usage error, 65 corrupt or incomplete\n"
           "checkpoint, 66 no such file or no checkpoint, 70 misuse, 74 I/O error.\n"
           "Reference: docs/command.md\n";
}

void print_command_help(const Command& c, std::ostream& out) {
    out << "usage: " << c.synopsis << "\n\n" << c.help << "\n\n--json prints one JSON document (docs/command.md).\n";
}

Args parse_args(int argc, char** argv) {
    Args a;
    if (argc < 2) usage_error("no command given: expected one of list, info, verify, latest, prune, request");
    const std::string name = argv[1];
    for (const auto& c : commands())
        if (name == c.name) a.command = &c;
    if (!a.command)
        usage_error("unknown command \"" + name + "\": expected one of list, info, verify, latest, prune, request",
                    "COMMAND", name);
    bool options_done = false;
    for (int i = 2; i < argc; ++i) {
        std::string arg = argv[i];
        if (options_done || arg.size() < 2 || arg[0] != '-') {
            a.positional.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            continue;
        }
        if (arg == "-h" || arg == "--help") {
            a.help = true;
            continue;
        }
        std::string value;
        bool inline_value = false;
        if (const auto eq = arg.find('='); eq != std::string::npos && arg.compare(0, 2, "--") == 0) {
            value = arg.substr(eq + 1);
            arg.resize(eq);
            inline_value = true;
        }
        if (arg == "--json") {
            if (inline_value) usage_error("option --json takes no value (got \"" + value + "\")", "--json", value);
            a.json = true;
            continue;
        }
        const OptionSpec* spec = nullptr;
        for (const auto& o : a.command->options)
            if (arg == o.name) spec = &o;
        if (!spec)
            usage_error("unknown option \"" + arg + "\" for ckpt " + a.command->name, arg, inline_value ? value : "",
                        std::string("usage: ") + a.command->synopsis);
        if (a.has(arg)) usage_error("option " + arg + " is given twice", arg, inline_value ? value : "");
        if (!spec->takes_value) {
            if (inline_value) usage_error("option " + arg + " takes no value (got \"" + value + "\")", arg, value);
            a.flags.insert(arg);
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= argc) ckpt::detail::raise(ConfigError::missing_value(arg));
            value = argv[++i];
        }
        a.values[arg] = value;
    }
    if (a.help) return a;
    if (a.positional.size() < a.command->min_positional)
        usage_error(std::string("ckpt ") + a.command->name + " needs " +
                        (a.command->min_positional == 1 && std::string(a.command->name) != "info" &&
                                 std::string(a.command->name) != "verify"
                             ? "a directory"
                             : "a file or directory"),
                    "", "", std::string("usage: ") + a.command->synopsis);
    if (a.positional.size() > a.command->max_positional)
        usage_error("unexpected argument \"" + a.positional.back() + "\" for ckpt " + a.command->name, "",
                    a.positional.back(), std::string("usage: ") + a.command->synopsis);
    return a;
}

/// --name: a file name prefix as the library accepts it.
std::string name_option(const Args& a) {
    auto v = a.value("--name");
    if (!v) return {};
    if (!ckpt::detail::version_prefix_problem(*v).empty())
        ckpt::detail::reject("--name", *v, ckpt::detail::version_prefix_rule());
    return *v;
}

std::uint64_t uint_option(const Args& a, const std::string& option, std::uint64_t max, const std::string& expected) {
    const std::string v = *a.value(option);
    const auto n = ckpt::detail::to_uint(v, max);
    if (!n) ckpt::detail::reject(option, v, expected);
    return *n;
}

bool is_directory(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        const int err = errno;
        ckpt::detail::raise(ckpt::detail::posix_error("opening", path, err));
    }
    return S_ISDIR(st.st_mode);
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

/// "complete", "temporary", "quarantined" or "unreadable" (anything committed that is not complete).
std::string status_of(const insp::FileInfo& f) {
    if (f.complete) return "complete";
    if (f.listed.quarantined) return "quarantined";
    if (f.readable && f.listed.temporary && f.problem.rfind("temporary", 0) == 0) return "temporary";
    return "unreadable";
}

std::string shape_text(const std::vector<std::uint64_t>& extents) {
    if (extents.empty()) return "scalar";
    std::string s;
    for (std::size_t i = 0; i < extents.size(); ++i) s += (i ? "x" : "") + std::to_string(extents[i]);
    return s;
}

/// Shapes per rank, condensed: "16x32 (each of 2 ranks)" or "r0 16x32, r1 15x32, ..."; a block
/// leaf's global shape and boxes, "37x23 global: r0 [0:19, 0:12], r1 [0:19, 12:23], ..."; a
/// concatenated leaf's total and counts, "13 in all: r0 3, r1 0, ..."; a replicated leaf's one
/// value, "3 (one copy)".
std::string shapes_text(const insp::EntryInfo& e) {
    using ckpt::detail::Spread;
    if (e.group) return "-";
    if (e.parts.empty()) return "?";
    if (e.spread == Spread::Replicated) return shape_text(e.parts.front().extents) + " (one copy)";
    if (e.spread == Spread::Block || e.spread == Spread::Concatenated) {
        const bool block = e.spread == Spread::Block;
        std::string s = block ? shape_text(e.shape) + " global:" : std::to_string(e.elements) + " in all:";
        for (std::size_t r = 0; r < e.parts.size() && r < 4; ++r)
            s += (r ? ", r" : " r") + std::to_string(r) + " " +
                 (block ? e.parts[r].box().text() : std::to_string(e.parts[r].count));
        if (e.parts.size() > 4) s += ", ... (" + std::to_string(e.parts.size()) + " ranks)";
        return s;
    }
    bool same = true;
    for (const auto& p : e.parts) same = same && p.extents == e.parts.front().extents;
    if (same) return shape_text(e.parts.front().extents) + " (each of " + std::to_string(e.parts.size()) + " ranks)";
    std::string s;
    for (std::size_t r = 0; r < e.parts.size() && r < 4; ++r)
        s += (r ? ", r" : "r") + std::to_string(r) + " " + shape_text(e.parts[r].extents);
    if (e.parts.size() > 4) s += ", ... (" + std::to_string(e.parts.size()) + " ranks)";
    return s;
}

std::string entry_json(const insp::EntryInfo& e) {
    auto numbers = [](const std::vector<std::uint64_t>& values) {
        std::vector<std::string> out;
        for (auto x : values) out.push_back(jnum(x));
        return jarr(out);
    };
    const bool block = e.spread == ckpt::detail::Spread::Block;
    std::vector<std::string> ranks;
    for (std::size_t r = 0; r < e.parts.size(); ++r) {
        const auto& p = e.parts[r];
        JObj row;
        row.add("rank", jnum(static_cast<std::uint64_t>(r)))
            .add("offset", jnum(p.offset))
            .add("count", jnum(p.count))
            .add("extents", numbers(p.extents));
        if (block) row.add("origin", numbers(p.origin));
        // The checksum column: the xxh64 of the part's bytes, or a position sum (file-format.md).
        row.add(ckpt::detail::has_position_sum(e.spread) ? "position_sum" : "xxh64",
                jstr(ckpt::detail::checksum_hex(p.checksum)));
        ranks.push_back(row.str());
    }
    JObj o;
    o.add("name", jstr(e.name)).add("kind", jstr(e.group ? "group" : "dataset")).add("codec", jstr(e.codec));
    o.add("type", jstr(e.type)).add("distribution", jstr(ckpt::detail::spread_name(e.spread)));
    if (!e.group) {
        o.add("element", jstr(e.element)).add("ndims", jnum(e.ndims)).add("dataset_shape", numbers(e.shape));
        o.add("elements", jnum(e.elements));
        o.add("bytes", jnum(e.bytes)).add("file_offset", e.file_offset ? jnum(*e.file_offset) : jnull);
        o.add("compression", e.compression.empty() ? jnull : jstr(e.compression)).add("stored_bytes", jnum(e.stored_bytes));
        o.add("stored_in", e.stored_in.empty() ? jnull : jstr(e.stored_in));
        o.add("ranks", jarr(ranks));
    }
    o.add("problem", e.problem.empty() ? jnull : jstr(e.problem));
    return o.str();
}

/// " (lz4: 41234 stored, 3.9x smaller)" after a compressed entry's raw bytes, " (in
/// ckpt.000003.h5)" after an incremental version's unchanged one; "" for others.
std::string stored_text(const insp::EntryInfo& e) {
    const std::string in = e.stored_in.empty() ? "" : " (in " + e.stored_in + ")";
    if (e.compression.empty()) return in;
    char ratio[32] = "-";
    if (e.stored_bytes > 0) std::snprintf(ratio, sizeof ratio, "%.2fx", static_cast<double>(e.bytes) / static_cast<double>(e.stored_bytes));
    return " (" + e.compression + ": " + std::to_string(e.stored_bytes) + " stored, " + ratio + ")" + in;
}

/// The metadata of one file as JSON members (shared by list and info).
JObj file_json(const insp::FileInfo& f) {
    JObj o;
    o.add("path", jstr(f.path)).add("file", jstr(f.listed.file)).add("name", jstr(f.listed.name));
    o.add("status", jstr(status_of(f))).add("complete", jbool(f.complete)).add("temporary", jbool(f.listed.temporary));
    o.add("readable", jbool(f.readable)).add("size", jnum(f.listed.size));
    if (f.readable) {
        o.add("sequence", jnum(f.sequence)).add("step", jnum(f.step)).add("time", jnum(f.time));
        o.add("time_iso", jstr(iso_time(f.time))).add("ranks", jnum(f.ranks));
        o.add("format_version", jnum(f.format_version)).add("library_version", jstr(f.library_version));
    } else {
        o.add("sequence", f.version_name ? jnum(f.listed.sequence) : jnull).add("step", jnull).add("time", jnull);
        o.add("time_iso", jnull).add("ranks", jnull).add("format_version", jnull).add("library_version", jnull);
    }
    o.add("problem", f.complete ? jnull : jstr(f.problem));
    return o;
}

/// Files examined newest first until a complete one; the ones skipped on the way are returned too.
std::optional<insp::FileInfo> newest_complete(const std::string& dir, const std::string& name,
                                              std::vector<insp::FileInfo>* skipped) {
    for (const auto& l : insp::newest_first(insp::scan(dir, name))) {
        if (l.temporary || l.quarantined) continue;
        insp::FileInfo f = insp::examine(l.path);
        if (f.complete) return f;
        if (skipped) skipped->push_back(std::move(f));
    }
    return std::nullopt;
}

[[noreturn]] void no_complete(const std::string& dir, const std::string& name,
                              const std::vector<insp::FileInfo>& skipped) {
    std::string sentence =
        "no complete readable checkpoint" + (name.empty() ? "" : " \"" + name + ".*.h5\"") + " in the directory";
    if (!skipped.empty()) {
        sentence += " (unreadable: ";
        for (std::size_t i = 0; i < skipped.size(); ++i) sentence += (i ? ", " : "") + skipped[i].listed.file;
        sentence += ")";
    }
    missing(sentence, dir);
}

// ---------------------------------------------------------------------------------------------
// Commands

/// One version's parts in a node cache, over all its directories.
struct CachedVersion {
    std::uint64_t sequence = 0;
    std::int64_t parts = 0;              ///< ckpt.parts of its files (0: none readable)
    std::map<int, int> copies;           ///< rank -> committed files of its part
    std::vector<std::string> levels;     ///< cached, partnered, flushed
    std::string missing;                 ///< the first rank whose part is nowhere, if any
    std::string file;                    ///< one committed part file (the lowest rank's found first)
};

/// Throws IoError unless `cache` is a directory (66 if absent).
void check_cache(const std::string& cache) {
    struct stat st {};
    const int err = ::stat(cache.c_str(), &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (err != 0) ckpt::detail::raise(ckpt::detail::posix_error("opening the node cache", cache, err, "check --cache"));
}

/// The versions of `name` in the cache `cache`, oldest first; `flushed(seq)` says whether the
/// shared directory holds a complete copy.
template <class Flushed>
std::vector<CachedVersion> scan_cache(const std::string& cache, const std::string& name, Flushed&& flushed) {
    check_cache(cache);
    std::map<std::uint64_t, CachedVersion> by;
    std::map<std::uint64_t, int> lowest;  // the rank of each version's `file`
    for (const auto& dir : ckpt::detail::cache_directories(cache))
        for (const auto& p : ckpt::detail::list_cached_parts(dir, name)) {
            if (!p.version.committed()) continue;
            CachedVersion& v = by[p.version.sequence];
            v.sequence = p.version.sequence;
            ++v.copies[p.rank];
            if (v.file.empty() || p.rank < lowest[p.version.sequence]) {
                v.file = p.version.path;
                lowest[p.version.sequence] = p.rank;
            }
        }
    std::vector<CachedVersion> out;
    for (auto& [seq, v] : by) {
        ckpt::detail::h5::Silence quiet;
        try {
            ckpt::detail::h5::File file(v.file, MPI_COMM_SELF, ckpt::detail::h5::Access::Read);
            if (file.has_attribute("/", "ckpt.parts")) v.parts = file.read_int_attribute("/", "ckpt.parts");
        } catch (const ckpt::Error&) {
        }
        int fewest = v.parts > 0 ? INT_MAX : 0;
        for (int r = 0; r < v.parts; ++r) {
            const auto it = v.copies.find(r);
            const int n = it == v.copies.end() ? 0 : it->second;
            if (n == 0 && v.missing.empty()) v.missing = std::to_string(r);
            fewest = std::min(fewest, n);
        }
        if (fewest >= 1) v.levels.push_back("cached");
        if (fewest >= 2) v.levels.push_back("partnered");
        if (flushed(seq)) v.levels.push_back("flushed");
        out.push_back(std::move(v));
    }
    return out;
}

std::string join_words(const std::vector<std::string>& words) {
    std::string s;
    for (const auto& w : words) s += (s.empty() ? "" : ",") + w;
    return s;
}

/// The name prefix of cached parts: --name, else the library's default.
std::string cache_name(const Args& a) {
    const std::string name = name_option(a);
    return name.empty() ? "ckpt" : name;
}

/// Whether the shared directory's listing holds a complete version `seq` of the cache's name.
auto flushed_in(const std::vector<insp::FileInfo>& infos, const std::string& name) {
    return [&infos, name](std::uint64_t seq) {
        for (const auto& f : infos)
            if (f.complete && f.listed.sequence == seq && f.listed.name == name) return true;
        return false;
    };
}

int cmd_list(const Args& a) {
    const std::string dir = a.positional[0], name = name_option(a);
    const auto files = insp::scan(dir, name);
    std::vector<insp::FileInfo> infos;
    for (const auto& l : files) {
        if (l.temporary) {  // never opened: it may be being written right now
            insp::FileInfo f;
            f.path = l.path;
            f.listed = l;
            f.version_name = true;
            f.problem = "temporary file: not committed";
            infos.push_back(std::move(f));
        } else {
            infos.push_back(insp::examine(l.path));
        }
    }
    if (a.json) {
        std::vector<std::string> versions;
        for (const auto& f : infos) {
            JObj o = file_json(f);
            if (f.listed.temporary) {  // not opened, so status is by name only
                o = JObj();
                o.add("path", jstr(f.path)).add("file", jstr(f.listed.file)).add("name", jstr(f.listed.name));
                o.add("status", jstr("temporary")).add("complete", jbool(false)).add("temporary", jbool(true));
                o.add("readable", jnull).add("size", jnum(f.listed.size)).add("sequence", jnum(f.listed.sequence));
                o.add("step", jnull).add("time", jnull).add("time_iso", jnull).add("ranks", jnull);
                o.add("format_version", jnull).add("library_version", jnull).add("problem", jstr(f.problem));
            }
            versions.push_back(o.str());
        }
        JObj doc;
        doc.add("directory", jstr(dir)).add("versions", jarr(versions));
        if (const auto cache = a.value("--cache")) {
            std::vector<std::string> cached;
            for (const auto& v : scan_cache(*cache, cache_name(a), flushed_in(infos, cache_name(a)))) {
                cached.push_back(JObj()
                                     .add("sequence", jnum(v.sequence))
                                     .add("parts", jnum(v.parts))
                                     .add("found", jnum(v.copies.size()))
                                     .add("levels", jstrs(v.levels))
                                     .str());
            }
            doc.add("cache", JObj().add("directory", jstr(*cache)).add("versions", jarr(cached)).str());
        }
        std::cout << doc.str() << "\n";
        return kOk;
    }
    if (infos.empty()) {
        std::cout << "no checkpoint files" << (name.empty() ? "" : " named \"" + name + ".*.h5\"") << " in " << dir
                  << "\n";
        return kOk;
    }
    Table t({"NAME", "SEQ", "STEP", "TIME", "RANKS", "SIZE", "STATUS", "FILE"}, " rr rr");
    for (const auto& f : infos) {
        const std::string status = f.listed.temporary ? "temporary" : status_of(f);
        std::string file = f.listed.file;
        if (status == "unreadable" || status == "quarantined") file += ": " + f.problem;
        t.add({f.listed.name, std::to_string(f.listed.sequence), f.readable ? std::to_string(f.step) : "-",
               f.readable ? iso_time(f.time) : "-", f.readable ? std::to_string(f.ranks) : "-",
               human_size(f.listed.size), status, file});
    }
    t.print(std::cout);
    if (const auto cache = a.value("--cache")) {
        const auto cached = scan_cache(*cache, cache_name(a), flushed_in(infos, cache_name(a)));
        std::cout << "\nnode cache " << *cache << ":\n";
        if (cached.empty()) {
            std::cout << "no cached parts named \"" << cache_name(a) << ".*.rank*.h5\"\n";
            return kOk;
        }
        Table c({"NAME", "SEQ", "PARTS", "LEVELS"}, " r");
        for (const auto& v : cached) {
            std::string parts = std::to_string(v.copies.size()) + " of " + (v.parts ? std::to_string(v.parts) : "?");
            std::string levels = v.levels.empty() ? "incomplete" : join_words(v.levels);
            if (!v.missing.empty()) levels += " (rank " + v.missing + "'s part is in no cache)";
            c.add({cache_name(a), std::to_string(v.sequence), parts, levels});
        }
        c.print(std::cout);
    }
    return kOk;
}

int cmd_info(const Args& a) {
    const std::string target = a.positional[0], name = name_option(a);
    insp::FileInfo f;
    std::optional<std::vector<std::string>> levels;  // with --cache
    if (is_directory(target)) {
        std::vector<insp::FileInfo> skipped;
        auto found = newest_complete(target, name, &skipped);
        if (const auto cache = a.value("--cache")) {
            // As --restart latest: the newest version complete at some level.
            const auto cached = scan_cache(*cache, cache_name(a), [&](std::uint64_t seq) {
                const std::string shared =
                    ckpt::detail::join_path(target, ckpt::detail::version_file_name(cache_name(a), seq));
                return ::access(shared.c_str(), F_OK) == 0 && insp::examine(shared).complete;
            });
            const CachedVersion* newest = nullptr;
            for (const auto& v : cached)
                if (!v.levels.empty() && v.levels.front() == "cached") newest = &v;
            const auto seq = found ? static_cast<std::uint64_t>(found->sequence) : 0;
            if (newest && (!found || newest->sequence > seq)) {
                found = insp::examine(newest->file);
                levels = newest->levels;
            } else if (found) {
                levels = std::vector<std::string>{};
                for (const auto& v : cached)
                    if (v.sequence == seq) levels = v.levels;
                if (levels->empty() || levels->back() != "flushed") levels->push_back("flushed");
            }
        }
        if (!found) no_complete(target, name, skipped);
        f = std::move(*found);
    } else {
        for (const char* dir_only : {"--name", "--cache"})
            if (a.has(dir_only))
                usage_error(std::string(dir_only) + " applies to a directory, not to the file \"" + target + "\"",
                            dir_only, *a.value(dir_only));
        f = insp::examine(target);
    }
    const std::string id = f.version_id ? ckpt::detail::checksum_hex(*f.version_id) : std::string();
    const std::string status = status_of(f);
    if (a.json) {
        std::vector<std::string> entries;
        for (const auto& e : f.entries) entries.push_back(entry_json(e));
        JObj o = file_json(f);
        o.add("argv", jstrs(f.argv)).add("cwd", f.readable ? jstr(f.cwd) : jnull);
        o.add("schema_version", f.schema_version ? jnum(*f.schema_version) : jnull);
        o.add("version_id", id.empty() ? jnull : jstr(id));
        o.add("references", jstrs(f.references));
        o.add("part", f.part >= 0 ? jnum(f.part) : jnull).add("parts", f.part >= 0 ? jnum(f.parts) : jnull);
        if (levels) o.add("levels", jstrs(*levels));
        o.add("entries", jarr(entries));
        std::cout << o.str() << "\n";
    } else {
        Table head({"path", f.path});
        head.add({"status", status + (f.complete || status == "temporary" ? "" : ": " + f.problem)});
        if (f.readable) {
            std::string argv;
            for (const auto& w : f.argv) argv += (argv.empty() ? "" : " ") + shell_quote(w);
            head.add({"name", f.listed.name.empty() ? "-" : f.listed.name});
            head.add({"sequence", std::to_string(f.sequence)});
            head.add({"step", f.step < 0 ? "- (not taken at poll(step))" : std::to_string(f.step)});
            head.add({"time", iso_time(f.time) + " (" + std::to_string(f.time) + ")"});
            head.add({"ranks", std::to_string(f.ranks)});
            if (f.part >= 0)
                head.add({"part", "rank " + std::to_string(f.part) + " of " + std::to_string(f.parts) +
                                      " (a node cache file: the other ranks' parts are in their nodes' caches)"});
            if (!id.empty()) head.add({"version id", id + " (the same in every part and copy of one write)"});
            if (!f.references.empty())
                head.add({"refers to", join_words(f.references) + " (incremental: its unchanged entries are read from there)"});
            if (levels) head.add({"levels", join_words(*levels)});
            head.add({"size", human_size(f.listed.size) + " (" + std::to_string(f.listed.size) + " bytes)"});
            head.add({"format", std::to_string(f.format_version) + ", written by ckpt " + f.library_version});
            if (f.schema_version)
                head.add({"schema", std::to_string(*f.schema_version) + " (the application's schema_version)"});
            head.add({"argv", argv.empty() ? "-" : argv});
            head.add({"cwd", f.cwd.empty() ? "-" : f.cwd});
        }
        head.print(std::cout);
        if (f.readable) {
            std::cout << "\n";
            Table t({"ENTRY", "CODEC", "TYPE", "ELEMENT", "DISTRIBUTION", "SHAPE PER RANK", "BYTES"}, "      r");
            for (const auto& e : f.entries)
                t.add({e.name, e.codec, e.type, e.group ? "-" : e.element, ckpt::detail::spread_name(e.spread),
                       shapes_text(e),
                       e.group ? "-" : std::to_string(e.bytes) + stored_text(e) + (e.problem.empty() ? "" : "  PROBLEM: " + e.problem)});
            t.print(std::cout);
        }
    }
    if (status == "unreadable") {
        std::cerr << "ckpt: checkpoint is not usable: " << f.problem << ". [file \"" << f.path << "\"]\n";
        return kCorrupt;
    }
    return kOk;
}

int cmd_verify(const Args& a) {
    const std::string target = a.positional[0], name = name_option(a);
    std::vector<std::string> paths, skipped;
    if (is_directory(target)) {
        for (const auto& l : insp::scan(target, name)) (l.temporary ? skipped : paths).push_back(l.path);
        if (paths.empty())
            missing("no committed checkpoint" + (name.empty() ? "" : " \"" + name + ".*.h5\"") +
                        " to verify in the directory",
                    target);
    } else {
        if (a.has("--name"))
            usage_error("--name applies to a directory, not to the file \"" + target + "\"", "--name",
                        *a.value("--name"));
        paths.push_back(target);
    }
    bool all_ok = true;
    std::vector<std::string> file_docs;
    std::size_t good = 0;
    for (const auto& p : paths) {
        insp::FileInfo f = insp::examine(p);
        insp::VerifyStats stats;
        const auto problems = insp::verify(f, &stats);
        all_ok = all_ok && problems.empty();
        good += problems.empty();
        if (a.json) {
            std::vector<std::string> probs;
            for (const auto& q : problems)
                probs.push_back(JObj()
                                    .add("entry", q.entry.empty() ? jnull : jstr(q.entry))
                                    .add("rank", q.rank < 0 ? jnull : jnum(static_cast<std::int64_t>(q.rank)))
                                    .add("problem", jstr(q.what))
                                    .str());
            file_docs.push_back(JObj()
                                    .add("path", jstr(p))
                                    .add("status", jstr(status_of(f)))
                                    .add("ok", jbool(problems.empty()))
                                    .add("parts", jnum(stats.parts))
                                    .add("bytes", jnum(stats.bytes))
                                    .add("problems", jarr(probs))
                                    .str());
            continue;
        }
        if (problems.empty()) {
            std::size_t leaves = 0;
            for (const auto& e : f.entries) leaves += !e.group;
            std::cout << "ok    " << p << ": " << leaves << " datasets, " << stats.parts << " rank parts, "
                      << stats.bytes << " bytes checked\n";
        }
        for (const auto& q : problems) {
            std::cout << "FAIL  " << p;
            if (!q.entry.empty()) std::cout << ": entry \"" << q.entry << "\"";
            if (q.rank >= 0) std::cout << ", rank " << q.rank;
            std::cout << ": " << q.what << "\n";
        }
    }
    if (a.json) {
        std::vector<std::string> skips;
        for (const auto& s : skipped)
            skips.push_back(JObj().add("path", jstr(s)).add("reason", jstr("temporary file: not committed")).str());
        std::cout << JObj().add("ok", jbool(all_ok)).add("files", jarr(file_docs)).add("skipped", jarr(skips)).str()
                  << "\n";
    } else {
        for (const auto& s : skipped) std::cout << "skip  " << s << ": temporary file, not committed\n";
        std::cout << "verified " << paths.size() << (paths.size() == 1 ? " file: " : " files: ") << good << " valid, "
                  << paths.size() - good << " invalid\n";
    }
    return all_ok ? kOk : kCorrupt;
}

int cmd_latest(const Args& a) {
    const std::string dir = a.positional[0], name = name_option(a);
    std::vector<insp::FileInfo> skipped;
    auto found = newest_complete(dir, name, &skipped);
    for (const auto& s : skipped) std::cerr << "ckpt: warning: skipping " << s.path << ": " << s.problem << "\n";
    if (a.json) {
        std::vector<std::string> skips;
        for (const auto& s : skipped)
            skips.push_back(JObj().add("path", jstr(s.path)).add("problem", jstr(s.problem)).str());
        JObj o;
        o.add("path", found ? jstr(found->path) : jnull);
        o.add("name", found ? jstr(found->listed.name) : jnull);
        o.add("sequence", found ? jnum(found->sequence) : jnull);
        o.add("step", found ? jnum(found->step) : jnull);
        o.add("skipped", jarr(skips));
        std::cout << o.str() << "\n";
    }
    if (!found) no_complete(dir, name, skipped);
    if (!a.json) std::cout << found->path << "\n";
    return kOk;
}

int cmd_prune(const Args& a) {
    const std::string dir = a.positional[0], name = name_option(a);
    if (!a.has("--depth"))
        usage_error("ckpt prune needs --depth N (the number of complete versions to keep)", "--depth", "");
    const auto depth = uint_option(a, "--depth", UINT_MAX, "a number of complete versions to keep, at least 1");
    if (depth == 0)
        ckpt::detail::reject("--depth", "0", "a number of complete versions to keep, at least 1",
                             "--depth 0 would keep every version (as CKPT_DEPTH=0 does), so there is nothing to prune");
    const bool dry = a.has("--dry-run");

    struct Action {
        std::string path, action, reason;
    };
    std::vector<Action> actions;
    std::map<std::string, std::vector<ckpt::detail::Version>> by_name;
    for (auto& l : insp::scan(dir, name)) {
        ckpt::detail::Version v;
        v.sequence = l.sequence;
        v.path = l.path;
        v.temporary = l.temporary;
        v.quarantined = l.quarantined;
        by_name[l.name].push_back(v);
    }
    for (auto& [prefix, versions] : by_name) {
        // Only complete versions count, so a corrupt newest file never costs a good older one.
        // A file is examined only where its fate depends on it: among the newest `depth`.
        std::map<std::string, std::string> unreadable;
        unsigned examined_good = 0;
        auto good = [&](const ckpt::detail::Version& v) {
            if (examined_good >= depth) return true;  // beyond the kept range: deleted either way
            const insp::FileInfo f = insp::examine(v.path);
            if (!f.complete) unreadable[v.path] = f.problem;
            examined_good += f.complete;
            return f.complete;
        };
        // Every version a kept one refers to (an incremental version's older files) is kept.
        ckpt::detail::References references;
        ckpt::detail::add_references(references, versions, prefix);
        for (const auto& r : ckpt::detail::plan_retention(versions, depth, good, references)) {
            auto bad = unreadable.find(r.version->path);
            actions.push_back({r.version->path, r.keep ? "keep" : "delete",
                               r.reason + (bad == unreadable.end() ? "" : ": " + bad->second)});
        }
    }
    if (const auto cache = a.value("--cache")) {
        check_cache(*cache);
        // Each directory as the library's rotation treats it after its newest committed version.
        for (const auto& d : ckpt::detail::cache_directories(*cache)) {
            const auto parts = ckpt::detail::list_cached_parts(d, cache_name(a));
            std::uint64_t newest = 0;
            for (const auto& p : parts)
                if (p.version.committed()) newest = std::max(newest, p.version.sequence);
            const auto keep = ckpt::detail::plan_cache_retention(parts, static_cast<unsigned>(depth), newest);
            for (std::size_t i = 0; i < parts.size(); ++i) {
                const auto& v = parts[i].version;
                const std::string reason = keep[i] ? (v.temporary ? "cached temporary, newer than the newest cached version"
                                                                  : "cached, among the newest " + std::to_string(depth))
                                                   : (v.temporary ? "cached temporary, older than the newest cached version"
                                                                  : "cached, older than the newest " + std::to_string(depth));
                actions.push_back({v.path, keep[i] ? "keep" : "delete", reason});
            }
        }
    }
    std::vector<std::string> failed;
    for (auto& act : actions) {
        if (act.action != "delete" || dry) continue;
        if (::unlink(act.path.c_str()) != 0 && errno != ENOENT) {
            const int err = errno;
            failed.push_back(act.path + ": " + std::strerror(err));
            act.action = "failed";
        }
    }
    if (a.json) {
        std::vector<std::string> del, keep, fail;
        for (const auto& act : actions) {
            const std::string doc = JObj().add("path", jstr(act.path)).add("reason", jstr(act.reason)).str();
            (act.action == "delete" ? del : act.action == "keep" ? keep : fail).push_back(doc);
        }
        std::cout << JObj()
                         .add("directory", jstr(dir))
                         .add("depth", jnum(depth))
                         .add("dry_run", jbool(dry))
                         .add("deleted", jarr(del))
                         .add("kept", jarr(keep))
                         .add("failed", jarr(fail))
                         .str()
                  << "\n";
    } else {
        Table t({"ACTION", "FILE", "WHY"});
        for (const auto& act : actions)
            t.add({act.action == "delete" ? (dry ? "would delete" : "deleted")
                   : act.action == "keep" ? "kept"
                                          : "FAILED",
                   act.path, act.reason});
        if (actions.empty())
            std::cout << "no checkpoint files" << (name.empty() ? "" : " named \"" + name + ".*.h5\"") << " in " << dir
                      << "\n";
        else
            t.print(std::cout);
    }
    for (const auto& f : failed) std::cerr << "ckpt: could not delete " << f << "\n";
    return failed.empty() ? kOk : kIo;
}

// ---- request

bool process_exists(long pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

/// Same directory, whatever the spelling (the kernel's path from /proc vs. what the user typed).
bool same_directory(const std::string& a, const std::string& b) {
    struct stat x {
    }, y{};
    return ::stat(a.c_str(), &x) == 0 && ::stat(b.c_str(), &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

std::string join_pids(const std::vector<long>& pids) {
    std::string s;
    for (std::size_t i = 0; i < pids.size(); ++i) s += (i ? ", " : "") + std::to_string(pids[i]);
    return s;
}

int cmd_request(const Args& a) {
    using ckpt::detail::reject;
    const int selectors = a.has("--pid") + a.has("--pgid") + a.has("--session");
    if (selectors > 1) usage_error("give at most one of --pid, --pgid and --session", "--pid", "");
    if (a.positional.empty() && selectors == 0)
        usage_error("ckpt request needs DIR, or --pid, --pgid or --session to find the job by", "", "",
                    "usage: ckpt request DIR [options], or ckpt request --pid PID [options]");

    // Validate every option before touching anything.
    ctl::Request req;
    req.id = ctl::new_request_id();
    req.exit = a.has("--exit");
    if (auto d = a.value("--to-dir")) {
        if (d->empty()) reject("--to-dir", *d, "a directory");
        req.dir = std::filesystem::absolute(*d).lexically_normal().string();
        if (req.dir.size() > 1 && req.dir.back() == '/') req.dir.pop_back();
    }
    if (auto n = a.value("--to-name")) {
        if (!ckpt::detail::version_prefix_problem(*n).empty())
            reject("--to-name", *n, ckpt::detail::version_prefix_rule());
        req.name = *n;
    }
    if (a.has("--depth"))
        req.depth = static_cast<unsigned>(
            uint_option(a, "--depth", UINT_MAX, "an unsigned number of versions to keep (0 = all)"));
    double wait = 300;
    if (auto w = a.value("--wait"))
        wait = ckpt::detail::parse_duration(*w, ckpt::detail::BareUnit::Seconds, "--wait", *w).value.count();
    int sig = SIGUSR1;
    if (auto s = a.value("--signal")) {
        sig = ckpt::detail::parse_signal(*s, "--signal", *s);
    } else if (const char* env = std::getenv("CKPT_SIGNAL"); env && *env) {
        sig = ckpt::detail::parse_signal(env, "CKPT_SIGNAL", env);
    }
    auto id_option = [&](const char* option) {
        return static_cast<long>(uint_option(a, option, INT_MAX, "a positive process id"));
    };
    long selector_id = 0;
    for (const char* o : {"--pid", "--pgid", "--session"})
        if (a.has(o) && (selector_id = id_option(o)) == 0) reject(o, "0", "a positive process id");

    // Which processes, and which control directory.
    std::string control;
    if (!a.positional.empty()) {
        const std::string dir = a.positional[0];
        if (!is_directory(dir)) missing("not a directory", dir);
        control = ctl::directory(dir);
    }
    std::vector<long> targets;
    const long self = static_cast<long>(::getpid());
    if (selectors) {
        const char* which = a.has("--pid") ? "--pid" : a.has("--pgid") ? "--pgid" : "--session";
        std::vector<long> members, holders;
        std::map<std::string, std::vector<long>> dirs;  // control dir -> processes holding it
        if (a.has("--pid")) {
            if (!process_exists(selector_id)) {
                std::cerr << "ckpt: no process " << selector_id << " (--pid)\n";
                return kFailed;
            }
            members = ctl::with_descendants(selector_id);  // a launcher's ranks are its descendants
        } else {
            members = a.has("--pgid") ? ctl::group_members(selector_id) : ctl::session_members(selector_id);
            members.erase(std::remove(members.begin(), members.end(), self), members.end());
            if (members.empty()) {
                std::cerr << "ckpt: no process in " << (a.has("--pgid") ? "process group " : "session ") << selector_id
                          << " (" << which << ")\n";
                return kFailed;
            }
            // Launchers (MPICH hydra) start each rank in a session of its own: follow the children.
            members = ctl::with_descendants(members);
            members.erase(std::remove(members.begin(), members.end(), self), members.end());
        }
        for (long p : members)
            for (const auto& d : ctl::control_dirs_of(p)) {
                auto it =
                    std::find_if(dirs.begin(), dirs.end(), [&](const auto& kv) { return same_directory(kv.first, d); });
                (it == dirs.end() ? dirs[d] : it->second).push_back(p);
            }
        if (control.empty()) {
            if (dirs.empty())
                missing("no ckpt control directory is open in " + std::string(which) + " " +
                            std::to_string(selector_id) + " (processes " + join_pids(members) + ")",
                        "", "is it a ckpt job, and yours? Or give the checkpoint DIR");
            if (dirs.size() > 1) {
                std::string list;
                for (const auto& kv : dirs) list += (list.empty() ? "" : ", ") + kv.first;
                usage_error("the processes of " + std::string(which) + " " + std::to_string(selector_id) +
                                " use several control directories: " + list,
                            which, std::to_string(selector_id), "give the checkpoint DIR to choose one");
            }
            control = dirs.begin()->first;
        }
        if (a.has("--pid")) {
            targets = {selector_id};  // exactly the process named (a launcher forwards the signal)
        } else {
            // Only the processes that use this control directory (the ranks): a job script or shell
            // in the same session or group would be killed by USR1, and the launcher need not
            // forward a signal its ranks already have.
            for (const auto& kv : dirs)
                if (same_directory(kv.first, control))
                    targets.insert(targets.end(), kv.second.begin(), kv.second.end());
            if (targets.empty()) {
                std::cerr << "ckpt: no process in " << which << " " << selector_id << " uses " << control << "\n";
                return kFailed;
            }
        }
    } else {
        struct stat st {};
        if (::lstat(control.c_str(), &st) != 0 && errno == ENOENT) {
            std::cerr << "ckpt: no live process: no job has used " << a.positional[0]
                      << " as its checkpoint directory (no " << control << ")\n";
            return kFailed;
        }
        for (const auto& p : ctl::processes(control))
            if (p.alive) targets.push_back(p.pid);
        if (targets.empty()) {
            std::cerr << "ckpt: no live process uses " << control << " (no pid file of this host is held)\n";
            return kFailed;
        }
    }
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());

    // Result reporting, shared by every outcome.
    auto report = [&](const std::string& result, const std::optional<ctl::Answer>& answer, const std::string& why) {
        if (a.json) {
            std::vector<std::string> pids;
            for (long p : targets) pids.push_back(jnum(static_cast<std::int64_t>(p)));
            JObj o;
            o.add("id", jstr(req.id))
                .add("control_dir", jstr(control))
                .add("action", jstr(req.exit ? "exit" : "continue"));
            o.add("signal", jstr(ckpt::detail::signal_name(sig))).add("pids", jarr(pids)).add("result", jstr(result));
            o.add("file", answer ? jstr(answer->file) : jnull).add("seconds", answer ? jnum(answer->seconds) : jnull);
            o.add("status", answer ? jnum(static_cast<std::int64_t>(answer->status)) : jnull);
            o.add("msg", answer ? jstr(answer->msg) : why.empty() ? jnull : jstr(why));
            std::cout << o.str() << "\n";
        } else if (result == "done") {
            std::cout << "done: " << answer->file << " (" << seconds_text(answer->seconds) << " s)\n";
        } else if (result == "sent") {
            std::cout << "sent: request " << req.id << " to " << control << ", SIG" << ckpt::detail::signal_name(sig)
                      << " to " << join_pids(targets) << "\n";
        } else if (result == "failed") {
            std::cout << "failed: status " << answer->status << ": " << answer->msg << "\n";
        }
        if (!why.empty()) std::cerr << "ckpt: " << why << "\n";
    };

    ctl::write_request(control, req);
    std::vector<long> signalled;
    std::string kill_error;
    for (long p : targets) {
        if (::kill(static_cast<pid_t>(p), sig) == 0) {
            signalled.push_back(p);
            continue;
        }
        const int err = errno;
        if (err != ESRCH)
            kill_error = "cannot send SIG" + ckpt::detail::signal_name(sig) + " to " + std::to_string(p) + ": " +
                         std::strerror(err);
    }
    if (signalled.empty()) {
        ctl::withdraw_request(control, req.id);
        if (!kill_error.empty()) {  // not ours to signal: an I/O-class failure, not "no process"
            report("no-signal", std::nullopt, kill_error + "; request withdrawn");
            return kIo;
        }
        report("no-process", std::nullopt,
               "no live process: " + join_pids(targets) + " exited before the signal; request withdrawn");
        return kFailed;
    }
    if (!kill_error.empty()) std::cerr << "ckpt: warning: " << kill_error << "\n";  // the others got it
    if (wait <= 0) {
        report("sent", std::nullopt, "");
        return kOk;
    }

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait);
    auto pause = std::chrono::milliseconds(10);
    for (;;) {
        if (auto answer = ctl::read_answer(control, req.id)) {
            ctl::remove_answer(control, req.id);
            report(answer->ok ? "done" : "failed", answer, "");
            return answer->ok ? kOk : kFailed;
        }
        const bool any_alive = std::any_of(signalled.begin(), signalled.end(), process_exists);
        const bool late = std::chrono::steady_clock::now() >= deadline;
        if (!any_alive || late) {
            // One last look: the answer may have landed just before the process left.
            if (auto answer = ctl::read_answer(control, req.id)) {
                ctl::remove_answer(control, req.id);
                report(answer->ok ? "done" : "failed", answer, "");
                return answer->ok ? kOk : kFailed;
            }
            const bool withdrawn = ctl::withdraw_request(control, req.id);
            const std::string state = withdrawn ? "request withdrawn" : "the request was claimed but not answered";
            if (!any_alive)
                report("no-process", std::nullopt,
                       "no live process: " + join_pids(signalled) + " exited without answering (" + state + ")");
            else
                report("timeout", std::nullopt,
                       "no answer to request " + req.id + " within " + seconds_text(wait) + " s from " + control +
                           " (" + state + ")");
            return kFailed;
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(200));
    }
}

}  // namespace

int main(int argc, char** argv) {
    ckpt::detail::h5::take_over_library_exit();  // a corrupt file's failed close must not crash the exit
    try {
        if (argc >= 2 &&
            (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" || std::string(argv[1]) == "help")) {
            print_general_help(std::cout);
            return kOk;
        }
        if (argc >= 2 && std::string(argv[1]) == "--version") {
            std::cout << "ckpt " << CKPT_VERSION_STRING << " (checkpoint format " << CKPT_FORMAT_VERSION << ")\n";
            return kOk;
        }
        const Args args = parse_args(argc, argv);
        if (args.help) {
            print_command_help(*args.command, std::cout);
            return kOk;
        }
        const std::string name = args.command->name;
        int status = kOk;
        if (name == "list")
            status = cmd_list(args);
        else if (name == "info")
            status = cmd_info(args);
        else if (name == "verify")
            status = cmd_verify(args);
        else if (name == "latest")
            status = cmd_latest(args);
        else if (name == "prune")
            status = cmd_prune(args);
        else
            status = cmd_request(args);
        std::cout.flush();
        return status;
    } catch (const ckpt::Error& e) {
        std::cout.flush();
        std::cerr << e.what() << "\n";
        return ckpt::exit_code(e);
    } catch (const std::exception& e) {
        std::cout.flush();
        std::cerr << "ckpt: internal error: " << e.what() << "\n";
        return 70;
    }
}
