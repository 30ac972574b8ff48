#pragma once
/// Collective error agreement: a failure on any rank becomes the same exception on every rank.
/// Each rank runs its part of a collective operation under `Outcome`, then all ranks call
/// agree(); if any rank failed, every rank throws the first failing rank's error, annotated
/// "(failed on k of n ranks; first: rank r)". No rank is left waiting in a collective.
///
/// Each agreement costs one collective round when nothing failed, and can carry the data the
/// step produces: agree_and_sum (checksum sums), root_decides (what rank 0 alone found) and
/// agree_and_gather (a few words from every rank). On a node with more ranks than cores every
/// round costs milliseconds, so a step that needs data and agreement takes them in one.

#include "ckpt/detail/mpi/comm.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::detail::mpi {

/// What a rank's local part of a collective operation produced: nothing, or an error.
class Outcome {
public:
    /// Runs `fn`, capturing a ckpt::Error or any std::exception instead of letting it escape.
    template <class F>
    void run(F&& fn) noexcept {
        if (failed()) return;  // keep the first failure; later steps are skipped on this rank
        try {
            fn();
        } catch (const Error& e) {
            kind_ = e.kind();
            info_ = e.info();
        } catch (const std::exception& e) {
            kind_ = ErrorKind::Io;
            info_ = ErrorInfo{};
            info_->sentence = e.what();
        }
    }
    /// Record a failure directly.
    void fail(const Error& e) {
        if (failed()) return;
        kind_ = e.kind();
        info_ = e.info();
    }
    bool failed() const noexcept { return info_.has_value(); }
    ErrorKind kind() const noexcept { return kind_; }
    const ErrorInfo& info() const { return *info_; }

private:
    ErrorKind kind_ = ErrorKind::Mpi;
    std::optional<ErrorInfo> info_;
};

namespace wire {
inline void put(std::string& out, const std::string& s) {
    std::uint64_t n = s.size();
    out.append(reinterpret_cast<const char*>(&n), sizeof n).append(s);
}
inline std::string get(const std::string& in, std::size_t& pos) {
    std::uint64_t n = 0;
    if (pos + sizeof n > in.size()) {  // malformed: nothing more to read
        pos = in.size();
        return {};
    }
    std::memcpy(&n, in.data() + pos, sizeof n);
    pos += sizeof n;
    std::string s = in.substr(pos, n);
    pos += n;
    return s;
}
/// Strings as bytes: any byte may occur in one (a directory name may hold a newline).
inline std::string strings(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) put(out, s);
    return out;
}
inline std::vector<std::string> strings(const std::string& in) {
    std::vector<std::string> v;
    for (std::size_t pos = 0; pos < in.size();) v.push_back(get(in, pos));
    return v;
}
}  // namespace wire

/// Collective. Whether every rank's part succeeded; every rank waits as long as it takes. For a
/// step inside which a library call may strand ranks, the caller bounds the wait: a checkpoint
/// write's IoWatchdog (write_watchdog.hpp) ends a rank that makes no progress.
inline bool all_ok(const Comm& comm, const Outcome& local) {
    int ok = local.failed() ? 0 : 1;
    comm.allreduce(&ok, 1, MPI_MIN);
    return ok == 1;
}

