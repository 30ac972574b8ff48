// Must not compile: protecting a temporary (it is gone before the first checkpoint).
#include <ckpt.hpp>

#include <vector>

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    cp.protect("v", std::vector<double>(3));
    return 0;
}
