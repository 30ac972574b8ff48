#pragma once
/// The ckpt exception hierarchy. Every error names the thing it is about (entry, file, HDF5
/// object, rank, option or variable) and, where one is known, what to do about it.
///
/// what() has one stable, greppable shape:
///   ckpt: <sentence>. [file "<path>", object "/state/u", rank 3] hint: <what to do>

#include "ckpt/config.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace ckpt {

/// Which subclass an error is; lets a collective call rethrow the same type on every rank.
enum class ErrorKind : int { Usage = 1, Config, Io, Format, Mismatch, Mpi };

/// Everything an error knows. Subclasses expose the fields that matter to them.
struct ErrorInfo {
    ErrorInfo() = default;
    ErrorInfo(std::string sentence_, std::string file_ = {}, std::string object_ = {}, int rank_ = -1,
              std::string hint_ = {})
        : sentence(std::move(sentence_)), file(std::move(file_)), object(std::move(object_)), rank(rank_),
          hint(std::move(hint_)) {}

    std::string sentence;      ///< what went wrong, no "ckpt:" prefix, no final period
    std::string file;          ///< checkpoint file or directory, if any
    std::string object;        ///< HDF5 object path or state entry, if any
    int rank = -1;             ///< rank the error happened on (-1: not rank-specific)
    std::string hint;          ///< what to do
    std::string expected;      ///< MismatchError: what the application has
    std::string found;         ///< MismatchError: what the checkpoint has
    std::string option;        ///< ConfigError: option or variable name
    std::string value;         ///< ConfigError: the bad value
    std::string hdf5_stack;    ///< IoError: the HDF5 error stack, innermost last
    int errno_value = 0;       ///< IoError: errno of a failed POSIX call
    bool unsupported = false;  ///< FormatError: intact, but in a format this version cannot read
};

namespace detail {
inline std::string format_what(const ErrorInfo& info) {
    std::string s = "ckpt: " + info.sentence + ".";
    std::string ctx;
    auto add = [&ctx](const std::string& part) { ctx += (ctx.empty() ? "" : ", ") + part; };
    if (!info.file.empty()) add("file \"" + info.file + "\"");
    if (!info.object.empty()) add("object \"" + info.object + "\"");
    if (info.rank >= 0) add("rank " + std::to_string(info.rank));
    if (!ctx.empty()) s += " [" + ctx + "]";
    if (!info.hint.empty()) s += " hint: " + info.hint;
    return s;
}
}  // namespace detail

/// Base of every exception ckpt throws. Catch this to catch them all.
class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, ErrorInfo info)
        : std::runtime_error(detail::format_what(info)), kind_(kind), info_(std::move(info)) {}

    ErrorKind kind() const noexcept { return kind_; }
    const ErrorInfo& info() const noexcept { return info_; }
    const std::string& sentence() const noexcept { return info_.sentence; }
    const std::string& file() const noexcept { return info_.file; }
    const std::string& object() const noexcept { return info_.object; }
    int rank() const noexcept { return info_.rank; }
    const std::string& hint() const noexcept { return info_.hint; }

private:
    ErrorKind kind_;
    ErrorInfo info_;
};

/// API misuse: duplicate or invalid state name, protect after restore, wrong call order.
class UsageError : public Error {
public:
    explicit UsageError(ErrorInfo info) : Error(ErrorKind::Usage, std::move(info)) {}

    static UsageError duplicate_name(const std::string& name) {
        return UsageError({"state \"" + name + "\" is protected twice", "", name, -1,
                           "give every protected object its own name"});
    }
    static UsageError invalid_name(const std::string& name, const std::string& why) {
        return UsageError({"invalid state name \"" + name + "\": " + why, "", name, -1,
                           "use a non-empty name without '/' that does not start with '.'"});
    }
    static UsageError too_late(const std::string& name, const std::string& call) {
        return UsageError({"cannot protect \"" + name + "\" after " + call, "", name, -1,
                           "protect all state before restore_if_requested()"});
    }
};

/// Bad --restart/--checkpoint/CKPT_* value; names the option or variable and the value.
class ConfigError : public Error {
public:
    explicit ConfigError(ErrorInfo info) : Error(ErrorKind::Config, std::move(info)) {}

    const std::string& option() const noexcept { return info().option; }
    const std::string& value() const noexcept { return info().value; }

    static ConfigError bad_value(const std::string& option, const std::string& value, const std::string& expected) {
        ErrorInfo i;
        i.sentence = "bad value \"" + value + "\" for " + option + ": expected " + expected;
        i.option = option;
        i.value = value;
        return ConfigError(std::move(i));
    }
    static ConfigError missing_value(const std::string& option) {
        ErrorInfo i;
        i.sentence = "option " + option + " needs a value";
        i.option = option;
        return ConfigError(std::move(i));
    }
};

