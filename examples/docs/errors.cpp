// Handling ckpt errors (docs/errors.md): report, then leave with the exit code the batch-system
// contract gives each kind of error, so a job script can tell "fix the submission" (64) from
// "the checkpoint is bad" (65), "there is no checkpoint" (66) and "could not write" (74).
//   ./errors --restart latest        # in an empty directory: IoError (ENOENT), exit 66
//   CKPT_INTERVAL=10x ./errors       # ConfigError, exit 64
#include <ckpt.hpp>

#include <cerrno>
#include <cstdint>
#include <iostream>
#include <vector>

int run(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    std::int64_t step = 0;
    std::vector<double> u(100, 0.0);
    cp.protect("step", step).protect("u", u);
    cp.restore_if_requested();
    while (step < 10) {
        ++step;
        cp.poll(step);
    }
    return 0;
}

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const ckpt::MismatchError& e) {  // the checkpoint does not fit what is protected
        std::cerr << e.what() << "\n  application: " << e.expected() << "\n  checkpoint:  " << e.found() << "\n";
        return ckpt::exit_code(e);  // 65
    } catch (const ckpt::ConfigError& e) {  // names the option or variable and the bad value
        std::cerr << e.what() << "\n  fix " << e.option() << " (was \"" << e.value() << "\")\n";
        return ckpt::exit_code(e);  // 64
    } catch (const ckpt::IoError& e) {
        std::cerr << e.what() << "\n";
        if (!e.hdf5_stack().empty()) std::cerr << "HDF5 error stack:\n" << e.hdf5_stack();
        return ckpt::exit_code(e);  // 66 if errno_value() == ENOENT (nothing to restart from), else 74
    } catch (const ckpt::Error& e) {  // FormatError (65), UsageError and MpiError (70)
        std::cerr << e.what() << "\n";
        return ckpt::exit_code(e);
    }
}
