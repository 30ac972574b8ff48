// Twin of unsupported_type.cpp that must compile: the struct has a Boost serialize member.
#include <ckpt.hpp>

struct Params {
    int n = 0;
    double x = 0.0;
    template <class Archive>
    void serialize(Archive& ar, const unsigned int /*version*/) {
        ar & n;
        ar & x;
    }
};

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    Params o;
    cp.protect("o", o);
    return 0;
}
