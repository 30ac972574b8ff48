// One of two translation units that include all of ckpt (see header_tests.cmake).
#include <ckpt.hpp>

#include <string>

std::string odr_a() { return ckpt::UsageError::duplicate_name("a").what(); }
