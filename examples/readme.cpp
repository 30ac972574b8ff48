#include <ckpt.hpp>

int main(int argc, char** argv) {
    std::vector<double> u(1 << 20, 1.0);
    long step = 0;
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);  // --restart latest, --checkpoint every=100, CKPT_*
    cp.protect("step", step).protect("u", u);
    cp.restore_if_requested();
    while (step < 1000) {
        for (double& x : u) x *= 0.999;  // advance the simulation one step
        ++step;                          // completed steps: what a checkpoint records
        cp.poll(step);                   // safe point: checkpoints when due
    }
}
