// Must not compile: protecting a const object (restore could not write into it).
#include <ckpt.hpp>

#include <vector>

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    const std::vector<double> u(4);
    cp.protect("u", u);
    return 0;
}
