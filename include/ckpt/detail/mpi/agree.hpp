#pragma once
/// Collective error agreement: a failure on any rank becomes the same exception on every rank.
/// Each rank runs its part of a collective operation under `Outcome`, then all ranks call
/// agree(); if any rank failed, every rank throws the first failing rank's error, annotated
/// "(failed on k of n ranks; first: rank r)". No rank is left waiting in a collective.

#include "ckpt/detail/mpi/comm.hpp"

#include <climits>
#include <cstring>
#include <exception>
#include <optional>
#include <string>

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
    if (pos + sizeof n > in.size()) return {};
    std::memcpy(&n, in.data() + pos, sizeof n);
    pos += sizeof n;
    std::string s = in.substr(pos, n);
    pos += n;
    return s;
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

/// Collective. Returns normally only if no rank failed; otherwise throws on every rank.
inline void agree(const Comm& comm, const Outcome& local) {
    int first = local.failed() ? comm.rank() : INT_MAX;
    comm.allreduce(&first, 1, MPI_MIN);  // the common case costs this one reduction
    if (first == INT_MAX) return;
    int count = local.failed() ? 1 : 0;
    comm.allreduce(&count, 1, MPI_SUM);

    // The first failing rank tells everyone what happened.
    int kind = static_cast<int>(local.kind());
    std::string payload;
    if (comm.rank() == first) {
        const ErrorInfo& i = local.info();
        for (const std::string* s : {&i.sentence, &i.file, &i.object, &i.hint, &i.expected, &i.found, &i.option,
                                     &i.value, &i.hdf5_stack})
            wire::put(payload, *s);
        payload.append(reinterpret_cast<const char*>(&i.errno_value), sizeof i.errno_value);
        payload.append(reinterpret_cast<const char*>(&i.rank), sizeof i.rank);
        payload.push_back(i.unsupported ? '\1' : '\0');
    }
    comm.bcast(&kind, 1, first);
    comm.bcast(payload, first);

    ErrorInfo info;
    std::size_t pos = 0;
    for (std::string* s : {&info.sentence, &info.file, &info.object, &info.hint, &info.expected, &info.found,
                           &info.option, &info.value, &info.hdf5_stack})
        *s = wire::get(payload, pos);
    if (pos + sizeof info.errno_value + sizeof info.rank + 1 <= payload.size()) {
        std::memcpy(&info.errno_value, payload.data() + pos, sizeof info.errno_value);
        pos += sizeof info.errno_value;
        std::memcpy(&info.rank, payload.data() + pos, sizeof info.rank);
        pos += sizeof info.rank;
        info.unsupported = payload[pos] != '\0';
    }
    if (info.rank < 0) info.rank = first;
    // An error agreed on already (by a nested agree over the same ranks) says it once.
    if (comm.size() > 1 && info.sentence.find(" (failed on ") == std::string::npos)
        info.sentence += " (failed on " + std::to_string(count) + " of " + std::to_string(comm.size()) +
                         " ranks; first: rank " + std::to_string(first) + ")";
    raise(static_cast<ErrorKind>(kind), std::move(info));
}

}  // namespace ckpt::detail::mpi