namespace wire {
/// An error as bytes, for the ranks that did not see it.
inline std::string error(ErrorKind kind, const ErrorInfo& i) {
    std::string out;
    const int k = static_cast<int>(kind);
    out.append(reinterpret_cast<const char*>(&k), sizeof k);
    for (const std::string* s : {&i.sentence, &i.file, &i.object, &i.hint, &i.expected, &i.found, &i.option, &i.value,
                                 &i.hdf5_stack})
        put(out, *s);
    out.append(reinterpret_cast<const char*>(&i.errno_value), sizeof i.errno_value);
    out.append(reinterpret_cast<const char*>(&i.rank), sizeof i.rank);
    out.push_back(i.unsupported ? '\1' : '\0');
    return out;
}
inline ErrorInfo error(const std::string& in, ErrorKind& kind) {
    ErrorInfo info;
    int k = static_cast<int>(ErrorKind::Mpi);
    std::size_t pos = 0;
    if (in.size() >= sizeof k) std::memcpy(&k, in.data(), sizeof k), pos = sizeof k;
    kind = static_cast<ErrorKind>(k);
    for (std::string* s : {&info.sentence, &info.file, &info.object, &info.hint, &info.expected, &info.found,
                           &info.option, &info.value, &info.hdf5_stack})
        *s = get(in, pos);
    if (pos + sizeof info.errno_value + sizeof info.rank + 1 <= in.size()) {
        std::memcpy(&info.errno_value, in.data() + pos, sizeof info.errno_value);
        pos += sizeof info.errno_value;
        std::memcpy(&info.rank, in.data() + pos, sizeof info.rank);
        pos += sizeof info.rank;
        info.unsupported = in[pos] != '\0';
    }
    return info;
}
}  // namespace wire

/// The error every rank throws once they know that `count` ranks failed, `first` the lowest.
[[noreturn]] inline void raise_agreed(ErrorKind kind, ErrorInfo info, const Comm& comm, int first, int count) {
    if (info.rank < 0) info.rank = first;
    // An error agreed on already (by a nested agree over the same ranks) says it once.
    if (comm.size() > 1 && info.sentence.find(" (failed on ") == std::string::npos)
        info.sentence += " (failed on " + std::to_string(count) + " of " + std::to_string(comm.size()) +
                         " ranks; first: rank " + std::to_string(first) + ")";
    raise(kind, std::move(info));
}

/// Collective, once every rank knows that `count` ranks failed and `first` is the lowest: the
/// first failing rank tells everyone what happened, and every rank throws it.
[[noreturn]] inline void share_failure(const Comm& comm, const Outcome& local, int first, int count) {
    std::string payload;
    if (comm.rank() == first) payload = wire::error(local.kind(), local.info());
    comm.bcast(payload, first);
    ErrorKind kind;
    ErrorInfo info = wire::error(payload, kind);
    raise_agreed(kind, std::move(info), comm, first, count);
}

/// Collective. Returns normally only if no rank failed; otherwise throws on every rank.
inline void agree(const Comm& comm, const Outcome& local) {
    int first = local.failed() ? comm.rank() : INT_MAX;
    comm.allreduce(&first, 1, MPI_MIN);  // the common case costs this one reduction
    if (first == INT_MAX) return;
    int count = local.failed() ? 1 : 0;
    comm.allreduce(&count, 1, MPI_SUM);
    share_failure(comm, local, first, count);
}

/// Collective: agree(), and then `sums` becomes the element-wise sum (mod 2^64) of every rank's
/// `sums`. They must have the same length on every rank that succeeded; a rank that failed may
/// hold any. One reduction while they hold at most `inline_sums` values (the common case), two
/// otherwise. Folding a checksum reduction into the agreement saves a round.
inline void agree_and_sum(const Comm& comm, const Outcome& local, std::vector<std::uint64_t>& sums) {
    constexpr std::size_t inline_sums = 254;
    // [failed ranks, ranks whose sums did not fit, sums...], all summed.
    std::vector<std::uint64_t> round(2 + inline_sums, 0);
    if (local.failed()) {
        round[0] = 1;
    } else if (sums.size() > inline_sums) {
        round[1] = 1;
    } else {
        std::copy(sums.begin(), sums.end(), round.begin() + 2);
    }
    comm.allreduce(round.data(), static_cast<int>(round.size()), MPI_SUM);
    if (round[0] != 0) {
        int first = local.failed() ? comm.rank() : INT_MAX;
        comm.allreduce(&first, 1, MPI_MIN);
        share_failure(comm, local, first, static_cast<int>(round[0]));
    }
    if (round[1] == 0) {
        std::copy(round.begin() + 2, round.begin() + 2 + static_cast<std::ptrdiff_t>(sums.size()), sums.begin());
        return;
    }
    // Every rank succeeded and they hold the same entries, so every rank overflowed alike.
    comm.allreduce(sums.data(), static_cast<int>(sums.size()), MPI_SUM);
}

