#pragma once
/// A private duplicate of the application's communicator, so ckpt's collectives never match
/// the application's messages, with checked calls that throw ckpt::MpiError.

#include "ckpt/error.hpp"

#include <mpi.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail::mpi {

/// Throws MpiError naming the MPI call if `code` is not MPI_SUCCESS.
inline void check(int code, const char* call, int rank = -1) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(code, text, &len);
    raise(MpiError({std::string(call) + " failed: " + text, "", "", rank, {}}));
}

/// True once ensure_initialized() has initialised MPI itself (it then also finalises it).
inline bool initialized_by_ckpt = false;

/// Initialises MPI for programs that never mention it, and finalises it at exit.
/// HDF5 registers its own atexit cleanup after this one, so it runs first, as it must.
inline void ensure_initialized() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (finalized) raise(UsageError({"MPI was already finalized before a ckpt::Checkpointer was created", "", "", -1, {}}));
    if (initialized) return;
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    initialized_by_ckpt = true;
    std::atexit([] {
        int fin = 0;
        MPI_Finalized(&fin);
        if (!fin) MPI_Finalize();
    });
}

class Comm {
public:
    /// Collective over `parent`.
    explicit Comm(MPI_Comm parent) {
        check(MPI_Comm_dup(parent, &comm_), "MPI_Comm_dup");
        MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
        MPI_Comm_rank(comm_, &rank_);
        MPI_Comm_size(comm_, &size_);
        // The ranks sharing this rank's node (its shared-memory domain), for choices that depend
        // on whether the node has a core to spare.
        MPI_Comm node = MPI_COMM_NULL;
        check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type", rank_);
        MPI_Comm_size(node, &node_size_);
        MPI_Comm_free(&node);
    }
    ~Comm() {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
    }
    Comm(const Comm&) = delete;
    Comm& operator=(const Comm&) = delete;

    MPI_Comm get() const noexcept { return comm_; }
    int rank() const noexcept { return rank_; }
    int size() const noexcept { return size_; }
    /// How many ranks of this communicator share this rank's node.
    int ranks_on_node() const noexcept { return node_size_; }

    template <class T>
    void allreduce(T* data, int n, MPI_Op op) const {
        check(MPI_Allreduce(MPI_IN_PLACE, data, n, type<T>(), op, comm_), "MPI_Allreduce", rank_);
    }
    /// Exclusive prefix sum; rank 0 gets zeros.
    std::vector<std::uint64_t> exscan_sum(const std::vector<std::uint64_t>& in) const {
        std::vector<std::uint64_t> out(in.size(), 0);
        if (in.empty()) return out;
        check(MPI_Exscan(in.data(), out.data(), static_cast<int>(in.size()), MPI_UINT64_T, MPI_SUM, comm_),
              "MPI_Exscan", rank_);
        if (rank_ == 0) std::fill(out.begin(), out.end(), 0);
        return out;
    }
    template <class T>
    void bcast(T* data, int n, int root = 0) const {
        check(MPI_Bcast(data, n, type<T>(), root, comm_), "MPI_Bcast", rank_);
    }
    void bcast(std::string& s, int root = 0) const {
        std::uint64_t n = s.size();
        bcast(&n, 1, root);
        s.resize(n);
        if (n) check(MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, root, comm_), "MPI_Bcast", rank_);
    }
    void barrier() const { check(MPI_Barrier(comm_), "MPI_Barrier", rank_); }
    /// Every rank's `bytes` bytes at `data`, rank by rank, on `root` (which passes every rank's
    /// count in `counts`); empty elsewhere.
    std::vector<char> gatherv(const void* data, int bytes, const std::vector<int>& counts, int root = 0) const {
        std::vector<int> displs(counts.size(), 0);
        for (std::size_t r = 1; r < counts.size(); ++r) displs[r] = displs[r - 1] + counts[r - 1];
        std::vector<char> out(rank_ == root && !counts.empty() ? static_cast<std::size_t>(displs.back() + counts.back()) : 0);
        check(MPI_Gatherv(data, bytes, MPI_BYTE, out.data(), counts.data(), displs.data(), MPI_BYTE, root, comm_),
              "MPI_Gatherv", rank_);
        return out;
    }
    /// Every rank's `in` (the same length everywhere), rank by rank, on `root`; empty elsewhere.
    std::vector<std::uint64_t> gather(const std::vector<std::uint64_t>& in, int root = 0) const {
        std::vector<std::uint64_t> out(rank_ == root ? in.size() * static_cast<std::size_t>(size_) : 0);
        check(MPI_Gather(in.data(), static_cast<int>(in.size()), MPI_UINT64_T, out.data(), static_cast<int>(in.size()),
                         MPI_UINT64_T, root, comm_),
              "MPI_Gather", rank_);
        return out;
    }

    /// Every rank's `in` (the same length everywhere), rank by rank, on every rank.
    std::vector<std::uint64_t> allgather(const std::vector<std::uint64_t>& in) const {
        std::vector<std::uint64_t> out(in.size() * static_cast<std::size_t>(size_));
        check(MPI_Allgather(in.data(), static_cast<int>(in.size()), MPI_UINT64_T, out.data(),
                            static_cast<int>(in.size()), MPI_UINT64_T, comm_),
              "MPI_Allgather", rank_);
        return out;
    }

    /// Every rank's `in` (counts[r] values on rank r, known to every rank), rank by rank, on every rank.
    std::vector<std::uint64_t> allgatherv(const std::vector<std::uint64_t>& in, const std::vector<int>& counts) const {
        std::vector<int> displs(counts.size(), 0);
        for (std::size_t r = 1; r < counts.size(); ++r) displs[r] = displs[r - 1] + counts[r - 1];
        std::vector<std::uint64_t> out(counts.empty() ? 0 : static_cast<std::size_t>(displs.back() + counts.back()));
        check(MPI_Allgatherv(in.data(), static_cast<int>(in.size()), MPI_UINT64_T, out.data(), counts.data(),
                             displs.data(), MPI_UINT64_T, comm_),
              "MPI_Allgatherv", rank_);
        return out;
    }

    template <class T>
    static MPI_Datatype type() {
        if constexpr (std::is_same_v<T, int>) return MPI_INT;
        else if constexpr (std::is_same_v<T, std::int64_t>) return MPI_INT64_T;
        else if constexpr (std::is_same_v<T, std::uint64_t>) return MPI_UINT64_T;
        else if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
        else if constexpr (std::is_same_v<T, char>) return MPI_CHAR;
        else static_assert(sizeof(T) == 0, "ckpt: internal: no MPI type");
    }

private:
    MPI_Comm comm_ = MPI_COMM_NULL;
    int rank_ = 0;
    int size_ = 1;
    int node_size_ = 1;
};

}  // namespace ckpt::detail::mpi
