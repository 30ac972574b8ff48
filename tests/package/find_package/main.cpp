// Consumer of an installed ckpt. Run twice by run_package_test.cmake:
//   main --checkpoint-dir DIR                  writes a checkpoint, prints "ckpt <version> wrote"
//   main --checkpoint-dir DIR --restart latest restores it, prints "ckpt <version> restored"
// so the headers, HDF5, MPI and Boost.Serialization all resolve through ckpt::ckpt.
#include <ckpt.hpp>

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    std::vector<double> u(3, 0.0);
    cp.protect("u", u);
    if (cp.restore_if_requested()) {
        if (u != std::vector<double>{1.0, 2.0, 3.0}) {
            std::fprintf(stderr, "restored u differs from the checkpointed one\n");
            return 1;
        }
        std::printf("ckpt %s restored\n", CKPT_VERSION_STRING);
    } else {
        u = {1.0, 2.0, 3.0};
        cp.checkpoint();
        std::printf("ckpt %s wrote\n", CKPT_VERSION_STRING);
    }
    return 0;
}
