// The node cache's part transfer (ckpt/detail/node_cache.hpp): a cached part travels as its
// header and its data extents, without its holes, from a mapping of its file into a mapping of
// the new one; holes stay holes. (Through MPI: tests/mpi/test_multilevel_mpi.cpp.)
#include "testing.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
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

/// What exchange_segments() does between two ranks, here in one process.
void copy_segments(const std::vector<ckpt::detail::mpi::Segment>& from, const std::vector<ckpt::detail::mpi::Segment>& to) {
    REQUIRE(from.size() == to.size());
    for (std::size_t i = 0; i < from.size(); ++i) {
        REQUIRE(from[i].bytes == to[i].bytes);
        std::memcpy(to[i].data, from[i].data, static_cast<std::size_t>(from[i].bytes));
    }
}

}  // namespace

TEST_CASE("a cached part travels without its holes and arrives as the same bytes", "[unit][multilevel]") {
    TempDir dir;
    write_sparse(dir / "part");
    std::uint64_t id_ino = 0;
    {
        ckpt::detail::OutgoingPart out(dir / "part");
        const auto header = ckpt::detail::image::Header::parse(out.header());
        CHECK(header.size == (64u << 20));
        std::uint64_t data = 0;
        for (const auto& e : header.extents) data += e.second;
        CHECK(data < (1u << 20));  // the data, not the 64 MiB (any Linux file system reports holes)
        ckpt::detail::IncomingPart in(dir / "copy", header);
        copy_segments(out.segments(), in.segments());
        id_ino = in.finish().ino;
    }
    CHECK(id_ino != 0);
    CHECK(fs::file_size(dir / "copy") == (64u << 20));
    CHECK(contents(dir / "copy") == contents(dir / "part"));
    struct stat st {};
    REQUIRE(::stat((dir / "copy").c_str(), &st) == 0);
    CHECK(st.st_blocks * 512 < (1 << 20));  // the holes stay holes
}

TEST_CASE("a part arrives only as a new file; a corrupt header and a missing part are errors naming them",
          "[unit][multilevel]") {
    TempDir dir;
    write_sparse(dir / "part");
    ckpt::detail::OutgoingPart out(dir / "part");
    const auto header = ckpt::detail::image::Header::parse(out.header());
    std::ofstream(dir / "there") << "x";
    CHECK_THROWS_AS(ckpt::detail::IncomingPart(dir / "there", header), ckpt::IoError);
    CHECK(contents(dir / "there") == "x");
    std::vector<char> bytes = out.header();
    bytes.resize(bytes.size() - 1);
    CHECK_THROWS_WITH(ckpt::detail::image::Header::parse(bytes), Contains("truncated"));
    ckpt::detail::image::Header bad = header;
    bad.extents.push_back({header.size, 1});
    CHECK_THROWS_WITH(ckpt::detail::image::Header::parse(bad.bytes()), Contains("corrupt"));
    CHECK_THROWS_WITH(ckpt::detail::OutgoingPart(dir / "absent"), Contains("absent"));
}
