#pragma once
/// A checkpoint file opened through parallel HDF5 (MPI-IO), with the few operations ckpt needs.
/// Creation, group/dataset/attribute creation and attribute writes are collective; reads of
/// attributes and of each rank's own data are independent, so a rank that fails while restoring
/// never leaves the others waiting in a collective it will not reach.

#include "ckpt/detail/h5/filters.hpp"
#include "ckpt/detail/h5/types.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::detail::h5 {

/// Create and Read: collective over the communicator, through MPI-IO. ReadAlone: read by this
/// process alone through the POSIX driver, with no MPI call (the communicator is not used).
enum class Access { Create, Read, ReadAlone };

class File {
public:
    /// Collective over `comm`.
    File(const std::string& path, MPI_Comm comm, Access access) : path_(path) {
        Silence quiet;
#if defined(CKPT_HAVE_LZ4) && CKPT_HAVE_LZ4
        register_lz4();  // before any dataset is read or written: any may be LZ4-compressed
#endif
        Handle fapl = property_list(H5P_FILE_ACCESS, path_);
        // No data sieving on writes: ROMIO locks (fcntl) the range of a sieved write, and a lock
        // that fails makes ROMIO call MPI_Abort from inside the write. ckpt's writes are
        // contiguous blocks, which need no sieving.
        if (access == Access::ReadAlone) {
            check(H5Pset_fapl_sec2(fapl), "H5Pset_fapl_sec2", path_);
        } else {
            MPI_Info info = MPI_INFO_NULL;
            MPI_Info_create(&info);
            MPI_Info_set(info, "romio_ds_write", "disable");
            const herr_t set = H5Pset_fapl_mpio(fapl, comm, info);
            MPI_Info_free(&info);
            check(set, "H5Pset_fapl_mpio", path_);
        }
        // Newest format: compact link storage and dense attributes, so entries have no size limits.
        check(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST), "H5Pset_libver_bounds", path_);
        if (access == Access::Create) {
            // Metadata writes go through one collective call instead of every rank writing.
            check(H5Pset_coll_metadata_write(fapl, true), "H5Pset_coll_metadata_write", path_);
            // No metadata flush before the writer asks for one (HDF5 otherwise flushes at every
            // 256 KiB of dirty metadata): the writer decides when the disk must have room for it.
            H5AC_cache_config_t mdc{};
            mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
            check(H5Pget_mdc_config(fapl, &mdc), "H5Pget_mdc_config", path_);
            mdc.dirty_bytes_threshold = std::size_t{32} << 20;  // HDF5 1.10 allows no more
            check(H5Pset_mdc_config(fapl, &mdc), "H5Pset_mdc_config", path_);
            file_ = Handle(check(H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "H5Fcreate", path_),
                           H5Fclose);
        } else {
            file_ = Handle(check(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, fapl), "H5Fopen", path_), H5Fclose);
            find_links();
        }
    }

    File(File&&) = default;
    File& operator=(File&&) = default;
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    ~File() { close_quietly(); }  // a close that fails here is remembered too (close_failed())

    const std::string& path() const noexcept { return path_; }
    hid_t id() const noexcept { return file_; }

    /// Collective. Flushes HDF5 buffers and asks MPI-IO to sync the file to stable storage.
    void flush() {
        Silence quiet;
        check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "H5Fflush", path_);
    }

    /// Collective. Closes now, so a failure to write the last metadata is reported, not lost.
    void close() {
        Silence quiet;
        externals_.clear();
        if (file_.valid() && file_.close() < 0) {
            close_failed() = true;  // HDF5 keeps the file half-open: see take_over_library_exit()
            raise(make_error("H5Fclose", path_, "/"));
        }
    }

    /// Collective. Closes on an error path, ignoring a failure (the error being reported matters more).
    void close_quietly() noexcept {
        Silence quiet;
        externals_.clear();
        if (file_.valid() && file_.close() < 0) close_failed() = true;
    }

    /// Not collective: drops the file without closing it. For a file that is open on only some
    /// ranks, where the collective H5Fclose would wait forever for the others.
    void abandon() noexcept {
        externals_.clear();  // opened by this rank alone (POSIX driver): closing them waits for nobody
        file_.release();
    }

    bool exists(const std::string& object) const {
        Silence quiet;
        // H5Lexists needs each parent to exist; walk the path one component at a time.
        std::size_t pos = 0;
        while (pos != std::string::npos) {
            pos = object.find('/', pos + 1);
            std::string prefix = object.substr(0, pos);
            if (prefix.size() > 1 && !exists_answer(H5Lexists(file_, prefix.c_str(), H5P_DEFAULT), "H5Lexists", path_, prefix))
                return false;
        }
        return true;
    }

    /// Collective.
    void create_group(const std::string& object) {
        Silence quiet;
        Handle g(check(H5Gcreate2(file_, object.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "H5Gcreate", path_,
                       object),
                 H5Gclose);
    }

    /// Collective. A dataset of `dims` elements, storage allocated at creation: contiguous, or
    /// with `compression` on (and no dimension 0), chunked through its filters; its data must then
    /// be written in collective calls (parallel HDF5 1.10 writes filtered data no other way).
    Handle create_dataset(const std::string& object, hid_t type, const std::vector<hsize_t>& dims,
                          const Compression& compression = {}) {
        Silence quiet;
        Handle space = dataspace(static_cast<int>(dims.size()), dims.data(), path_);
        Handle dcpl = property_list(H5P_DATASET_CREATE, path_);
        if (compression.on())
            set_filters(dcpl, compression, std::vector<std::uint64_t>(dims.begin(), dims.end()), H5Tget_size(type), path_,
                        object);
        else
            check(H5Pset_layout(dcpl, H5D_CONTIGUOUS), "H5Pset_layout", path_, object);
        // Allocate early and never write fill values: every byte is written by some rank.
        check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time", path_, object);
        check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "H5Pset_fill_time", path_, object);
        return {check(H5Dcreate2(file_, object.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), "H5Dcreate",
                      path_, object),
                H5Dclose};
    }

    /// Where a contiguous dataset's raw data starts in the file, in bytes; nullopt if it has no
    /// storage (an empty dataset). Fixed once allocated: datasets are allocated early.
    std::optional<std::uint64_t> address(hid_t dset) const {
        const haddr_t at = H5Dget_offset(dset);
        if (at == HADDR_UNDEF) return std::nullopt;
        return static_cast<std::uint64_t>(at);
    }

    Handle open_dataset(const std::string& object) const {
        Silence quiet;
        const Location at = locate(object);
        return {check(H5Dopen2(at.file, at.object.c_str(), H5P_DEFAULT), "H5Dopen", path_, object), H5Dclose};
    }

    /// Collective. An external link at `object` to `target_object` in the file `target_file` (a
    /// name in this file's directory): an incremental version's reference to an older version.
    void create_external_link(const std::string& object, const std::string& target_file, const std::string& target_object) {
        Silence quiet;
        check(H5Lcreate_external(target_file.c_str(), target_object.c_str(), file_, object.c_str(), H5P_DEFAULT,
                                 H5P_DEFAULT),
              "H5Lcreate_external", path_, object);
    }

    /// The file an external link at `object` refers to (its name as stored), or nothing if
    /// `object` is not an external link.
    std::optional<std::string> link_target(const std::string& object) const {
        Silence quiet;
        std::string file, target;
        if (!external_link(object, file, target)) return std::nullopt;
        return file;
    }

    /// Every rank (collective) or this rank (independent) writes its block [offset, offset+count)
    /// of a 1-D dataset. count may be 0.
    void write_block(hid_t dset, const std::string& object, hid_t type, const void* data, hsize_t offset,
                     hsize_t count, bool collective = true) {
        transfer(dset, object, type, const_cast<void*>(data), offset, count, collective, true);
    }
    /// Independent read of this rank's block.
    void read_block(hid_t dset, const std::string& object, hid_t type, void* data, hsize_t offset,
                    hsize_t count) const {
        const_cast<File*>(this)->transfer(dset, object, type, data, offset, count, false, false);
    }

    /// The box `file_origin`+`count` of an N-d dataset from or to the box of the same counts at
    /// `memory_start` in a memory array of shape `memory`: one HDF5 call, no copy. Collective or
    /// independent; an empty box takes part in a collective call with nothing.
    void transfer_box(hid_t dset, const std::string& object, hid_t type, void* data,
                      const std::vector<std::uint64_t>& memory, const std::vector<std::uint64_t>& memory_start,
                      const std::vector<std::uint64_t>& file_origin, const std::vector<std::uint64_t>& count,
                      bool collective, bool write) {
        Silence quiet;
        Handle fspace(check(H5Dget_space(dset), "H5Dget_space", path_, object), H5Sclose);
        std::vector<hsize_t> mdims(memory.begin(), memory.end()), mstart(memory_start.begin(), memory_start.end()),
            fstart(file_origin.begin(), file_origin.end()), n(count.begin(), count.end());
        bool empty = false;
        for (auto& d : mdims) {
            empty = empty || d == 0;
            d = d ? d : 1;
        }
        for (auto c : n) empty = empty || c == 0;
        Handle mspace = dataspace(static_cast<int>(mdims.size()), mdims.data(), path_);
        if (empty) {
            check(H5Sselect_none(fspace), "H5Sselect_none", path_, object);
            check(H5Sselect_none(mspace), "H5Sselect_none", path_, object);
        } else {
            check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, fstart.data(), nullptr, n.data(), nullptr),
                  "H5Sselect_hyperslab", path_, object);
            check(H5Sselect_hyperslab(mspace, H5S_SELECT_SET, mstart.data(), nullptr, n.data(), nullptr),
                  "H5Sselect_hyperslab", path_, object);
        }
        Handle dxpl = transfer_list(collective);
        if (write)
            check(H5Dwrite(dset, type, mspace, fspace, dxpl, data), "H5Dwrite", path_, object);
        else if (H5Dread(dset, type, mspace, fspace, dxpl, data) < 0)
            raise_read_error(object);
    }

    /// Independent: one rank writes a whole uint64 dataset.
    void write_whole(hid_t dset, const std::string& object, const std::uint64_t* values) {
        Silence quiet;
        Handle dxpl = transfer_list(false);
        check(H5Dwrite(dset, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, dxpl, values), "H5Dwrite", path_, object);
    }
    /// Independent read of a whole 2-D uint64 table: `rows` x `width` values, row by row.
    std::vector<std::uint64_t> read_table(const std::string& object, hsize_t& rows, hsize_t& width) const {
        Silence quiet;
        Handle dset = open_dataset(object);
        Handle fspace = table_space(dset, object);
        hsize_t dims[2] = {0, 0};
        H5Sget_simple_extent_dims(fspace, dims, nullptr);
        rows = dims[0];
        width = dims[1];
        std::vector<std::uint64_t> out(static_cast<std::size_t>(rows * width));
        if (!out.empty())
            check(H5Dread(dset, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "H5Dread", path_, object);
        return out;
    }
    /// In place: `n` elements of type `from` at `buffer` become `to` (HDF5's conversion); the
    /// buffer holds n * max(size of from, size of to) bytes.
    void convert(hid_t from, hid_t to, std::size_t n, void* buffer, const std::string& object) const {
        Silence quiet;
        // A compound (complex) conversion reads a background buffer of destination elements.
        std::vector<unsigned char> background(n * std::max(H5Tget_size(from), H5Tget_size(to)));
        check(H5Tconvert(from, to, n, buffer, background.data(), H5P_DEFAULT), "H5Tconvert", path_, object);
    }

    /// Independent read of row `row`; the dataset's width must be `width`.
    std::vector<std::uint64_t> read_row(const std::string& object, hsize_t row) const {
        Silence quiet;
        Handle dset = open_dataset(object);
        Handle fspace = table_space(dset, object);
        hsize_t dims[2] = {0, 0};
        H5Sget_simple_extent_dims(fspace, dims, nullptr);
        if (row >= dims[0]) raise(bad_layout(object, "has no row for rank " + std::to_string(row)));
        std::vector<std::uint64_t> out(dims[1]);
        hsize_t start[2] = {row, 0}, count[2] = {1, dims[1]};
        check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr), "H5Sselect_hyperslab",
              path_, object);
        Handle mspace = dataspace(2, count, path_);
        check(H5Dread(dset, H5T_NATIVE_UINT64, mspace, fspace, H5P_DEFAULT, out.data()), "H5Dread", path_, object);
        return out;
    }

    /// Collective (all ranks pass the same value).
    void write_attribute(const std::string& object, const std::string& name, const std::string& value) {
        Silence quiet;
        Handle type(check(H5Tcopy(H5T_C_S1), "H5Tcopy", path_), H5Tclose);
        check(H5Tset_size(type, value.empty() ? 1 : value.size()), "H5Tset_size", path_);
        check(H5Tset_cset(type, H5T_CSET_UTF8), "H5Tset_cset", path_);
        put_attribute(object, name, type, H5Screate(H5S_SCALAR), value.empty() ? "" : value.data());
    }
    void write_attribute(const std::string& object, const std::string& name, std::int64_t value) {
        Silence quiet;
        put_attribute(object, name, H5T_NATIVE_INT64, H5Screate(H5S_SCALAR), &value);
    }
    /// A 1-D array of fixed-length, null-padded strings (argv), as long as the longest. Not
    /// variable-length: those live in the global heap, which has no checksum, and HDF5 1.10
    /// follows a corrupt heap reference into a crash; these live in the checksummed object header.
    void write_attribute(const std::string& object, const std::string& name, const std::vector<std::string>& values) {
        Silence quiet;
        std::size_t width = 1;
        for (const auto& v : values) width = std::max(width, v.size());
        std::string packed(values.size() * width, '\0');
        for (std::size_t i = 0; i < values.size(); ++i) packed.replace(i * width, values[i].size(), values[i]);
        Handle type(check(H5Tcopy(H5T_C_S1), "H5Tcopy", path_), H5Tclose);
        check(H5Tset_size(type, width), "H5Tset_size", path_);
        check(H5Tset_strpad(type, H5T_STR_NULLPAD), "H5Tset_strpad", path_);
        check(H5Tset_cset(type, H5T_CSET_UTF8), "H5Tset_cset", path_);
        hsize_t n = values.size();
        put_attribute(object, name, type, n ? H5Screate_simple(1, &n, nullptr) : H5Screate(H5S_NULL),
                      n ? packed.data() : nullptr);
    }

    bool has_attribute(const std::string& object, const std::string& name) const {
        Silence quiet;
        const Location at = locate(object);
        return exists_answer(H5Aexists_by_name(at.file, at.object.c_str(), name.c_str(), H5P_DEFAULT), "H5Aexists_by_name",
                             path_, object + "@" + name);
    }
    std::string read_string_attribute(const std::string& object, const std::string& name) const {
        Silence quiet;
        Handle attr = open_attribute(object, name);
        Handle ftype(check(H5Aget_type(attr), "H5Aget_type", path_, object + "@" + name), H5Tclose);
        if (H5Tget_class(ftype) != H5T_STRING) raise(bad_layout(object, "attribute " + name + " is not a string"));
        if (H5Tis_variable_str(ftype) > 0) {
            char* s = nullptr;
            Handle mtype = variable_string_like(ftype);
            check(H5Aread(attr, mtype, &s), "H5Aread", path_, object + "@" + name);
            std::string out = s ? s : "";
            H5free_memory(s);
            return out;
        }
        std::string out(H5Tget_size(ftype), '\0');
        check(H5Aread(attr, ftype, out.data()), "H5Aread", path_, object + "@" + name);
        out.resize(out.find('\0') == std::string::npos ? out.size() : out.find('\0'));
        return out;
    }
    std::int64_t read_int_attribute(const std::string& object, const std::string& name) const {
        Silence quiet;
        Handle attr = open_attribute(object, name);
        std::int64_t v = 0;
        check(H5Aread(attr, H5T_NATIVE_INT64, &v), "H5Aread", path_, object + "@" + name);
        return v;
    }
    std::vector<std::string> read_strings_attribute(const std::string& object, const std::string& name) const {
        Silence quiet;
        Handle attr = open_attribute(object, name);
        Handle space(check(H5Aget_space(attr), "H5Aget_space", path_, object + "@" + name), H5Sclose);
        hssize_t n = H5Sget_simple_extent_npoints(space);
        if (n <= 0) return {};
        Handle ftype(check(H5Aget_type(attr), "H5Aget_type", path_, object + "@" + name), H5Tclose);
        if (H5Tget_class(ftype) != H5T_STRING) raise(bad_layout(object, "attribute " + name + " is not a string"));
        if (H5Tis_variable_str(ftype) <= 0) {  // format 2: fixed-length, read as stored
            const std::size_t width = H5Tget_size(ftype);
            if (width == 0 || width > (std::size_t{1} << 20))
                raise(bad_layout(object, "attribute " + name + " has an implausible string width"));
            std::string packed(static_cast<std::size_t>(n) * width, '\0');
            check(H5Aread(attr, ftype, packed.data()), "H5Aread", path_, object + "@" + name);
            std::vector<std::string> out;
            for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
                std::string v = packed.substr(i * width, width);
                v.resize(std::min(v.size(), v.find('\0')));
                out.push_back(std::move(v));
            }
            return out;
        }
        // Format 1 wrote variable-length strings.
        std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
        Handle mtype = variable_string_like(ftype);
        check(H5Aread(attr, mtype, ptrs.data()), "H5Aread", path_, object + "@" + name);
        std::vector<std::string> out;
        for (char* p : ptrs) {
            out.emplace_back(p ? p : "");
            H5free_memory(p);
        }
        return out;
    }

    /// Dimensions of a dataset.
    std::vector<hsize_t> dims(const std::string& object) const {
        Silence quiet;
        Handle dset = open_dataset(object);
        Handle space(check(H5Dget_space(dset), "H5Dget_space", path_, object), H5Sclose);
        int nd = H5Sget_simple_extent_ndims(space);
        std::vector<hsize_t> d(nd > 0 ? static_cast<std::size_t>(nd) : 0);
        if (nd > 0) H5Sget_simple_extent_dims(space, d.data(), nullptr);
        return d;
    }

    /// Names of the links in a group, in creation (= name, for ckpt) order.
    std::vector<std::string> list(const std::string& group) const {
        Silence quiet;
        std::vector<std::string> names;
        auto add = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
            static_cast<std::vector<std::string>*>(out)->emplace_back(name);
            return 0;
        };
        check(H5Literate_by_name(file_, group.c_str(), H5_INDEX_NAME, H5_ITER_INC, nullptr, add, &names, H5P_DEFAULT),
              "H5Literate", path_, group);
        return names;
    }
    bool is_group(const std::string& object) const {
        Silence quiet;
        H5O_info_t info;
        const Location at = locate(object);
        if (H5Oget_info_by_name(at.file, at.object.c_str(), &info, H5P_DEFAULT) < 0) return false;
        return info.type == H5O_TYPE_GROUP;
    }

    FormatError bad_layout(const std::string& object, const std::string& what) const {
        return FormatError({"not a valid ckpt checkpoint: " + object + " " + what, path_, object, -1, {}});
    }

