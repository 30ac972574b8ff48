// Twin of const_object.cpp that must compile: the same vector, not const.
#include <ckpt.hpp>

#include <vector>

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    std::vector<double> u(4);
    cp.protect("u", u);
    return 0;
}
