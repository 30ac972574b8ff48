// docs/compression.md: an entry's own compression, whatever the job's default. Run twice:
//   mpiexec -n 2 ./doc_compression                    (writes ckpt/ckpt.000001.h5)
//   mpiexec -n 2 ./doc_compression --restart latest   (restores it; checks every value)
// The second run prints how each entry is stored, read back from the file with HDF5.
#include <ckpt.hpp>

#include <hdf5.h>
#include <mpi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {
/// "lz4", "deflate" or "none": the last filter of a dataset's pipeline.
std::string filter_of(const std::string& file, const char* object) {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t d = H5Dopen2(f, object, H5P_DEFAULT);
    const hid_t dcpl = H5Dget_create_plist(d);
    const int n = H5Pget_nfilters(dcpl);
    unsigned flags = 0;
    std::size_t elements = 0;
    const H5Z_filter_t last = n > 0 ? H5Pget_filter2(dcpl, static_cast<unsigned>(n - 1), &flags, &elements, nullptr, 0,
                                                     nullptr, nullptr)
                                    : H5Z_FILTER_NONE;
    H5Pclose(dcpl);
    H5Dclose(d);
    H5Fclose(f);
    return last == 32004 ? "lz4" : last == H5Z_FILTER_DEFLATE ? "deflate" : "none";
}
}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    const int status = ckpt::main_guard([&] {
        ckpt::Options defaults;
        defaults.compression = ckpt::Compression::lz4();  // the job's default, for the rng to refuse
        ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD, defaults);
        const std::uint64_t rank = static_cast<std::uint64_t>(cp.rank()), size = static_cast<std::uint64_t>(cp.size());

        // A global 256 x 128 grid in slabs of rows; a mesh per rank; a generator's state.
        const std::uint64_t rows = 256 / size, nx = 128;
        std::vector<double> u(rows * nx);
        for (std::size_t k = 0; k < u.size(); ++k) u[k] = std::exp(-1e-4 * static_cast<double>(k + rank * u.size()));
        std::vector<std::int32_t> mesh(50000);
        for (std::size_t k = 0; k < mesh.size(); ++k) mesh[k] = static_cast<std::int32_t>(k / 8 + rank);
        std::vector<std::uint64_t> rng(312, 0x9e3779b97f4a7c15ULL * (rank + 1));
        const std::vector<double> u0 = u;
        const std::vector<std::int32_t> mesh0 = mesh;
        const std::vector<std::uint64_t> rng0 = rng;
        ckpt::ArrayView<double> u_view(u.data(), {rows, nx});
        const ckpt::Extents global{rows * size, nx}, offset{rows * rank, std::uint64_t{0}}, count{rows, nx};

        cp.protect("u", u_view, ckpt::block(global, offset, count).compress(ckpt::Compression::lz4()));
        cp.protect("mesh", mesh, ckpt::per_rank().compress(ckpt::Compression::deflate(4)));
        cp.protect("rng", rng, ckpt::per_rank().compress(ckpt::Compression::off()));  // never, whatever the default

        if (cp.restore_if_requested()) {
            int exact = u == u0 && mesh == mesh0 && rng == rng0 ? 1 : 0;
            MPI_Allreduce(MPI_IN_PLACE, &exact, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
            if (cp.rank() == 0) {
                const std::string file = cp.last_path();
                std::printf("restored %s: %s; u %s, mesh %s, rng %s\n", file.c_str(), exact ? "exact" : "WRONG",
                            filter_of(file, "/state/u").c_str(), filter_of(file, "/state/mesh").c_str(),
                            filter_of(file, "/state/rng").c_str());
            }
            if (!exact) throw ckpt::UsageError({"the restored values differ from those written", "", "", -1, ""});
        } else {
            const std::string path = cp.checkpoint();
            if (cp.rank() == 0) std::printf("wrote %s\n", path.c_str());
        }
    });
    MPI_Finalize();
    return status;
}
