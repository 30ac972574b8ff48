// One of two translation units that include all of ckpt (see header_tests.cmake).
#include <ckpt.hpp>

#include <string>

std::string odr_b() { return ckpt::UsageError::duplicate_name("b").what(); }
