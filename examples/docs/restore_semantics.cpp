// What a restore does to each kind of object, and the order of the hooks (docs/getting-started.md).
//   ./restore_semantics                      # writes ./ckpt/ckpt.000001.h5
//   ./restore_semantics --restart latest     # restores it and prints what changed
#include <ckpt.hpp>

#include <array>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);

    std::vector<double> particles(5, 1.0);  // resizable: takes the stored length
    std::array<int, 3> box{4, 4, 4};        // fixed shape: the stored shape must match
    double grid[2][3] = {{1, 2, 3}, {4, 5, 6}};
    cp.protect("particles", particles)
        .protect("box", box)
        .protect("grid", ckpt::ArrayView<double>(&grid[0][0], {2, 3}));  // a view: same extents on restore

    // Checkpoint hooks run in registration order before anything is written;
    // restart hooks run in reverse order after everything is restored.
    cp.on_checkpoint([] { std::cout << "on_checkpoint 1 (e.g. copy device data to the host)\n"; })
        .on_checkpoint([] { std::cout << "on_checkpoint 2\n"; });
    cp.on_restart([] { std::cout << "on_restart 1 runs last (e.g. rebuild derived state)\n"; })
        .on_restart([] { std::cout << "on_restart 2 runs first\n"; });

    if (cp.restore_if_requested()) {
        std::cout << "particles: " << particles.size() << " elements (declared with 5)\n";
        return 0;
    }
    particles.resize(7);
    const std::string path = cp.checkpoint();  // runs the checkpoint hooks, then writes
    std::cout << "wrote " << path << "\n";
}
