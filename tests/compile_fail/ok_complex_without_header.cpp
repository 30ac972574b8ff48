// Compiles: the twin of complex_without_header.cpp, with <ckpt/complex.hpp> included.
// (That include is the one line that differs.)
#define CKPT_SEPARATE_COMPILATION
#include <ckpt.hpp>
#include <ckpt/complex.hpp>

#include <complex>
#include <vector>

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    std::vector<std::complex<double>> spectrum(4);
    cp.protect("spectrum", spectrum);
    return 0;
}
