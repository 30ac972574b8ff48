// Path 1 of docs/extending.md: a specialization of ckpt::codec<T>, for full control.
// A codec names the parts of an object; each part is dispatched again (so codecs compose),
// and on disk the object becomes an HDF5 group /state/<name> with one entry per part.
#include <ckpt.hpp>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

namespace sim {

struct Boundary {
    std::string kind = "periodic";
    std::vector<double> values;
};

struct Mesh {
    std::int64_t nx = 0, ny = 0;
    std::vector<double> coords;  // 2 * nx * ny
    Boundary boundary;
    std::vector<double> cell_volume;  // derived from coords: not saved, rebuilt after a restore

    void rebuild() { cell_volume.assign(static_cast<std::size_t>(nx * ny), 1.0); }
};

}  // namespace sim

// save() and load() must visit the same names: the names are part of the file format.
// write() keeps a pointer to an lvalue until the checkpoint is written, so pass the object's
// own members; a computed value (an rvalue) is moved into the checkpoint instead.
template <>
struct ckpt::codec<sim::Boundary> {
    static void save(ckpt::Writer& w, const sim::Boundary& b) { w.write("kind", b.kind).write("values", b.values); }
    static void load(ckpt::Reader& r, sim::Boundary& b) { r.read("kind", b.kind).read("values", b.values); }
};

template <>
struct ckpt::codec<sim::Mesh> {
    static void save(ckpt::Writer& w, const sim::Mesh& m) {
        w.write("nx", m.nx).write("ny", m.ny);  // scalars: int64 datasets
        w.write("coords", m.coords);            // a float64 dataset
        w.write("boundary", m.boundary);        // codec<sim::Boundary>: a nested group
    }
    static void load(ckpt::Reader& r, sim::Mesh& m) {
        r.read("nx", m.nx).read("ny", m.ny);
        r.read("coords", m.coords);             // resized to the stored length
        r.read("boundary", m.boundary);
        m.rebuild();
    }
};

static_assert(ckpt::is_checkpointable_v<sim::Mesh>);

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
    sim::Mesh mesh;
    cp.protect("mesh", mesh);
    if (cp.restore_if_requested()) {
        std::cout << "restored a " << mesh.nx << " x " << mesh.ny << " mesh, " << mesh.boundary.kind << " boundary\n";
        return 0;
    }
    mesh.nx = 4;
    mesh.ny = 3;
    mesh.coords.assign(2 * 4 * 3, 0.5);
    mesh.boundary.values = {0.0, 1.0};
    mesh.rebuild();
    const std::string path = cp.checkpoint();  // /state/mesh/{nx,ny,coords,boundary/{kind,values}}
    std::cout << "wrote " << path << "\n";
}
