// ckpt/detail/h5/filters.hpp: the chunk shape of a compressed dataset, and ckpt's LZ4 filter in
// the stream format of HDF5 filter 32004, against good and corrupt streams.
#include <catch2/catch.hpp>

#include "ckpt/detail/h5/filters.hpp"

#include <cstdint>
#include <random>
#include <vector>

using ckpt::detail::h5::chunk_shape;
namespace lz4 = ckpt::detail::h5::lz4_stream;

TEST_CASE("chunk shape: whole trailing dimensions up to 1 MiB, a part of the next, then 1", "[compression]") {
    using V = std::vector<hsize_t>;
    CHECK(chunk_shape({10}, 8) == V{10});
    CHECK(chunk_shape({1000000}, 8) == V{131072});
    CHECK(chunk_shape({1000000}, 1) == V{1000000});
    CHECK(chunk_shape({4096, 4096}, 8) == V{32, 4096});
    CHECK(chunk_shape({3, 200000}, 8) == V{1, 131072});
    CHECK(chunk_shape({7, 5, 3}, 16) == V{7, 5, 3});
    CHECK(chunk_shape({100, 100, 100}, 4) == V{26, 100, 100});
    CHECK(chunk_shape({2}, 2000000) == V{1});  // one element over the budget: a chunk of one
}

#if defined(CKPT_HAVE_LZ4) && CKPT_HAVE_LZ4
namespace {
std::vector<unsigned char> encode(const std::vector<unsigned char>& in, std::size_t block) {
    const std::size_t blocks = in.empty() ? 0 : (in.size() - 1) / block + 1;
    std::vector<unsigned char> out(lz4::header + blocks * (4 + static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(block)))));
    const std::size_t n = lz4::encode(in.data(), in.size(), block, out.data(), out.size());
    REQUIRE(n > 0);
    out.resize(n);
    return out;
}
bool decodes_to(const std::vector<unsigned char>& stream, const std::vector<unsigned char>& expected) {
    const std::size_t size = lz4::decoded_size(stream.data(), stream.size());
    if (size != expected.size()) return false;
    std::vector<unsigned char> out(size);
    return lz4::decode(stream.data(), stream.size(), out.data(), size) && out == expected;
}
}  // namespace

TEST_CASE("LZ4 stream: round trips of compressible, incompressible and empty chunks, in one or many blocks", "[compression]") {
    std::mt19937_64 gen(7);
    std::vector<unsigned char> zeros(1 << 20, 0), noise(300000), text;
    for (auto& b : noise) b = static_cast<unsigned char>(gen());
    for (int i = 0; i < 20000; ++i) text.push_back(static_cast<unsigned char>("checkpoint "[i % 11]));
    for (const auto* in : {&zeros, &noise, &text}) {
        for (std::size_t block : {std::size_t{1} << 30, std::size_t{4096}, std::size_t{1000}}) {
            const auto s = encode(*in, std::min(block, std::max<std::size_t>(in->size(), 1)));
            CHECK(decodes_to(s, *in));
        }
    }
    CHECK(encode(zeros, zeros.size()).size() < zeros.size() / 200);  // 1 MiB of zeros: a few KiB
    const auto raw = encode(noise, noise.size());                     // no gain: stored as it is
    CHECK(raw.size() == noise.size() + lz4::header + 4);
    CHECK(decodes_to(encode({}, 1), {}));
    // The header: 8 bytes of size, 4 of block size, big-endian (the HDF Group plugin's format).
    const auto s = encode(text, 4096);
    CHECK(lz4::get_be(s.data(), 8) == text.size());
    CHECK(lz4::get_be(s.data() + 8, 4) == 4096);
}

TEST_CASE("LZ4 stream: truncated, resized or overwritten streams are refused, never read past", "[compression]") {
    std::vector<unsigned char> text;
    for (int i = 0; i < 50000; ++i) text.push_back(static_cast<unsigned char>("restart "[i % 8] + i / 997));
    const auto good = encode(text, 8192);
    REQUIRE(decodes_to(good, text));
    // Cut short anywhere: the size check or a block's bounds catch it (ASan checks the reads).
    for (std::size_t cut : {std::size_t{0}, std::size_t{5}, std::size_t{12}, std::size_t{15}, good.size() / 2, good.size() - 1}) {
        const std::vector<unsigned char> s(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
        CHECK_FALSE(decodes_to(s, text));
    }
    auto huge = good;  // claims 2^40 bytes: a corrupt header, refused before any allocation
    lz4::put_be(huge.data(), std::uint64_t{1} << 40, 8);
    CHECK(lz4::decoded_size(huge.data(), huge.size()) == SIZE_MAX);
    auto no_block = good;
    lz4::put_be(no_block.data() + 8, 0, 4);
    CHECK(lz4::decoded_size(no_block.data(), no_block.size()) == SIZE_MAX);
    auto big_block = good;  // a block's stored size past the end
    lz4::put_be(big_block.data() + lz4::header, 0xfffffff0, 4);
    CHECK_FALSE(decodes_to(big_block, text));
    // Every byte of the body overwritten in turn: refused, or decoded to other bytes (which the
    // entry's checksum then catches), never a crash.
    std::size_t refused = 0;
    for (std::size_t at = lz4::header; at < good.size(); at += 7) {
        auto s = good;
        s[at] ^= 0xff;
        std::vector<unsigned char> out(text.size());
        if (!lz4::decode(s.data(), s.size(), out.data(), out.size())) ++refused;
    }
    CHECK(refused > 0);
}
#endif
