#pragma once
/// Checked HDF5 calls: every failure becomes a ckpt::IoError carrying the HDF5 error stack,
/// and HDF5's own printing to stderr is silenced while we are in control (HighFive SilenceHDF5).

#include "ckpt/error.hpp"

#include <hdf5.h>

#include <atomic>
#include <cstdlib>

#include <string>
#include <utility>

namespace ckpt::detail::h5 {

/// HDF5 1.10's exit handler closes every file still open, and crashes or loops ("infinite loop
/// closing library") on a file whose H5Fclose failed, or that a failed read left half-open (a
/// corrupt object header leaves internal references behind). So ckpt takes the library's exit
/// over: before HDF5 starts, H5dont_atexit(), and an exit handler of ours that calls H5close()
/// unless an HDF5 call of ckpt's has failed, in which case the process leaves HDF5 as it is
/// (ckpt's files are then closed or abandoned already; an application's own files should be
/// closed by the application). If the application started HDF5 first, its handler stays.
inline std::atomic<bool>& close_failed() {
    static std::atomic<bool> failed{false};
    return failed;
}
/// H5close(), unless a failure has left HDF5 unable to close itself. Parallel HDF5 then still
/// shuts down from MPI_Finalize (a callback on MPI_COMM_SELF), with its automatic error printing
/// left off by Silence, so it does not print "infinite loop closing library" over what it cannot
/// free: HDF5's known leak after a damaged file (HDF5 issues 3790, 6677).
inline void close_library() noexcept {
    if (!close_failed().load()) H5close();
}
inline void take_over_library_exit() noexcept {
    static const bool taken = [] {
        if (H5dont_atexit() < 0) return false;  // HDF5 is running already: its handler stays
        std::atexit(close_library);
        return true;
    }();
    (void)taken;
}

/// Turns off HDF5's automatic error printing for the lifetime of the object (per thread/stack).
class Silence {
public:
    Silence() noexcept {
        H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    }
    // Once a failure has left HDF5 unable to close itself, printing stays off: HDF5 would print
    // "infinite loop closing library" when MPI_Finalize shuts it down (see close_library()).
    ~Silence() {
        // An HDF5 call in this scope failed where ckpt only tested (H5Lexists, H5Aexists...): the
        // file is damaged, and HDF5 may hold what it cannot close, as after make_error().
        if (H5Eget_num(H5E_DEFAULT) > 0) {
            close_failed() = true;
            H5Eclear2(H5E_DEFAULT);
        }
        if (!close_failed().load()) H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_);
    }
    Silence(const Silence&) = delete;
    Silence& operator=(const Silence&) = delete;

private:
    H5E_auto2_t old_func_ = nullptr;
    void* old_data_ = nullptr;
};

/// The current HDF5 error stack as text, innermost frame last, one line per frame.
inline std::string error_stack() {
    std::string text;
    auto walk = [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
        auto& s = *static_cast<std::string*>(out);
        char major[128] = "", minor[128] = "";
        H5Eget_msg(e->maj_num, nullptr, major, sizeof major);
        H5Eget_msg(e->min_num, nullptr, minor, sizeof minor);
        // One line per frame: an MPI error string inside a description spans several lines
        // and ends with the reason ("No space left on device").
        std::string desc;
        for (const char* c = e->desc ? e->desc : ""; *c; ++c) {
            const char ch = (*c == '\n' || *c == '\r' || *c == '\t') ? ' ' : *c;
            if (ch != ' ' || (!desc.empty() && desc.back() != ' ')) desc += ch;
        }
        s += "  #" + std::to_string(n) + " " + (e->func_name ? e->func_name : "?") + ": " + desc + " (" + major +
             ": " + minor + ")\n";
        return 0;
    };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk, &text);
    H5Eclear2(H5E_DEFAULT);
    return text;
}

