// Main for the serial unit tests. MPI is initialised lazily by the first Checkpointer (singleton
// MPI), exactly as in a serial application that never mentions MPI.
// Catch's own SIGTERM/SIGINT handlers would turn the signals that the signal tests raise on
// purpose into "fatal error" reports; ckpt's handlers are what is under test.
#define CATCH_CONFIG_NO_POSIX_SIGNALS
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