/// Collective, for a step only rank 0 performs (reading the directory, taking the lock): rank
/// 0's outcome and, if it succeeded, its `payload`, on every rank. One broadcast while the
/// payload is small (the common case), two otherwise. Throws rank 0's error on every rank.
inline void root_decides(const Comm& comm, const Outcome& local, std::string& payload) {
    constexpr std::size_t inline_bytes = 4096;
    // [status: 0 ok, 1 failed][total length][up to inline_bytes of the message]
    std::string message, round(1 + sizeof(std::uint64_t) + inline_bytes, '\0');
    if (comm.rank() == 0) {
        message = local.failed() ? wire::error(local.kind(), local.info()) : payload;
        round[0] = local.failed() ? '\1' : '\0';
        const std::uint64_t n = message.size();
        std::memcpy(&round[1], &n, sizeof n);
        message.copy(&round[1 + sizeof n], std::min<std::size_t>(n, inline_bytes));
    }
    comm.bcast(round.data(), static_cast<int>(round.size()));
    std::uint64_t n = 0;
    std::memcpy(&n, &round[1], sizeof n);
    if (comm.rank() != 0) message.assign(round, 1 + sizeof n, static_cast<std::size_t>(std::min<std::uint64_t>(n, inline_bytes)));
    if (n > inline_bytes) {
        std::string rest = comm.rank() == 0 ? message.substr(inline_bytes) : std::string();
        comm.bcast(rest);
        if (comm.rank() != 0) message += rest;
    }
    if (round[0] != '\0') {
        ErrorKind kind;
        ErrorInfo info = wire::error(message, kind);
        raise_agreed(kind, std::move(info), comm, 0, 1);
    }
    payload = std::move(message);
}

/// Collective: agree(), and every rank's `words` (of any length) on every rank, rank by rank.
/// One all-gather while every rank's words fit in `inline_words` (the common case), two
/// otherwise. A rank that failed contributes nothing.
inline std::vector<std::vector<std::uint64_t>> agree_and_gather(const Comm& comm, const Outcome& local,
                                                                const std::vector<std::uint64_t>& words) {
    constexpr std::size_t inline_words = 14;
    // Each rank's row: [failed, its length, up to inline_words words].
    std::vector<std::uint64_t> row(2 + inline_words, 0);
    row[0] = local.failed() ? 1 : 0;
    row[1] = local.failed() ? 0 : words.size();
    if (!local.failed()) std::copy_n(words.begin(), std::min(words.size(), inline_words), row.begin() + 2);
    const std::vector<std::uint64_t> all = comm.allgather(row);
    const std::size_t ranks = static_cast<std::size_t>(comm.size());
    int first = INT_MAX, count = 0;
    bool overflow = false;
    for (std::size_t r = 0; r < ranks; ++r) {
        const std::uint64_t* at = all.data() + r * row.size();
        if (at[0] != 0) first = std::min(first, static_cast<int>(r)), ++count;
        overflow = overflow || at[1] > inline_words;
    }
    if (count > 0) share_failure(comm, local, first, count);
    std::vector<std::vector<std::uint64_t>> out(ranks);
    if (!overflow) {
        for (std::size_t r = 0; r < ranks; ++r) {
            const std::uint64_t* at = all.data() + r * row.size();
            out[r].assign(at + 2, at + 2 + at[1]);
        }
        return out;
    }
    std::vector<int> counts(ranks);
    for (std::size_t r = 0; r < ranks; ++r) counts[r] = static_cast<int>(all[r * row.size() + 1]);
    const std::vector<std::uint64_t> flat = comm.allgatherv(words, counts);
    std::size_t at = 0;
    for (std::size_t r = 0; r < ranks; ++r) {
        out[r].assign(flat.begin() + static_cast<std::ptrdiff_t>(at), flat.begin() + static_cast<std::ptrdiff_t>(at + counts[r]));
        at += static_cast<std::size_t>(counts[r]);
    }
    return out;
}

}  // namespace ckpt::detail::mpi
