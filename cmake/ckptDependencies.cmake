# Finds ckpt's dependencies. Used by ckpt's own build and, installed, by ckptConfig.cmake,
# so a consumer re-finds them in its own environment (HighFive, Umpire).

# Our own policy settings, whatever the includer's cmake_minimum_required() (IN_LIST below needs
# CMP0057; tests/package/old_cmake). 3.11: the oldest CMake whose target_link_libraries() can set up
# the imported HDF5::HDF5 below. No return() before the POP at the end of the file.
cmake_policy(PUSH)
cmake_policy(VERSION 3.11...3.25)

# FindHDF5's C component try_compile()s a .c file and FindMPI's C component needs C enabled, so a
# consumer with project(app LANGUAGES CXX) would fail in find_package(ckpt) (CMake 3.25). Enable C
# here instead of asking every consumer to (tested by tests/package/find_package).
get_property(_ckpt_languages GLOBAL PROPERTY ENABLED_LANGUAGES)
if(NOT "C" IN_LIST _ckpt_languages)
  enable_language(C)
endif()
unset(_ckpt_languages)

# Debian installs the serial and MPICH HDF5 side by side; without this the serial one wins.
set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR
    "ckpt needs a parallel (MPI) HDF5, but found a serial HDF5 at ${HDF5_INCLUDE_DIRS}. "
    "On Debian/Ubuntu: apt-get install libhdf5-mpich-dev")
endif()
set(MPI_CXX_SKIP_MPICXX TRUE)  # C API from C++; no deprecated C++ bindings
find_package(MPI REQUIRED COMPONENTS C CXX)
find_package(Boost 1.74 REQUIRED COMPONENTS serialization)

# FindHDF5 before CMake 3.19 has no imported target; ours always does.
if(NOT TARGET HDF5::HDF5)
  add_library(HDF5::HDF5 INTERFACE IMPORTED)
  target_include_directories(HDF5::HDF5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
  target_link_libraries(HDF5::HDF5 INTERFACE ${HDF5_C_LIBRARIES})
  target_compile_definitions(HDF5::HDF5 INTERFACE ${HDF5_C_DEFINITIONS})
endif()

# LZ4, optional: compression=lz4 (docs/compression.md). Where liblz4 is found, ckpt::lz4 exists
# and ckpt's targets define CKPT_HAVE_LZ4 and link it; without it, lz4 is refused at run time
# with a message that says how to get it. -DCKPT_WITH_LZ4=OFF leaves it out on purpose.
if(NOT DEFINED CKPT_WITH_LZ4 OR CKPT_WITH_LZ4)
  find_path(CKPT_LZ4_INCLUDE_DIR lz4.h)
  find_library(CKPT_LZ4_LIBRARY lz4)
  if(CKPT_LZ4_INCLUDE_DIR AND CKPT_LZ4_LIBRARY AND NOT TARGET ckpt::lz4)
    add_library(ckpt::lz4 INTERFACE IMPORTED)
    set_target_properties(ckpt::lz4 PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${CKPT_LZ4_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${CKPT_LZ4_LIBRARY}"
      INTERFACE_COMPILE_DEFINITIONS "CKPT_HAVE_LZ4=1")
  endif()
endif()

cmake_policy(POP)