private:
    /// A variable-length C string memory type with the stored type's character set: HDF5 will
    /// not convert between ASCII and UTF-8, and ckpt writes UTF-8.
    Handle variable_string_like(hid_t stored) const {
        Handle mtype(check(H5Tcopy(H5T_C_S1), "H5Tcopy", path_), H5Tclose);
        check(H5Tset_size(mtype, H5T_VARIABLE), "H5Tset_size", path_);
        check(H5Tset_cset(mtype, H5Tget_cset(stored)), "H5Tset_cset", path_);
        return mtype;
    }

    /// A layout table's dataspace, checked to be 2-D.
    Handle table_space(hid_t dset, const std::string& object) const {
        Handle fspace(check(H5Dget_space(dset), "H5Dget_space", path_, object), H5Sclose);
        if (H5Sget_simple_extent_ndims(fspace) != 2) raise(bad_layout(object, "is not a 2-D table"));
        return fspace;
    }

    /// A failed read of `object`'s data: an IoError where the storage failed; a FormatError where
    /// a filter could not undo what is stored (corruption), or the filter is missing here.
    [[noreturn]] void raise_read_error(const std::string& object) const {
        std::string stack = error_stack();
        if (storage_failure(stack) || stack.find("Data filters") == std::string::npos)
            raise(make_error("H5Dread", path_, object, std::move(stack)));
        close_failed() = true;
        ErrorInfo info;
        info.file = path_;
        info.object = object;
        info.hdf5_stack = std::move(stack);
        if (info.hdf5_stack.find("not registered") != std::string::npos ||
            info.hdf5_stack.find("plugin") != std::string::npos) {
            info.sentence = "the data of " + object + " is compressed with a filter this program does not have";
            info.hint = "LZ4 (filter 32004) needs ckpt built with liblz4 (docs/compression.md); other readers need "
                        "an LZ4 plugin (Debian: hdf5-filter-plugin)";
            info.unsupported = true;  // the file is not corrupt: never quarantined
        } else {
            info.sentence = "the compressed data of " + object + " cannot be decoded: a chunk is corrupt";
        }
        raise(FormatError(std::move(info)));
    }

    Handle transfer_list(bool collective) {
        Handle dxpl = property_list(H5P_DATASET_XFER, path_);
        check(H5Pset_dxpl_mpio(dxpl, collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT), "H5Pset_dxpl_mpio",
              path_);
        return dxpl;
    }

    /// [offset, offset + count) of a 1-D dataset from or to `count` elements at `data`.
    void transfer(hid_t dset, const std::string& object, hid_t type, void* data, hsize_t offset, hsize_t count,
                  bool collective, bool write) {
        transfer_box(dset, object, type, data, {count}, {0}, {offset}, {count}, collective, write);
    }

    Handle open_attribute(const std::string& object, const std::string& name) const {
        const Location at = locate(object);
        return {check(H5Aopen_by_name(at.file, at.object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), "H5Aopen",
                      path_, object + "@" + name),
                H5Aclose};
    }

    void put_attribute(const std::string& object, const std::string& name, hid_t type, hid_t space_id,
                       const void* data) {
        Handle space(check(space_id, "H5Screate", path_, object + "@" + name), H5Sclose);
        Handle attr(check(H5Acreate_by_name(file_, object.c_str(), name.c_str(), type, space, H5P_DEFAULT,
                                            H5P_DEFAULT, H5P_DEFAULT),
                          "H5Acreate", path_, object + "@" + name),
                    H5Aclose);
        if (data) check(H5Awrite(attr, type, data), "H5Awrite", path_, object + "@" + name);  // a null space has no data
    }

    /// Where an object's header is: in this file, or, for an external link, in the older file it
    /// refers to. ckpt follows its links itself instead of letting HDF5 do it: HDF5 would open the
    /// target with this file's MPI-IO driver, a collective open inside a rank's independent read,
    /// and would search for it in HDF5_EXT_PREFIX and the working directory too.
    struct Location {
        hid_t file;
        std::string object;
    };
    Location locate(const std::string& object) const {
        std::string file, target;
        if (!external_link(object, file, target)) return {file_, object};
        return {referenced_file(file, object), target};
    }

    /// Whether `object` is an external link; if so, its target file and object.
    bool external_link(const std::string& object, std::string& file, std::string& target) const {
        const auto found = links_.find(object);
        if (found == links_.end()) return false;
        file = found->second.first;
        target = found->second.second;
        return true;
    }

    /// Collective (from the constructor): every external link of a file that refers to older
    /// versions, found once while all ranks are here. Looked up per object later, an HDF5 link
    /// query (H5Lget_info) is a collective metadata read in parallel HDF5 1.10 (rank 0 reads and
    /// broadcasts), which would strand the others where one rank has left a restore.
    void find_links() {
        if (!has_attribute("/", "ckpt.references")) return;
        auto visit = [](hid_t group, const char* name, const H5L_info_t* info, void* out) -> herr_t {
            if (info->type != H5L_TYPE_EXTERNAL) return 0;
            std::vector<char> value(info->u.val_size);
            unsigned flags = 0;
            const char *f = nullptr, *o = nullptr;
            if (H5Lget_val(group, name, value.data(), value.size(), H5P_DEFAULT) < 0 ||
                H5Lunpack_elink_val(value.data(), value.size(), &flags, &f, &o) < 0)
                return -1;
            (*static_cast<std::map<std::string, std::pair<std::string, std::string>>*>(out))["/" + std::string(name)] = {f, o};
            return 0;
        };
        check(H5Lvisit(file_, H5_INDEX_NAME, H5_ITER_INC, visit, &links_), "H5Lvisit", path_, "/");
    }

    /// The older file `name` (in this file's directory) that `object` refers to, opened once per
    /// file on this rank alone, read-only, and checked to be the version this file names in its
    /// ckpt.references: a file of the same name from another run is refused, never read.
    hid_t referenced_file(const std::string& name, const std::string& object) const {
        auto found = externals_.find(name);
        if (found != externals_.end()) return found->second;
        auto refused = [&](const std::string& why) {
            return FormatError({"entry \"" + object.substr(object.find('/', 1) + 1) + "\" is kept in the older version " +
                                    name + ", which " + why,
                                path_, object, -1,
                                "restore another version; rotation and ckpt prune keep every version a kept one refers "
                                "to, so this one was removed or replaced by hand"});
        };
        if (name.empty() || name.find('/') != std::string::npos) raise(bad_layout(object, "links to a file outside its directory"));
        const std::vector<std::string> names = read_strings_attribute("/", "ckpt.references");
        const std::vector<std::string> ids = read_strings_attribute("/", "ckpt.reference_ids");
        const auto at = std::find(names.begin(), names.end(), name);
        if (at == names.end() || ids.size() != names.size())
            raise(bad_layout(object, "links to " + name + ", which the file's ckpt.references does not name"));
        const std::string expected = ids[static_cast<std::size_t>(at - names.begin())];
        const std::size_t slash = path_.rfind('/');
        const std::string target = slash == std::string::npos ? name : path_.substr(0, slash + 1) + name;
        Handle fapl = property_list(H5P_FILE_ACCESS, path_);
        check(H5Pset_fapl_sec2(fapl), "H5Pset_fapl_sec2", path_);
        const hid_t opened = H5Fopen(target.c_str(), H5F_ACC_RDONLY, fapl);
        if (opened < 0) raise(refused("cannot be opened (missing, or not a readable HDF5 file)"));
        Handle older(opened, H5Fclose);
        std::string id = "(none)";
        if (H5Aexists_by_name(older, "/", "ckpt.version_id", H5P_DEFAULT) > 0) {
            Handle attr(check(H5Aopen_by_name(older, "/", "ckpt.version_id", H5P_DEFAULT, H5P_DEFAULT), "H5Aopen", target, "/"),
                        H5Aclose);
            std::int64_t v = 0;
            check(H5Aread(attr, H5T_NATIVE_INT64, &v), "H5Aread", target, "/@ckpt.version_id");
            id = std::to_string(v);
        }
        if (id != expected)
            raise(refused("is another version than the one referred to (version id " + id + ", not " + expected + ")"));
        return externals_.emplace(name, std::move(older)).first->second;
    }

    std::string path_;
    Handle file_;
    mutable std::map<std::string, Handle> externals_;  ///< older files referred to, by name; closed before file_
    /// Read files: each external link's object path, and its target file and object (find_links()).
    std::map<std::string, std::pair<std::string, std::string>> links_;
};

}  // namespace ckpt::detail::h5
