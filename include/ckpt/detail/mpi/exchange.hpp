#pragma once
/// Point-to-point transfer of byte buffers of any size: the partner copies of cached
/// checkpoints, and the parts a restore fetches from another node's cache.

#include "ckpt/detail/mpi/comm.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ckpt::detail::mpi {

struct Outgoing {
    int to;
    const std::vector<char>* bytes;
};

/// Each rank sends every `sends` buffer to its rank and receives one buffer from each rank of
/// `from` (in that order), all posted before any is waited for, so no pattern deadlocks:
/// lengths first, then the bytes in pieces of at most 1 GiB (MPI counts are int). The senders
/// and receivers must name each other. Throws: MpiError naming the call.
inline std::vector<std::vector<char>> exchange_bytes(const Comm& comm, const std::vector<Outgoing>& sends,
                                                     const std::vector<int>& from, int tag) {
    constexpr std::uint64_t piece = std::uint64_t{1} << 30;
    std::vector<MPI_Request> requests;
    auto wait_all = [&] {
        const int rc = MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
        requests.clear();
        check(rc, "MPI_Waitall", comm.rank());
    };
    std::vector<std::uint64_t> out_length(sends.size()), in_length(from.size());
    for (std::size_t i = 0; i < sends.size(); ++i) {
        out_length[i] = sends[i].bytes->size();
        requests.emplace_back();
        check(MPI_Isend(&out_length[i], 1, MPI_UINT64_T, sends[i].to, tag, comm.get(), &requests.back()), "MPI_Isend",
              comm.rank());
    }
    for (std::size_t j = 0; j < from.size(); ++j) {
        requests.emplace_back();
        check(MPI_Irecv(&in_length[j], 1, MPI_UINT64_T, from[j], tag, comm.get(), &requests.back()), "MPI_Irecv",
              comm.rank());
    }
    wait_all();
    std::vector<std::vector<char>> received(from.size());
    for (std::size_t i = 0; i < sends.size(); ++i)
        for (std::uint64_t at = 0; at < out_length[i]; at += piece) {
            requests.emplace_back();
            const int n = static_cast<int>(std::min(piece, out_length[i] - at));
            check(MPI_Isend(sends[i].bytes->data() + at, n, MPI_BYTE, sends[i].to, tag + 1, comm.get(), &requests.back()),
                  "MPI_Isend", comm.rank());
        }
    for (std::size_t j = 0; j < from.size(); ++j) {
        received[j].resize(static_cast<std::size_t>(in_length[j]));
        for (std::uint64_t at = 0; at < in_length[j]; at += piece) {
            requests.emplace_back();
            const int n = static_cast<int>(std::min(piece, in_length[j] - at));
            check(MPI_Irecv(received[j].data() + at, n, MPI_BYTE, from[j], tag + 1, comm.get(), &requests.back()),
                  "MPI_Irecv", comm.rank());
        }
    }
    wait_all();
    return received;
}

/// A transfer's bytes as pieces of memory, in order (a file mapping's data extents).
struct Segment {
    char* data;
    std::uint64_t bytes;
};
struct SegmentsTo {
    int to;
    std::vector<Segment> segments;
};
struct SegmentsFrom {
    int from;
    std::vector<Segment> segments;
};

/// Each rank sends every `sends` list to its rank and receives every `receives` list from its
/// rank, straight from and into the memory given, all posted before any is waited for. A sender
/// and its receiver must give segments of the same lengths in the same order (each cut into
/// pieces of at most 1 GiB alike). Throws: MpiError naming the call.
inline void exchange_segments(const Comm& comm, const std::vector<SegmentsTo>& sends,
                              const std::vector<SegmentsFrom>& receives, int tag) {
    constexpr std::uint64_t piece = std::uint64_t{1} << 30;
    std::vector<MPI_Request> requests;
    for (const auto& s : sends)
        for (const Segment& g : s.segments)
            for (std::uint64_t at = 0; at < g.bytes; at += piece) {
                requests.emplace_back();
                check(MPI_Isend(g.data + at, static_cast<int>(std::min(piece, g.bytes - at)), MPI_BYTE, s.to, tag,
                                comm.get(), &requests.back()),
                      "MPI_Isend", comm.rank());
            }
    for (const auto& r : receives)
        for (const Segment& g : r.segments)
            for (std::uint64_t at = 0; at < g.bytes; at += piece) {
                requests.emplace_back();
                check(MPI_Irecv(g.data + at, static_cast<int>(std::min(piece, g.bytes - at)), MPI_BYTE, r.from, tag,
                                comm.get(), &requests.back()),
                      "MPI_Irecv", comm.rank());
            }
    check(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall",
          comm.rank());
}

}  // namespace ckpt::detail::mpi
