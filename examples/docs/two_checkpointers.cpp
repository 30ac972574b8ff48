// Two independent checkpointers in one program (docs/getting-started.md): the field is
// checkpointed as the command line says, slowly changing statistics every 50 steps, each in
// its own files.
//   ./two_checkpointers --checkpoint every=10    # ./ckpt/field.*.h5 and ./ckpt/stats.*.h5
//   ./two_checkpointers --checkpoint every=10 --restart latest
#include <ckpt.hpp>

#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    // The first checkpointer resolves --restart, --checkpoint..., CKPT_* and removes those flags
    // from argv, so a second one built from argv would not see them. Copy its options instead
    // and change what must differ: at least the file name prefix.
    ckpt::Options field_options;
    field_options.name = "field";  // a value set in code: CKPT_NAME or --checkpoint-name override it
    ckpt::Checkpointer field(argc, argv, MPI_COMM_WORLD, field_options);

    ckpt::Options stats_options = field.options();
    stats_options.name = "stats";
    stats_options.every = 50;  // implies periodic, as every= does (unless the mode is none)
    ckpt::Checkpointer stats(stats_options, MPI_COMM_WORLD);

    std::int64_t step = 0;
    std::vector<double> u(100, 1.0);
    std::map<std::string, double> statistics;  // a std::map takes the Boost path
    field.protect("step", step).protect("u", u);
    stats.protect("statistics", statistics);

    field.restore_if_requested();  // each restores from its own newest version
    stats.restore_if_requested();

    while (step < 100) {
        for (double& x : u) x *= 0.99;
        statistics["u0"] = u[0];
        ++step;
        field.poll(step);
        stats.poll(step);
    }
    std::cout << "field: " << field.last_path() << ", stats: " << stats.last_path() << "\n";
}
