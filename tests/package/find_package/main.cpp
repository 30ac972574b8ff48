// Consumer of an installed ckpt: prints the version of the headers it was built against.
#include <ckpt.hpp>

#include <cstdio>

int main() {
    std::printf("ckpt %s\n", CKPT_VERSION_STRING);
    return 0;
}
