// Restore on another rank count: `nm_state write DIR` checkpoints, at N ranks, one entry of
// every distribution (replicated scalars and a Boost struct, concatenated vectors with uneven
// counts, 2-D and 3-D blocks with ghost layers over uneven decompositions, a per-rank entry with
// a redistribute() hook); `nm_state read DIR` restores it at M ranks and checks every element
// of the global state, bit for bit, against what was written (each value is a function of its
// global index). Prints "nm_state: ok" on rank 0 when every rank passed. With
// NM_STATE_COMPRESSION=lz4 or deflate:N, every entry is declared with that compression (a
// restore needs none: what is compressed is read back through the file's own filters). With
// NM_STATE_INCREMENTAL=1, `write` checkpoints twice with incremental versions on: the second
// version links every entry to the first (nothing changed), so `read` restores through links.
#include <ckpt.hpp>
#include <ckpt/boost.hpp>

#include <hdf5.h>
#include <mpi.h>

#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int rank = 0, size = 1;
int failures = 0;

#define EXPECT(cond, ...)                                                \
    do {                                                                 \
        if (!(cond)) {                                                   \
            ++failures;                                                  \
            std::fprintf(stderr, "nm_state: rank %d: ", rank);           \
            std::fprintf(stderr, __VA_ARGS__);                           \
            std::fprintf(stderr, "\n");                                  \
        }                                                                \
    } while (0)

struct Params {
    std::string label;
    std::vector<int> ids;
    double dt = 0;
    template <class Ar>
    void serialize(Ar& ar, unsigned) {
        ar & label & ids & dt;
    }
};

// An uneven split of n over p parts: part i gets n/p plus one for the last n%p parts.
std::uint64_t part_size(std::uint64_t n, int p, int i) { return n / p + (static_cast<std::uint64_t>(i) >= p - n % p ? 1 : 0); }
std::uint64_t part_start(std::uint64_t n, int p, int i) {
    std::uint64_t s = 0;
    for (int k = 0; k < i; ++k) s += part_size(n, p, k);
    return s;
}
// The most square px * py = p (px <= py).
void grid2(int p, int& px, int& py) {
    px = 1;
    for (int d = 1; d * d <= p; ++d)
        if (p % d == 0) px = d;
    py = p / px;
}

double value2(std::uint64_t i, std::uint64_t j) { return std::sin(0.37 * double(i)) * 1000.0 + double(j) / 7.0; }
std::int32_t value3(std::uint64_t i, std::uint64_t j, std::uint64_t k) { return std::int32_t(i * 10007 + j * 101 + k); }
double particle(std::uint64_t g) { return std::sqrt(double(g)) + 0.25; }
std::uint64_t written_count(int r) { return static_cast<std::uint64_t>((r * 7) % 5 + 2 * r + (r == 1 ? 0 : 3)); }  // rank 1: none
std::int64_t tally_value(int k, int i) { return std::int64_t(k) * 1000 + i; }

constexpr std::uint64_t G2[2] = {37, 23};
constexpr std::uint64_t G3[3] = {11, 9, 7};
constexpr std::uint64_t ghost2 = 1, ghost3 = 2;

struct State {
    std::int64_t step = 0;
    double time = 0;
    Params params;
    std::vector<double> table;        // replicated vector
    std::vector<double> particles;    // concatenated, even split on restore
    std::vector<std::int64_t> ids;    // concatenated, split() on restore
    std::vector<double> u;            // 2-D block with ghosts
    std::vector<std::int32_t> w;      // 3-D block with ghosts
    std::vector<std::int64_t> tally;  // per-rank, redistribute() hook
    std::uint64_t b2_origin[2], b2_count[2], b3_origin[3], b3_count[3];
};