/// HDF5 or POSIX failure; carries the HDF5 error stack or the errno text.
class IoError : public Error {
public:
    explicit IoError(ErrorInfo info) : Error(ErrorKind::Io, std::move(info)) {}

    const std::string& hdf5_stack() const noexcept { return info().hdf5_stack; }
    int errno_value() const noexcept { return info().errno_value; }
};

/// Not a ckpt file, unsupported format version, checksum mismatch, truncated or uncommitted file.
class FormatError : public Error {
public:
    explicit FormatError(ErrorInfo info) : Error(ErrorKind::Format, std::move(info)) {}

    /// True for a file that is damaged (checksum, truncation, broken metadata), false for an
    /// intact file in a format this version cannot read: only the first is quarantined.
    bool corrupt() const noexcept { return !info().unsupported; }

    static FormatError version(const std::string& file, long found, long supported) {
        ErrorInfo i{"unsupported checkpoint format version " + std::to_string(found) + " (this ckpt reads version " +
                        std::to_string(supported) + ")",
                    file, "/", -1, "read it with the ckpt version that wrote it"};
        i.unsupported = true;
        return FormatError(std::move(i));
    }
    static FormatError checksum(const std::string& file, const std::string& object, int rank) {
        return FormatError({"checksum mismatch: the stored data is corrupt", file, object, rank,
                            "restart from an older checkpoint (--restart auto falls back by itself)"});
    }
};

/// Checkpoint readable but does not fit the application: missing entry, type/shape/codec differs.
class MismatchError : public Error {
public:
    explicit MismatchError(ErrorInfo info) : Error(ErrorKind::Mismatch, std::move(info)) {}

    const std::string& expected() const noexcept { return info().expected; }
    const std::string& found() const noexcept { return info().found; }

    static MismatchError make(std::string sentence, std::string file, std::string object, int rank,
                              std::string expected, std::string found, std::string hint = {}) {
        ErrorInfo i;
        i.sentence = std::move(sentence);
        i.file = std::move(file);
        i.object = std::move(object);
        i.rank = rank;
        i.expected = std::move(expected);
        i.found = std::move(found);
        i.hint = std::move(hint);
        return MismatchError(std::move(i));
    }
};

/// An MPI call failed, or ranks disagree on a collective outcome.
class MpiError : public Error {
public:
    explicit MpiError(ErrorInfo info) : Error(ErrorKind::Mpi, std::move(info)) {}
};

namespace detail {
/// The one funnel every ckpt throw goes through (Catch2's throw_exception): a breakpoint spot.
template <class E>
[[noreturn]] void raise(E&& error) {
    throw std::forward<E>(error);
}

/// Rebuild an error of the given kind; used to rethrow the same type on every rank.
[[noreturn]] inline void raise(ErrorKind kind, ErrorInfo info) {
    switch (kind) {
        case ErrorKind::Usage: raise(UsageError(std::move(info)));
        case ErrorKind::Config: raise(ConfigError(std::move(info)));
        case ErrorKind::Io: raise(IoError(std::move(info)));
        case ErrorKind::Format: raise(FormatError(std::move(info)));
        case ErrorKind::Mismatch: raise(MismatchError(std::move(info)));
        case ErrorKind::Mpi: break;
    }
    raise(MpiError(std::move(info)));
}

}  // namespace detail

/// The process exit status for an error that ends the program (docs/batch-contract.md section 6):
/// 64 bad configuration, 65 corrupt or incompatible checkpoint, 66 no checkpoint where --restart
/// pointed (an IoError with errno ENOENT), 74 I/O failure, 75 (EX_TEMPFAIL) the directory is in use
/// by another job (an IoError with errno EBUSY), 70 (EX_SOFTWARE) misuse or MPI failure.
inline int exit_code(const Error& e) noexcept {
    switch (e.kind()) {
        case ErrorKind::Config: return 64;
        case ErrorKind::Format:
        case ErrorKind::Mismatch: return 65;
        case ErrorKind::Io:
            switch (static_cast<const IoError&>(e).errno_value()) {
                case ENOENT: return 66;  // nothing to restart from
                case EBUSY: return 75;   // another job holds the directory: try again later
                default: return 74;
            }
        case ErrorKind::Usage:
        case ErrorKind::Mpi: return 70;
    }
    return 70;
}

namespace detail {
/// errno-carrying IoError for a failed POSIX call on `path`.
inline IoError posix_error(const std::string& call, const std::string& path, int err, std::string hint = {}) {
    ErrorInfo i;
    i.sentence = call + " failed: " + std::string(std::strerror(err));
    i.file = path;
    i.errno_value = err;
    i.hint = std::move(hint);
    return IoError(std::move(i));
}
}  // namespace detail
}  // namespace ckpt
