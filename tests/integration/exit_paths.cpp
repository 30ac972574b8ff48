// How a program ends when ckpt decides, or fails, in the ways real applications are written.
//   exit_paths write DIR            writes one version of a 3-element array "a"
//   exit_paths uncaught DIR         protects "a" with 4 elements and catches nothing (MismatchError)
//   exit_paths bad-option DIR       builds a Checkpointer from a command line with a bad --checkpoint
//                                   value and catches nothing (ConfigError, in the constructor)
//   exit_paths guard-app-init DIR   calls MPI_Init itself, returns main_guard(...) without MPI_Finalize;
//                                   rank 0 asks to checkpoint and exit at step 5 (status 85)
//   exit_paths finalize-first DIR   calls MPI_Finalize while the Checkpointer still exists
//   exit_paths async-finalize-first DIR   the same with an asynchronous checkpoint still in flight:
//                                   MPI_Finalize must drain and commit it (docs/async.md)
//   exit_paths async-single DIR     asynchronous checkpoints under MPI_Init's MPI_THREAD_SINGLE:
//                                   a ConfigError from the constructor (64)
#include <ckpt.hpp>

#include <mpi.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {
ckpt::Options in(const char* dir, ckpt::RestartKind restart) {
    ckpt::Options o;
    o.dir = dir;
    o.restart.kind = restart;
    return o;
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: exit_paths write|uncaught|bad-option|guard-app-init|finalize-first|"
                             "async-finalize-first|async-single DIR\n");
        return 2;
    }
    const std::string mode = argv[1];
    const char* dir = argv[2];
    if (mode == "write") {
        std::array<double, 3> a{1, 2, 3};
        ckpt::Checkpointer cp(in(dir, ckpt::RestartKind::None));
        cp.protect("a", a);
        cp.checkpoint();
        return 0;
    }
    if (mode == "uncaught") {  // as docs/getting-started.md: no try, no main_guard
        std::array<double, 4> a{};
        ckpt::Checkpointer cp(in(dir, ckpt::RestartKind::Latest));
        cp.protect("a", a);
        cp.restore_if_requested();  // throws MismatchError on every rank
        std::puts("not reached");
        return 0;
    }
    if (mode == "bad-option") {  // the README's program, run with a typo in --checkpoint
        std::string name = argv[0], flag = "--checkpoint", value = "evrey=100", dir_flag = "--checkpoint-dir";
        std::string where = dir;
        char* args[] = {name.data(), flag.data(), value.data(), dir_flag.data(), where.data(), nullptr};
        int count = 5;
        ckpt::Checkpointer cp(count, args, MPI_COMM_WORLD);  // throws ConfigError on every rank
        std::puts("not reached");
        return 0;
    }
    if (mode == "guard-app-init") {
        MPI_Init(&argc, &argv);
        return ckpt::main_guard([&] {
            long step = 0;
            ckpt::Checkpointer cp(in(dir, ckpt::RestartKind::None));
            cp.protect("step", step);
            int rank = 0;
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);
            for (step = 1; step < 100000; ++step) {
                if (step == 5 && rank == 0) cp.request_checkpoint(ckpt::Action::Exit);
                cp.poll(step);
            }
            return 0;
        });
    }
    if (mode == "finalize-first") {
        MPI_Init(&argc, &argv);
        std::array<double, 3> a{1, 2, 3};
        ckpt::Checkpointer cp(in(dir, ckpt::RestartKind::None));
        cp.protect("a", a);
        cp.checkpoint();
        MPI_Finalize();  // the adopter's order: domain deleted, MPI finalised, then cp goes
        std::puts("finalized");
        return 0;
    }
    if (mode == "async-finalize-first") {
        int provided = 0;
        MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
        std::vector<double> a(1 << 20, 1.5);
        ckpt::Options o = in(dir, ckpt::RestartKind::None);
        o.async = 1;
        ckpt::Checkpointer cp(o);
        cp.protect("a", a);
        cp.checkpoint();  // returns before the data is durable
        MPI_Finalize();   // drains: the version is committed here
        std::puts("finalized");
        return 0;
    }
    if (mode == "async-single") {
        MPI_Init(&argc, &argv);  // MPICH: MPI_THREAD_SINGLE
        ckpt::Options o = in(dir, ckpt::RestartKind::None);
        o.async = 1;
        ckpt::Checkpointer cp(o);  // throws ConfigError on every rank
        std::puts("not reached");
        return 0;
    }
    std::fprintf(stderr, "exit_paths: unknown mode %s\n", argv[1]);
    return 2;
}
