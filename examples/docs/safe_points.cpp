// A solver that manages its own loop: it leaves by itself when ckpt says so, defers
// checkpoints while its mesh is being rebuilt, and asks for one from code when it converges.
#include <ckpt.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
    return ckpt::main_guard([&] {  // bad options exit 64, corrupt restarts 65, ... (docs/batch-contract.md section 6)
        std::vector<double> u(1000, 1.0);
        long step = 0;
        ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
        cp.protect("step", step).protect("u", u);
        cp.exit_policy(ckpt::ExitPolicy::Return);  // poll() returns; we leave below
        cp.restore_if_requested();

        bool converged_once = false;
        while (step < 5000 && !cp.should_exit()) {
            if (step % 1000 == 999) {
                ckpt::CriticalSection rebuilding(cp);  // a checkpoint now would see half a mesh
                for (double& x : u) x = std::sqrt(x);
                cp.poll(step);                         // agrees with the other ranks, acts later
            }
            for (double& x : u) x *= 0.9999;
            ++step;
            if (!converged_once && u[0] < 0.9) {
                cp.request_checkpoint();  // one rank asking is enough
                converged_once = true;
            }
            cp.poll(step);  // signals, requests, interval, halt: decided here, on every rank at once
        }
        if (cp.should_exit()) std::printf("leaving at step %ld with status %d\n", step, cp.exit_status());
        return cp.exit_status();  // 0, 85 after a shutdown checkpoint, 128+N without one
    });
}
