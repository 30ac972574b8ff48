// Must not compile: a type with no checkpoint path (not direct, no Boost serialize, no codec).
#include <ckpt.hpp>

struct Opaque {
    int* p;
};

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    Opaque o{nullptr};
    cp.protect("o", o);
    return 0;
}
