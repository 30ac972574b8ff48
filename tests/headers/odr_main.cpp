// Links odr_a.cpp and odr_b.cpp, which both include <ckpt.hpp>: a non-inline function or variable
// defined in a ckpt header would be a multiple-definition link error.
#include <cstdio>
#include <string>

std::string odr_a();
std::string odr_b();

int main() {
    const std::string a = odr_a();
    const std::string b = odr_b();
    std::printf("%s\n%s\n", a.c_str(), b.c_str());
    const bool ok = a.rfind("ckpt: ", 0) == 0 && b.rfind("ckpt: ", 0) == 0 && a != b;
    return ok ? 0 : 1;
}