void decompose(State& s) {
    int px, py;
    grid2(size, px, py);
    const int ri = rank / py, rj = rank % py;
    s.b2_origin[0] = part_start(G2[0], px, ri), s.b2_count[0] = part_size(G2[0], px, ri);
    s.b2_origin[1] = part_start(G2[1], py, rj), s.b2_count[1] = part_size(G2[1], py, rj);
    // 3-D: split dimension 0 over p / q ranks and dimension 2 over q (q = 2 when p is even).
    const int q = size % 2 == 0 ? 2 : 1, p0 = size / q;
    const int a = rank / q, c = rank % q;
    s.b3_origin[0] = part_start(G3[0], p0, a), s.b3_count[0] = part_size(G3[0], p0, a);
    s.b3_origin[1] = 0, s.b3_count[1] = G3[1];
    s.b3_origin[2] = part_start(G3[2], q, c), s.b3_count[2] = part_size(G3[2], q, c);
    s.u.assign((s.b2_count[0] + 2 * ghost2) * (s.b2_count[1] + 2 * ghost2), -1.0);  // ghosts: -1, never written
    s.w.assign((s.b3_count[0] + 2 * ghost3) * (s.b3_count[1] + 2 * ghost3) * (s.b3_count[2] + 2 * ghost3), -7);
}

std::size_t at2(const State& s, std::uint64_t i, std::uint64_t j) {  // local interior index -> memory
    return (i + ghost2) * (s.b2_count[1] + 2 * ghost2) + (j + ghost2);
}
std::size_t at3(const State& s, std::uint64_t i, std::uint64_t j, std::uint64_t k) {
    return ((i + ghost3) * (s.b3_count[1] + 2 * ghost3) + (j + ghost3)) * (s.b3_count[2] + 2 * ghost3) + (k + ghost3);
}

std::uint64_t id_split(std::uint64_t total, int r, int p) {  // everything to the last rank but the first 3 to rank 0
    if (p == 1) return total;
    const std::uint64_t first = std::min<std::uint64_t>(3, total);
    return r == 0 ? first : r == p - 1 ? total - first : 0;
}

/// Every entry's declaration, with NM_STATE_COMPRESSION's compression when it is set.
ckpt::Distribution declared(ckpt::Distribution d) {
    const char* c = std::getenv("NM_STATE_COMPRESSION");
    if (c == nullptr || *c == '\0') return d;
    if (std::strcmp(c, "lz4") == 0) return std::move(d).compress(ckpt::Compression::lz4());
    if (std::strncmp(c, "deflate:", 8) == 0) return std::move(d).compress(ckpt::Compression::deflate(std::atoi(c + 8)));
    std::fprintf(stderr, "nm_state: bad NM_STATE_COMPRESSION=%s\n", c);
    std::exit(2);
}

void protect(ckpt::Checkpointer& cp, State& s) {
    const std::vector<std::uint64_t> m2 = {s.b2_count[0] + 2 * ghost2, s.b2_count[1] + 2 * ghost2};
    const std::vector<std::uint64_t> m3 = {s.b3_count[0] + 2 * ghost3, s.b3_count[1] + 2 * ghost3, s.b3_count[2] + 2 * ghost3};
    cp.schema_version(7);
    cp.protect("step", s.step, declared(ckpt::replicated()))
        .protect("time", s.time, declared(ckpt::replicated()))
        .protect("params", s.params, declared(ckpt::replicated()))
        .protect("table", s.table, declared(ckpt::replicated()))
        .protect("particles", s.particles, declared(ckpt::concatenated()))
        .protect("ids", s.ids, declared(ckpt::concatenated().split(id_split)))
        .protect("u", ckpt::ArrayView<double>(s.u.data(), {m2[0], m2[1]}),
                 declared(ckpt::block({G2[0], G2[1]}, {s.b2_origin[0], s.b2_origin[1]}, {s.b2_count[0], s.b2_count[1]})
                              .ghosts({ghost2, ghost2})))
        .protect("w", ckpt::ArrayView<std::int32_t>(s.w.data(), {m3[0], m3[1], m3[2]}),
                 declared(ckpt::block({G3[0], G3[1], G3[2]}, {s.b3_origin[0], s.b3_origin[1], s.b3_origin[2]},
                                      {s.b3_count[0], s.b3_count[1], s.b3_count[2]})
                              .ghosts({ghost3, ghost3, ghost3})))
        .protect("tally", s.tally, declared(ckpt::per_rank()).redistribute([&s](ckpt::StoredParts& parts) {
            // Rank j takes over the stored ranks k with k % size == j, in order.
            s.tally.clear();
            for (int k = rank; k < parts.ranks(); k += size) {
                std::vector<std::int64_t> old;
                parts.read(k, old);
                s.tally.insert(s.tally.end(), old.begin(), old.end());
            }
        }));
}

