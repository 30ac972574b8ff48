// Values set in code (docs/configuration.md). They are the lowest layer above the built-in
// defaults: CKPT_* variables override them, and command-line flags override those.
//   ./options                          # uses the values below
//   CKPT_DEPTH=5 ./options             # depth 5
//   ./options --checkpoint depth=1     # depth 1, even with CKPT_DEPTH=5
#include <ckpt.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <vector>

int main(int argc, char** argv) {
    ckpt::Options defaults;                        // the built-in defaults
    defaults.dir = "/tmp/ckpt-%j";                 // %j: the batch job id ("nojob" outside a job)
    defaults.depth = 3;                            // keep three complete versions
    defaults.mode.periodic = true;                 // checkpoint on a timer ...
    defaults.interval = std::chrono::minutes(30);  // ... every 30 minutes
    defaults.verbose = true;                       // rank 0 logs every value and where it came from

    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD, defaults);

    // The resolved values; describe() is the text logged when verbose is on.
    if (cp.rank() == 0) std::cout << "depth " << cp.options().depth << ", dir " << cp.options().dir << "\n";

    std::int64_t step = 0;
    std::vector<double> u(100, 0.0);
    cp.protect("step", step).protect("u", u);
    cp.restore_if_requested();
    while (step < 10) {
        ++step;
        cp.poll(step);
    }
}
