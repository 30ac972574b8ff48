#pragma once
/// Which node each rank runs on, and each rank's partner: the rank on the next node that keeps
/// a copy of its part of every cached checkpoint (docs/multilevel.md).

#include "ckpt/detail/mpi/comm.hpp"
#include "ckpt/error.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::detail::mpi {

struct Nodes {
    int count = 1;              ///< nodes in the job
    int node = 0;               ///< this rank's node, 0 .. count-1 (in the order of their lowest ranks)
    bool reporter = false;      ///< the lowest rank of its node: it lists and rotates the node's cache
    std::vector<int> node_of;   ///< every rank's node
    std::vector<int> reporters; ///< every node's lowest rank
    int partner = -1;           ///< the rank that keeps a copy of this rank's part; -1 with one node
    std::vector<int> holds;     ///< the ranks whose copies this rank keeps
};

/// Rank r's position among the ranks of its node, and the node's ranks, from `node_of`.
inline std::vector<std::vector<int>> ranks_by_node(const std::vector<int>& node_of, int count) {
    std::vector<std::vector<int>> by(static_cast<std::size_t>(count));
    for (std::size_t r = 0; r < node_of.size(); ++r) by[static_cast<std::size_t>(node_of[r])].push_back(static_cast<int>(r));
    return by;
}

/// Collective. With `simulated` > 0, `simulated` nodes of consecutive ranks (a test on one
/// machine); else the ranks that share memory (MPI_COMM_TYPE_SHARED) form a node. The partner of
/// the i-th rank of node k is the (i mod size)-th rank of node k+1 (the last node's: node 0's),
/// so every node's parts are copied to one other node. Throws: ConfigError if `simulated`
/// exceeds the ranks.
inline Nodes find_nodes(const Comm& comm, unsigned simulated) {
    Nodes n;
    const int size = comm.size();
    n.node_of.assign(static_cast<std::size_t>(size), 0);
    if (simulated > 0) {
        if (simulated > static_cast<unsigned>(size)) {
            ErrorInfo i("simulated_nodes=" + std::to_string(simulated) + " asks for more nodes than the job has ranks (" +
                            std::to_string(size) + ")",
                        "", "", -1, "set CKPT_SIMULATED_NODES to at most the number of ranks");
            i.option = "CKPT_SIMULATED_NODES";
            i.value = std::to_string(simulated);
            raise(ConfigError(std::move(i)));
        }
        n.count = static_cast<int>(simulated);
        for (int r = 0; r < size; ++r)
            n.node_of[static_cast<std::size_t>(r)] =
                static_cast<int>(static_cast<std::int64_t>(r) * n.count / size);
    } else {
        MPI_Comm local = MPI_COMM_NULL;
        check(MPI_Comm_split_type(comm.get(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &local),
              "MPI_Comm_split_type", comm.rank());
        int local_rank = 0;
        MPI_Comm_rank(local, &local_rank);
        // The node's lowest rank (key = rank, so local rank 0 is it) names the node.
        std::uint64_t lowest = static_cast<std::uint64_t>(comm.rank());
        MPI_Bcast(&lowest, 1, MPI_UINT64_T, 0, local);
        MPI_Comm_free(&local);
        const std::vector<std::uint64_t> lowest_of = comm.allgather({lowest});
        std::vector<std::uint64_t> distinct = lowest_of;
        std::sort(distinct.begin(), distinct.end());
        distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
        n.count = static_cast<int>(distinct.size());
        for (int r = 0; r < size; ++r)
            n.node_of[static_cast<std::size_t>(r)] = static_cast<int>(
                std::lower_bound(distinct.begin(), distinct.end(), lowest_of[static_cast<std::size_t>(r)]) - distinct.begin());
    }
    const auto by = ranks_by_node(n.node_of, n.count);
    n.node = n.node_of[static_cast<std::size_t>(comm.rank())];
    for (const auto& ranks : by) n.reporters.push_back(ranks.front());
    n.reporter = n.reporters[static_cast<std::size_t>(n.node)] == comm.rank();
    if (n.count < 2) return n;
    for (int k = 0; k < n.count; ++k) {
        const auto& here = by[static_cast<std::size_t>(k)];
        const auto& next = by[static_cast<std::size_t>((k + 1) % n.count)];
        for (std::size_t i = 0; i < here.size(); ++i) {
            const int partner = next[i % next.size()];
            if (here[i] == comm.rank()) n.partner = partner;
            if (partner == comm.rank()) n.holds.push_back(here[i]);
        }
    }
    return n;
}

}  // namespace ckpt::detail::mpi
