// Must not compile: in the compiled mode <ckpt.hpp> leaves <complex> out, so std::complex data
// needs <ckpt/complex.hpp>; the message says so.
#define CKPT_SEPARATE_COMPILATION
#include <ckpt.hpp>

#include <complex>
#include <vector>

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    std::vector<std::complex<double>> spectrum(4);
    cp.protect("spectrum", spectrum);
    return 0;
}
