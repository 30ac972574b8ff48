// Must not compile: in the compiled mode <ckpt.hpp> leaves Boost out, so a type with a Boost
// serialize() member needs <ckpt/boost.hpp>; the message says so.
#define CKPT_SEPARATE_COMPILATION
#include <ckpt.hpp>

struct Params {
    double dt = 0;
    template <class Archive>
    void serialize(Archive& ar, unsigned) {
        ar & dt;
    }
};

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    Params p;
    cp.protect("params", p);
    return 0;
}
