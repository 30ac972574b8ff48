// Compiles: the twin of boost_without_bridge.cpp, with the Boost bridge included.
// (<ckpt/boost.hpp> is the one line that differs.)
#define CKPT_SEPARATE_COMPILATION
#include <ckpt.hpp>
#include <ckpt/boost.hpp>

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
