// The minimal program of docs/getting-started.md. Serial or MPI, unchanged:
//   ./getting_started --checkpoint every=100                    # ./ckpt/ckpt.000001.h5, ...
//   ./getting_started --checkpoint every=100 --restart latest   # resumes from the newest one
//   mpiexec -n 4 ./getting_started --checkpoint every=100
#include <ckpt.hpp>

#include <cstdint>
#include <iostream>
#include <vector>

int main(int argc, char** argv) {
    // Collective. Reads --restart, --checkpoint... and CKPT_*, and removes ckpt's flags from argv.
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);

    std::int64_t step = 0;              // the number of completed steps
    std::vector<double> u(1000, 1.0);   // this rank's part of the state
    cp.protect("step", step).protect("u", u);

    if (cp.restore_if_requested())
        std::cout << "rank " << cp.rank() << ": restored step " << step << " from " << cp.last_path() << "\n";

    const std::int64_t steps = 1000;
    while (step < steps) {
        for (double& x : u) x *= 0.999;  // advance the simulation by one step
        ++step;                          // now `step` steps are complete ...
        cp.poll(step);                   // ... and that is what a checkpoint here records
    }
    std::cout << "rank " << cp.rank() << ": u[0] = " << u[0] << "\n";
}
