// Path 2 of docs/extending.md: contiguous arithmetic data goes straight to a typed HDF5
// dataset, without a copy.
#include <ckpt.hpp>

#include <array>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

namespace physics {

// A type of your own whose storage is contiguous numbers.
class Field {
public:
    Field(std::size_t nx, std::size_t ny) : nx_(nx), ny_(ny), data_(nx * ny, 0.0) {}
    double& at(std::size_t i, std::size_t j) { return data_[i * ny_ + j]; }
    std::size_t nx() const { return nx_; }
    std::size_t ny() const { return ny_; }
    double* data() { return data_.data(); }

private:
    std::size_t nx_, ny_;
    std::vector<double> data_;
};

// The ADL hook: a free function in Field's namespace that returns a view of its storage.
// Field is now checkpointed like a 2-D array; a restore needs the same nx and ny.
inline ckpt::ArrayView<double> ckpt_view(Field& f) { return {f.data(), {f.nx(), f.ny()}}; }

}  // namespace physics

static_assert(ckpt::is_checkpointable_v<physics::Field>);

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);

    std::int64_t step = 0;                        // scalars: any arithmetic type, and std::complex
    std::complex<double> phase{1.0, 0.0};         // stored as the {r, i} compound h5py reads
    std::vector<float> density(1000);             // std::vector: resized on restore
    std::string label = "run A";                  // std::string: a char dataset, resized on restore
    std::array<int, 3> dims{64, 64, 1};           // std::array and C arrays: fixed size
    double bounds[2] = {0.0, 1.0};

    // A view of part of a buffer: the interior of a (rows + 2) x cols array with halo rows.
    const std::size_t rows = 8, cols = 16;
    std::vector<double> with_halo((rows + 2) * cols);
    ckpt::ArrayView<double> interior(with_halo.data() + cols, {rows, cols});

    physics::Field field(32, 32);

    cp.protect("step", step)
        .protect("phase", phase)
        .protect("density", density)
        .protect("label", label)
        .protect("dims", dims)
        .protect("bounds", bounds)
        .protect("interior", interior)  // a named view ...
        .protect("edge", ckpt::ArrayView<double>(with_halo.data(), {cols}))  // ... or a temporary one
        .protect("field", field);       // through ckpt_view()

    if (cp.restore_if_requested()) {
        std::cout << "restored step " << step << ", label \"" << label << "\"\n";
        return 0;
    }
    step = 42;
    field.at(1, 2) = 3.0;
    std::cout << "wrote " << cp.checkpoint() << "\n";
}
