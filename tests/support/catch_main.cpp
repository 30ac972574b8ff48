// Main for the serial unit tests. MPI is initialised lazily by the first Checkpointer (singleton
// MPI), exactly as in a serial application that never mentions MPI.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
