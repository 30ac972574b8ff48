// A program built without liblz4 (no CKPT_HAVE_LZ4; tests/CMakeLists.txt links it without
// ckpt::lz4): compression=lz4 fails the checkpoint with a ConfigError that names the entry and
// how to get LZ4, and nothing is written; an LZ4 file (argv[2], written by a build with LZ4) fails
// its restore with a FormatError that is not corruption (never quarantined). Prints
// "no_lz4: ok" when both hold.   usage: no_lz4 DIR LZ4_FILE
#include <ckpt.hpp>

#include <mpi.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#if defined(CKPT_HAVE_LZ4) && CKPT_HAVE_LZ4
#error "no_lz4 must be built without CKPT_HAVE_LZ4"
#endif

namespace {
int failures = 0;
void expect(bool ok, const std::string& what) {
    if (!ok) {
        std::fprintf(stderr, "no_lz4: FAIL: %s\n", what.c_str());
        ++failures;
    }
}
}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    if (argc != 3) {
        std::fprintf(stderr, "usage: no_lz4 DIR LZ4_FILE\n");
        return 2;
    }
    const std::string dir = argv[1], lz4_file = argv[2];
    std::vector<double> u(100000, 1.0);
    {
        ckpt::Options o;
        o.dir = dir;
        o.compression = ckpt::Compression::lz4();
        ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
        cp.protect("u", u);
        try {
            cp.checkpoint();
            expect(false, "checkpoint() with lz4 succeeded without LZ4");
        } catch (const ckpt::ConfigError& e) {
            const std::string what = e.what();
            std::printf("%s\n", what.c_str());
            expect(what.find("\"u\"") != std::string::npos && what.find("lz4") != std::string::npos &&
                       what.find("liblz4-dev") != std::string::npos,
                   "the error names the entry, lz4 and liblz4-dev: " + what);
        }
        expect(ckpt::detail::list_versions(dir, "ckpt").empty(), "a version was written");
    }
    {
        ckpt::Options o;
        o.dir = dir;
        ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
        std::vector<double> table;
        cp.protect("table", table, ckpt::replicated());
        ckpt::RestartSpec spec;
        spec.kind = ckpt::RestartKind::Path;
        spec.target = lz4_file;
        try {
            cp.restore(spec);
            expect(false, "restored an LZ4 file without LZ4");
        } catch (const ckpt::FormatError& e) {
            const std::string what = e.what();
            std::printf("%s\n", what.c_str());
            expect(!e.corrupt(), "the missing filter counts as corruption: " + what);
            expect(what.find("filter this program does not have") != std::string::npos, "unclear: " + what);
        }
        expect(std::filesystem::exists(lz4_file) && !std::filesystem::exists(lz4_file + ".bad"), "the file was moved");
    }
    if (failures == 0) std::printf("no_lz4: ok\n");
    MPI_Finalize();
    return failures == 0 ? 0 : 1;
}