int write(const std::string& dir) {
    State s;
    decompose(s);
    s.step = 4242;
    s.time = 1.0 / 3.0;
    s.params = {"nm", {1, 2, 3}, 0.125};
    s.table = {2.5, -1.0, 1e300};
    std::uint64_t first = 0;
    for (int r = 0; r < rank; ++r) first += written_count(r);
    for (std::uint64_t i = 0; i < written_count(rank); ++i) {
        s.particles.push_back(particle(first + i));
        s.ids.push_back(static_cast<std::int64_t>(first + i) * 3);
    }
    for (std::uint64_t i = 0; i < s.b2_count[0]; ++i)
        for (std::uint64_t j = 0; j < s.b2_count[1]; ++j) s.u[at2(s, i, j)] = value2(s.b2_origin[0] + i, s.b2_origin[1] + j);
    for (std::uint64_t i = 0; i < s.b3_count[0]; ++i)
        for (std::uint64_t j = 0; j < s.b3_count[1]; ++j)
            for (std::uint64_t k = 0; k < s.b3_count[2]; ++k)
                s.w[at3(s, i, j, k)] = value3(s.b3_origin[0] + i, j, s.b3_origin[2] + k);
    for (int i = 0; i < 3 + rank; ++i) s.tally.push_back(tally_value(rank, i));
    ckpt::Options o;
    o.dir = dir;
    const bool incremental = std::getenv("NM_STATE_INCREMENTAL") != nullptr;
    if (incremental) o.incremental = 2;
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    protect(cp, s);
    const std::string first_path = cp.checkpoint();
    if (incremental) {
        const std::string second = cp.checkpoint();
        if (rank == 0) {  // every leaf of the second version is a link to the first
            const hid_t f = H5Fopen(second.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
            for (const char* leaf : {"/state/step", "/state/u", "/state/particles", "/layout/w"}) {
                H5L_info_t info;
                EXPECT(f >= 0 && H5Lget_info(f, leaf, &info, H5P_DEFAULT) >= 0 && info.type == H5L_TYPE_EXTERNAL,
                       "%s of %s is not an external link", leaf, second.c_str());
            }
            if (f >= 0) H5Fclose(f);
        }
        EXPECT(failures == 0, "the incremental version is not linked to %s", first_path.c_str());
        if (failures) return 1;
    }
    return 0;
}

int read(const std::string& dir, int written_by) {
    State s;
    decompose(s);
    ckpt::Options o;
    o.dir = dir;
    o.restart.kind = ckpt::RestartKind::Latest;
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    protect(cp, s);
    EXPECT(cp.restore_if_requested(), "nothing restored");
    EXPECT(cp.restored_ranks() == written_by, "restored_ranks() %d, written by %d", cp.restored_ranks(), written_by);
    EXPECT(cp.restored_schema_version() == 7, "schema version %lld", (long long)cp.restored_schema_version());
    EXPECT(s.step == 4242 && s.time == 1.0 / 3.0, "replicated scalars");
    EXPECT(s.params.label == "nm" && s.params.ids == std::vector<int>({1, 2, 3}) && s.params.dt == 0.125, "params");
    EXPECT(s.table == std::vector<double>({2.5, -1.0, 1e300}), "table");
    std::uint64_t total = 0;
    for (int r = 0; r < written_by; ++r) total += written_count(r);
    // particles: the even split (or each rank's own part on the same rank count)
    std::uint64_t first = 0, count = 0;
    if (written_by == size) {
        for (int r = 0; r < rank; ++r) first += written_count(r);
        count = written_count(rank);
    } else {
        for (int r = 0; r < rank; ++r) first += total / size + (static_cast<std::uint64_t>(r) < total % size ? 1 : 0);
        count = total / size + (static_cast<std::uint64_t>(rank) < total % size ? 1 : 0);
    }
    EXPECT(s.particles.size() == count, "particles: %zu, expected %llu", s.particles.size(), (unsigned long long)count);
    for (std::size_t i = 0; i < s.particles.size() && i < count; ++i)
        EXPECT(s.particles[i] == particle(first + i), "particle %zu", i);
    // ids: split()
    std::uint64_t ifirst = 0;
    for (int r = 0; r < rank; ++r) ifirst += id_split(total, r, size);
    const std::uint64_t icount = id_split(total, rank, size);
    EXPECT(s.ids.size() == icount, "ids: %zu, expected %llu", s.ids.size(), (unsigned long long)icount);
    for (std::size_t i = 0; i < s.ids.size() && i < icount; ++i)
        EXPECT(s.ids[i] == static_cast<std::int64_t>(ifirst + i) * 3, "id %zu", i);
    // blocks: every interior element from the global function, every ghost untouched
    const std::uint64_t n1 = s.b2_count[1] + 2 * ghost2;
    for (std::uint64_t i = 0; i < s.b2_count[0] + 2 * ghost2; ++i)
        for (std::uint64_t j = 0; j < n1; ++j) {
            const bool interior = i >= ghost2 && i < s.b2_count[0] + ghost2 && j >= ghost2 && j < s.b2_count[1] + ghost2;
            const double want = interior ? value2(s.b2_origin[0] + i - ghost2, s.b2_origin[1] + j - ghost2) : -1.0;
            EXPECT(std::memcmp(&s.u[i * n1 + j], &want, sizeof want) == 0, "u(%llu,%llu)", (unsigned long long)i,
                   (unsigned long long)j);
        }
    for (std::uint64_t i = 0; i < s.b3_count[0]; ++i)
        for (std::uint64_t j = 0; j < s.b3_count[1]; ++j)
            for (std::uint64_t k = 0; k < s.b3_count[2]; ++k)
                EXPECT(s.w[at3(s, i, j, k)] == value3(s.b3_origin[0] + i, j, s.b3_origin[2] + k), "w(%llu,%llu,%llu)",
                       (unsigned long long)i, (unsigned long long)j, (unsigned long long)k);
    std::size_t ghosts = 0;
    for (auto v : s.w) ghosts += v == -7;
    EXPECT(ghosts == s.w.size() - s.b3_count[0] * s.b3_count[1] * s.b3_count[2], "w's ghosts were written");
    // tally: own part on the same rank count, else the parts k % size == rank in order
    std::vector<std::int64_t> want;
    for (int k = written_by == size ? rank : rank; k < written_by; k += written_by == size ? written_by : size) {
        for (int i = 0; i < 3 + k; ++i) want.push_back(tally_value(k, i));
        if (written_by == size) break;
    }
    EXPECT(s.tally == want, "tally (%zu values, expected %zu)", s.tally.size(), want.size());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int status = 2;
    const std::string mode = argc > 2 ? argv[1] : "";
    try {
        if (mode == "write") status = write(argv[2]);
        else if (mode == "read" && argc > 3) status = read(argv[2], std::atoi(argv[3]));
        else if (rank == 0) std::fprintf(stderr, "usage: nm_state write DIR | read DIR WRITTEN_BY\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nm_state: rank %d: %s\n", rank, e.what());
        ++failures;
    }
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (total) status = 1;
    if (rank == 0 && status == 0) std::printf("nm_state: ok (%d ranks)\n", size);
    MPI_Finalize();
    return status;
}
