// Writes the checkpoint that docs/file-format.md dumps: one entry of each kind.
//   mpiexec -n 2 ./file_format && h5dump -H ckpt/ckpt.000001.h5
#include <ckpt.hpp>

#include <complex>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

struct Params {  // Boost path
    int n = 128;
    double dt = 0.01;
    template <class Archive>
    void serialize(Archive& ar, const unsigned /*version*/) {
        ar & n & dt;
    }
};

struct Mesh {  // custom codec: a group
    std::vector<double> coords;
    std::int32_t n = 0;
};
template <>
struct ckpt::codec<Mesh> {
    static void save(ckpt::Writer& w, const Mesh& m) { w.write("coords", m.coords).write("n", m.n); }
    static void load(ckpt::Reader& r, Mesh& m) { r.read("coords", m.coords).read("n", m.n); }
};

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    const int rank = cp.rank();

    std::int64_t step = 0;                                             // scalar
    std::vector<double> u(static_cast<std::size_t>(3 + rank), 1.5 * rank);  // 3 elements on rank 0, 4 on rank 1
    double grid[2][3] = {{1, 2, 3}, {4, 5, 6}};                        // 2-D through a view
    std::vector<std::complex<double>> z{{1, 2}, {3, 4}};               // {r, i} compound
    Params params;
    Mesh mesh{{0.0, 0.5, 1.0}, 3};

    cp.protect("step", step)
        .protect("u", u)
        .protect("grid", ckpt::ArrayView<double>(&grid[0][0], {2, 3}))
        .protect("z", z)
        .protect("params", params)
        .protect("mesh", mesh);
    cp.restore_if_requested();

    while (step < 4) {
        ++step;
        cp.poll(step);
    }
    const std::string path = cp.checkpoint();
    if (rank == 0) std::cout << path << "\n";
}
