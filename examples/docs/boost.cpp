// Path 3 of docs/extending.md: Boost.Serialization. The object becomes a binary archive,
// stored as a uint8 dataset with ckpt.codec = "boost.binary".
#include <ckpt.hpp>

#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace app {

// (a) A public member serialize(): detected, nothing else to do.
struct Params {
    int n = 128;
    double alpha = 0.2;
    std::string initial = "two hot spots";
    template <class Archive>
    void serialize(Archive& ar, const unsigned /*version*/) {
        ar & n & alpha & initial;
    }
};

// (b) A private member serialize() made visible to Boost by friendship: ckpt cannot see it.
class Rng {
public:
    explicit Rng(unsigned long seed) : state_(seed) {}
    unsigned long next() { return state_ = state_ * 6364136223846793005UL + 1442695040888963407UL; }

private:
    friend class boost::serialization::access;
    template <class Archive>
    void serialize(Archive& ar, const unsigned /*version*/) {
        ar & state_;
    }
    unsigned long state_;
};

// (c) A type you cannot change, with a free (non-intrusive) serialize() in its namespace.
struct Species {
    std::string name;
    double mass = 0;
};
template <class Archive>
void serialize(Archive& ar, Species& s, const unsigned /*version*/) {
    ar & s.name & s.mass;
}

}  // namespace app

// (b) and (c) must opt in, at global namespace scope.
CKPT_BOOST_SERIALIZABLE(app::Rng)
CKPT_BOOST_SERIALIZABLE(app::Species)

static_assert(ckpt::is_checkpointable_v<app::Params>);
static_assert(ckpt::is_checkpointable_v<app::Rng>);
static_assert(ckpt::is_checkpointable_v<std::vector<app::Species>>);  // containers of opted-in types
static_assert(ckpt::is_checkpointable_v<std::map<std::string, std::vector<double>>>);

int main(int argc, char** argv) {
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);

    app::Params params;
    app::Rng rng(12345);
    std::vector<app::Species> species{{"electron", 1.0}, {"proton", 1836.15}};
    std::map<std::string, std::vector<double>> probes{{"inlet", {1.0, 2.0}}};  // std containers
    std::vector<std::vector<double>> ragged{{1.0}, {2.0, 3.0}};

    cp.protect("params", params)
        .protect("rng", rng)
        .protect("species", species)
        .protect("probes", probes)
        .protect("ragged", ragged);

    if (cp.restore_if_requested()) {
        std::cout << "restored " << species.size() << " species; next random number " << rng.next() << "\n";
        return 0;
    }
    std::cout << "wrote " << cp.checkpoint() << "; next random number " << rng.next() << "\n";
}
