#pragma once
/// How an entry's data is stored (docs/compression.md): as it is, or through HDF5 filters that
/// h5py and h5dump undo when they read.
///
///   cp.protect("u", u, ckpt::block(...).compress(ckpt::Compression::lz4()));  // one entry
///   --checkpoint compression=deflate:4, CKPT_COMPRESSION=lz4                  // the job's default
///
/// Lossless only: a restore gives back every bit. Light on purpose, like distribution.hpp.

#include <string>

namespace ckpt {

class Compression {
public:
    enum class Method {
        Off,      ///< contiguous, as written today
        Deflate,  ///< shuffle + deflate (zlib): every HDF5 reader has it
        Lz4,      ///< shuffle + LZ4 (HDF5 filter 32004): fast; readers need an LZ4 plugin
    };
    /// The highest deflate level (zlib's best compression).
    static constexpr int max_deflate_level = 9;

    Compression() = default;
    static Compression off() { return {}; }
    /// `level` 1 (fastest) to 9 (smallest); refused otherwise when the entry is protected, or
    /// when the option is read.
    static Compression deflate(int level = 1) { return Compression(Method::Deflate, level); }
    static Compression lz4() { return Compression(Method::Lz4, 0); }

    Method method() const noexcept { return method_; }
    int level() const noexcept { return level_; }
    bool on() const noexcept { return method_ != Method::Off; }
    /// Whether `level` is one the method takes.
    bool valid() const noexcept {
        return method_ != Method::Deflate || (level_ >= 1 && level_ <= max_deflate_level);
    }

    /// "off", "deflate:1", "lz4": the text the option takes and the log shows.
    std::string text() const {
        switch (method_) {
            case Method::Deflate: return "deflate:" + std::to_string(level_);
            case Method::Lz4: return "lz4";
            default: return "off";
        }
    }

    friend bool operator==(const Compression& a, const Compression& b) {
        return a.method_ == b.method_ && a.level_ == b.level_;
    }
    friend bool operator!=(const Compression& a, const Compression& b) { return !(a == b); }

private:
    Compression(Method m, int level) : method_(m), level_(level) {}
    Method method_ = Method::Off;
    int level_ = 0;
};

}  // namespace ckpt