/// An IoError for a failed HDF5 call on `object` in `file`, with the HDF5 stack attached (the
/// current one unless given).
inline IoError make_error(const std::string& call, const std::string& file, const std::string& object,
                          std::string stack = error_stack()) {
    close_failed() = true;  // HDF5 may now hold objects it cannot close: see take_over_library_exit()
    ErrorInfo info;
    info.hdf5_stack = std::move(stack);
    info.sentence = call + " failed";
    // The innermost frame's description is usually the most telling part of the stack.
    auto last = info.hdf5_stack.rfind("  #");
    if (last != std::string::npos) {
        auto colon = info.hdf5_stack.find(": ", last);
        auto end = info.hdf5_stack.find('\n', last);
        if (colon != std::string::npos && colon < end) info.sentence += ": " + info.hdf5_stack.substr(colon + 2, end - colon - 2);
    }
    info.file = file;
    info.object = object;
    return IoError(std::move(info));
}

/// Whether a failed HDF5 read failed in the storage (an errno from the read itself: EIO, a
/// vanished file) rather than on what is stored. HDF5 reports both as failures; only the
/// stack's innermost frames, where MPI-IO or the POSIX driver report the system's error, tell
/// them apart. A read that fails otherwise found bytes it cannot make sense of: corruption.
inline bool storage_failure(const std::string& stack) {
    for (const char* sign : {"MPI_File_read", "MPI_File_open", "pread", "Input/output error", "errno ="})
        if (stack.find(sign) != std::string::npos) return true;
    return false;
}

/// The answer of an HDF5 existence query (H5Lexists, H5Aexists): a failure means "not there"
/// (a parent that is not a group, say), unless the storage failed on the way: then the
/// IoError, never a "not there" that would make a good file look corrupt (and be quarantined).
inline bool exists_answer(htri_t ret, const char* call, const std::string& file, const std::string& object) {
    if (ret >= 0) return ret > 0;
    std::string stack = error_stack();  // clears it: say what ~Silence() would have said
    if (storage_failure(stack)) raise(make_error(call, file, object, std::move(stack)));
    close_failed() = true;  // a failed query: HDF5 may hold what it cannot close (see ~Silence())
    return false;
}

/// Checks an HDF5 return value (negative = failure) and throws IoError naming the call and object.
template <class R>
R check(R ret, const char* call, const std::string& file, const std::string& object = {}) {
    if (ret < 0) raise(make_error(call, file, object));
    return ret;
}

/// Owning hid_t with the right close function; close failures in destructors are ignored
/// (a destructor may run during unwinding, so it must not throw).
class Handle {
public:
    using Closer = herr_t (*)(hid_t);
    Handle() = default;
    Handle(hid_t id, Closer closer) noexcept : id_(id), closer_(closer) {}
    Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) {
            reset();
            id_ = std::exchange(o.id_, H5I_INVALID_HID);
            closer_ = o.closer_;
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }

    hid_t get() const noexcept { return id_; }
    operator hid_t() const noexcept { return id_; }  // NOLINT: handles are used where hid_t is
    bool valid() const noexcept { return id_ >= 0; }

    /// Closes now; returns the close function's status (close can fail: H5Fclose flushes).
    herr_t close() noexcept {
        herr_t r = 0;
        if (id_ >= 0 && closer_) r = closer_(id_);
        id_ = H5I_INVALID_HID;
        return r;
    }
    void reset() noexcept {
        Silence quiet;
        close();
    }
    /// Forgets the id without closing it (when closing could block: see File::abandon).
    void release() noexcept { id_ = H5I_INVALID_HID; }

private:
    hid_t id_ = H5I_INVALID_HID;
    Closer closer_ = nullptr;
};

inline Handle property_list(hid_t cls, const std::string& file) {
    return {check(H5Pcreate(cls), "H5Pcreate", file), H5Pclose};
}
inline Handle dataspace(int ndims, const hsize_t* dims, const std::string& file) {
    return {check(ndims == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndims, dims, nullptr), "H5Screate", file),
            H5Sclose};
}

}  // namespace ckpt::detail::h5
