// Twin of temporary.cpp that must compile: the same vector as a named lvalue.
#include <ckpt.hpp>

#include <vector>

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    std::vector<double> v(3);
    cp.protect("v", v);
    return 0;
}
