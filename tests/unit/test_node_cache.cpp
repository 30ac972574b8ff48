// The node cache's file transfer (ckpt/detail/node_cache.hpp): a cached part travels as its data
// without its holes and is written back as the same file, holes again holes.
#include "testing.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using ckpt::testing::TempDir;

namespace {

std::string contents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// A 64 MiB file with 4 KiB of data at its start and at 32 MiB, holes elsewhere.
void write_sparse(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    const std::string a(4096, 'a'), b(4096, 'b');
    REQUIRE(::pwrite(fd, a.data(), a.size(), 0) == 4096);
    REQUIRE(::pwrite(fd, b.data(), b.size(), 32 << 20) == 4096);
    REQUIRE(::ftruncate(fd, 64 << 20) == 0);
    ::close(fd);
}

}  // namespace

TEST_CASE("a file image leaves holes out and writes back the same bytes", "[unit][multilevel]") {
    TempDir dir;
    write_sparse(dir / "part");
    const std::vector<char> image = ckpt::detail::read_file_image(dir / "part");
    // The data, its extents and two words; far below the 64 MiB of the file (where the file
    // system reports holes: any Linux one ckpt writes to does).
    CHECK(image.size() < (1u << 20));
    const auto id = ckpt::detail::write_file_image(dir / "copy", image);
    CHECK(id.ino != 0);
    CHECK(fs::file_size(dir / "copy") == (64u << 20));
    CHECK(contents(dir / "copy") == contents(dir / "part"));
    struct stat st {};
    REQUIRE(::stat((dir / "copy").c_str(), &st) == 0);
    CHECK(st.st_blocks * 512 < (1 << 20));  // the holes stay holes
}

TEST_CASE("a file image is written only as a new file, and a truncated image is refused", "[unit][multilevel]") {
    TempDir dir;
    write_sparse(dir / "part");
    std::vector<char> image = ckpt::detail::read_file_image(dir / "part");
    std::ofstream(dir / "there") << "x";
    CHECK_THROWS_AS(ckpt::detail::write_file_image(dir / "there", image), ckpt::IoError);
    CHECK(contents(dir / "there") == "x");
    image.resize(image.size() - 1);
    CHECK_THROWS_WITH(ckpt::detail::write_file_image(dir / "short", image), Contains("corrupt"));
    CHECK_THROWS_WITH(ckpt::detail::read_file_image(dir / "absent"), Contains("absent"));
}
