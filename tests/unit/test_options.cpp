// Unit tests for ckpt/options.hpp and ckpt/detail/parse.hpp: every knob of docs/batch-contract.md sections 2-5,
// parsed from an injected environment (never the real one) and a fake argv.
#include <catch2/catch.hpp>

#include "ckpt/options.hpp"

#include <csignal>
#include <map>
#include <string>
#include <vector>

using Catch::Contains;
using ckpt::ConfigError;
using ckpt::Options;
using ckpt::RestartKind;

namespace {

using Vars = std::map<std::string, std::string>;

/// An Environment backed by a map; `vars` must outlive every lookup.
ckpt::Environment fake_env(const Vars& vars) {
    return [&vars](const char* name) -> const char* {
        const auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
}

/// A mutable, NULL-terminated argv over owned strings, as main() receives it.
struct Argv {
    std::vector<std::string> storage;
    std::vector<char*> pointers;
    int argc = 0;

    explicit Argv(std::vector<std::string> args) : storage(std::move(args)) {
        for (auto& s : storage) pointers.push_back(&s[0]);
        pointers.push_back(nullptr);
        argc = static_cast<int>(storage.size());
    }
    char** argv() { return pointers.data(); }
    /// The arguments left in argv[0..argc), as strings.
    std::vector<std::string> left() const {
        return std::vector<std::string>(pointers.begin(), pointers.begin() + argc);
    }
};

/// Resolve `a` against `vars`, with in-code options if given. A pointer, not a defaulted Options:
/// GCC 12 -O2 flags a temporary Options at a call site as maybe-uninitialized (false positive).
Options run(Argv& a, const Vars& vars = {}, const Options* in_code = nullptr) {
    Options base;
    if (in_code != nullptr) base = *in_code;
    return ckpt::resolve_options(a.argc, a.argv(), base, fake_env(vars));
}

/// Resolve an environment and an argument list (after "app").
Options resolve(const Vars& vars, std::vector<std::string> args = {}, const Options* in_code = nullptr) {
    args.insert(args.begin(), "app");
    Argv a(std::move(args));
    return run(a, vars, in_code);
}

/// Resolve with only CKPT_MODE set, as the grammar tests need.
Options mode(const std::string& text) { return resolve({{"CKPT_MODE", text}}); }

/// Apply a --checkpoint text to default options.
Options items(const std::string& text) {
    Options o;
    ckpt::apply_checkpoint_items(o, text, "--checkpoint");
    return o;
}

/// Seconds of a duration knob, via CKPT_INTERVAL (bare = minutes) or CKPT_HALT_SECONDS (bare = seconds).
double interval_of(const std::string& text) { return resolve({{"CKPT_INTERVAL", text}}).interval.count(); }
double halt_of(const std::string& text) { return resolve({{"CKPT_HALT_SECONDS", text}}).halt.count(); }

ckpt::Mode make_mode(bool none, bool enabled, bool shutdown, bool periodic) {
    return ckpt::Mode{none, enabled, shutdown, periodic};
}

}  // namespace

TEST_CASE("defaults are the contract's built-in values", "[unit][options]") {
    const Options o = resolve({});
    CHECK(o.mode == make_mode(false, true, true, false));
    CHECK(o.interval.count() == 0);
    CHECK(o.every == 0);
    CHECK(o.depth == 2);
    CHECK(o.dir == "./ckpt");
    CHECK(o.name == "ckpt");
    CHECK(o.restart.kind == RestartKind::None);
    CHECK(o.checkpoint_signal == SIGUSR1);
    CHECK(o.term_signals == std::vector<int>{SIGTERM, SIGINT, SIGUSR2, SIGXCPU});
    CHECK(o.exit_code == 85);
    CHECK(o.halt.count() == 0);
    CHECK_FALSE(o.verbose);
    CHECK_FALSE(o.strict_restore);
    CHECK(o.origin.empty());
}

TEST_CASE("each mode word of the --checkpoint grammar sets exactly its mode", "[unit][options]") {
    CHECK(items("none").mode == make_mode(true, false, false, false));
    CHECK(items("enabled").mode == make_mode(false, true, false, false));
    CHECK(items("shutdown").mode == make_mode(false, false, true, false));
    CHECK(items("enabled,shutdown,periodic").mode == make_mode(false, true, true, true));
    CHECK(items("periodic").mode == make_mode(false, false, false, true));
}

TEST_CASE("legacy qsub -c letters mean what Torque and PBS Professional mean", "[unit][options]") {
    CHECK(mode("n").mode == make_mode(true, false, false, false));
    CHECK(mode("s").mode == make_mode(false, true, true, false));
    CHECK(mode("u").mode == make_mode(false, true, true, false));
    SECTION("c and w are enabled,periodic with the 10-minute default") {
        for (const char* letter : {"c", "w"}) {
            const Options o = mode(letter);
            CHECK(o.mode == make_mode(false, true, false, true));
            CHECK(o.interval.count() == 600);
        }
    }
    SECTION("c=MIN and w=MIN set the interval in minutes") {
        const Options c = mode("c=15");
        CHECK(c.mode == make_mode(false, true, false, true));
        CHECK(c.interval.count() == 900);
        CHECK(mode("w=2").interval.count() == 120);
        CHECK(mode("c=30s").interval.count() == 30);
    }
}

TEST_CASE("key items set their knob and a non-zero period implies periodic", "[unit][options]") {
    const Options o = mode("interval=10,depth=3,dir=/scratch/ck,halt=300");
    CHECK(o.interval.count() == 600);
    CHECK(o.mode == make_mode(false, true, true, true));  // keys alone keep enabled,shutdown
    CHECK(o.depth == 3);
    CHECK(o.dir == "/scratch/ck");
    CHECK(o.halt.count() == 300);  // halt= is seconds
    const Options e = mode("every=50");
    CHECK(e.every == 50);
    CHECK(e.mode.periodic);
    CHECK(e.interval.count() == 0);  // every= is the period, so no 10-minute default
    CHECK_FALSE(mode("interval=0").mode.periodic);
    CHECK_FALSE(mode("every=0").mode.periodic);
    CHECK(mode("depth=0").depth == 0);
}

TEST_CASE("the Torque example from the contract parses as a Torque user expects", "[unit][options]") {
    const Options o = items("enabled,periodic,shutdown,interval=10,depth=3,dir=/scratch/ck");
    CHECK(o.mode == make_mode(false, true, true, true));
    CHECK(o.interval.count() == 600);
    CHECK(o.depth == 3);
    CHECK(o.dir == "/scratch/ck");
}

TEST_CASE("none anywhere in the list means no checkpoint", "[unit][options]") {
    for (const char* text : {"enabled,none", "none,periodic,interval=5", "s,n", "c=10,n", "c,n"}) {
        INFO(text);
        CHECK(mode(text).mode == make_mode(true, false, false, false));
    }
    CHECK(mode("periodic,none").interval.count() == 0);  // no periodic default for a job that never checkpoints
    CHECK(mode("none,interval=5").interval.count() == 300);  // the value is still recorded
}

TEST_CASE("periodic without an interval gets 10 minutes after all layers are merged", "[unit][options]") {
    CHECK(mode("periodic").interval.count() == 600);
    SECTION("an interval from a lower layer is kept") {
        Options code;
        code.interval = std::chrono::duration<double>(42);
        CHECK(resolve({{"CKPT_MODE", "periodic"}}, {}, &code).interval.count() == 42);
    }
    SECTION("an interval from a higher layer is used") {
        CHECK(resolve({{"CKPT_MODE", "periodic"}}, {"--checkpoint-interval", "5"}).interval.count() == 300);
    }
    SECTION("a periodic from code also gets the default") {
        Options code;
        code.mode.periodic = true;
        const Options o = resolve({}, {}, &code);
        CHECK(o.interval.count() == 600);
        CHECK(o.origin.at("interval") == "600s (default period of periodic, 10 min)");
    }
}

TEST_CASE("a repeated key in one list: the last wins", "[unit][options]") {
    CHECK(items("depth=3,depth=5").depth == 5);
    CHECK(items("interval=10,interval=20").interval.count() == 1200);
    CHECK(items("dir=/a,dir=/b").dir == "/b");
    CHECK_FALSE(items("interval=10,interval=0").mode.periodic);
}

TEST_CASE("blanks around items, keys and values are ignored", "[unit][options]") {
    const Options o = items("  enabled , periodic,\tinterval = 5 , depth=4 ");
    CHECK(o.mode == make_mode(false, true, false, true));
    CHECK(o.interval.count() == 300);
    CHECK(o.depth == 4);
}

TEST_CASE("mode words of a higher layer replace the mode set; keys alone keep it", "[unit][options]") {
    CHECK(resolve({{"CKPT_MODE", "shutdown"}}, {"--checkpoint", "enabled"}).mode == make_mode(false, true, false, false));
    CHECK(resolve({{"CKPT_MODE", "none"}}, {"--checkpoint", "s"}).mode == make_mode(false, true, true, false));
    const Options kept = resolve({{"CKPT_MODE", "enabled"}}, {"--checkpoint", "depth=7"});
    CHECK(kept.mode == make_mode(false, true, false, false));
    CHECK(kept.depth == 7);
    SECTION("an implied periodic never lifts a none") {
        const Options o = resolve({{"CKPT_MODE", "none"}, {"CKPT_INTERVAL", "10"}});
        CHECK(o.mode == make_mode(true, false, false, false));
    }
}

TEST_CASE("an unknown or empty --checkpoint item is an error naming the item", "[unit][options]") {
    for (const char* bad : {"enabled,bogus", "periodc", "interval", "c=", "depth=", "dir=", "x=1", "ENABLED", "n=1"}) {
        INFO(bad);
        REQUIRE_THROWS_AS(items(bad), ConfigError);
    }
    REQUIRE_THROWS_WITH(items("enabled,bogus"), Contains("--checkpoint") && Contains("\"bogus\""));
    REQUIRE_THROWS_WITH(mode("periodc"), Contains("CKPT_MODE") && Contains("periodc"));
    REQUIRE_THROWS_WITH(items("enabled,,shutdown"), Contains("--checkpoint") && Contains("enabled,,shutdown"));
    REQUIRE_THROWS_WITH(items("enabled,"), Contains("empty item"));
    REQUIRE_THROWS_WITH(items(""), Contains("--checkpoint"));
    REQUIRE_THROWS_WITH(items("interval=10x"), Contains("--checkpoint") && Contains("interval=10x"));
    REQUIRE_THROWS_WITH(items("depth=-1"), Contains("depth=-1"));
    REQUIRE_THROWS_WITH(items("every=1.5"), Contains("every=1.5"));
    REQUIRE_THROWS_WITH(items("halt=abc"), Contains("halt=abc"));
    SECTION("a failed list leaves the options untouched") {
        Options o;
        REQUIRE_THROWS_AS(ckpt::apply_checkpoint_items(o, "depth=9,periodic,bogus", "--checkpoint"), ConfigError);
        CHECK(o.depth == 2);
        CHECK(o.mode == make_mode(false, true, true, false));
    }
    SECTION("the error carries option() and value()") {
        try {
            items("enabled,bogus");
            FAIL("no exception");
        } catch (const ConfigError& e) {
            CHECK(e.option() == "--checkpoint");
            CHECK(e.value() == "bogus");
        }
    }
}

TEST_CASE("durations: every form and unit", "[unit][options]") {
    SECTION("a bare number is minutes for periods and seconds for halt") {
        CHECK(interval_of("10") == 600);
        CHECK(halt_of("10") == 10);
        CHECK(resolve({}, {"--checkpoint-interval", "2"}).interval.count() == 120);
    }
    SECTION("suffixes") {
        CHECK(interval_of("45s") == 45);
        CHECK(interval_of("10m") == 600);
        CHECK(interval_of("10min") == 600);
        CHECK(interval_of("2h") == 7200);
        CHECK(interval_of("1d") == 86400);
        CHECK(halt_of("5m") == 300);
        CHECK(halt_of("1h") == 3600);
    }
    SECTION("fractions") {
        CHECK(interval_of("0.5m") == 30);
        CHECK(interval_of("1.5") == 90);
        CHECK(halt_of("2.5") == 2.5);
        CHECK(halt_of("0.1s") == Approx(0.1));
        CHECK(interval_of("1.5" + std::string(400, '0')) == 90);  // long fractions are fine
    }
    SECTION("clock forms") {
        CHECK(interval_of("01:30") == 5400);  // HH:MM
        CHECK(interval_of("01:30:00") == 5400);
        CHECK(interval_of("0:00:45") == 45);
        CHECK(halt_of("00:05:00") == 300);
        CHECK(interval_of("1-02:03:04") == 86400 + 7200 + 180 + 4);
        CHECK(interval_of("2-00:00") == 2 * 86400);
        CHECK(interval_of("100:00:00") == 360000);
    }
    SECTION("zero is off, surrounding blanks are ignored") {
        CHECK(interval_of("0") == 0);
        CHECK(halt_of("0s") == 0);
        CHECK_FALSE(resolve({{"CKPT_INTERVAL", "0"}}).mode.periodic);
        CHECK(interval_of(" 10 ") == 600);
    }
}

TEST_CASE("malformed durations are errors naming the variable and the value", "[unit][options]") {
    for (const std::string& bad : std::vector<std::string>{"10x", "-5", "-1m", "", "1.", ".5", "1.2.3", "10 m", "m", "1e3", "+5", "10M", "1:60",
                            "1:2:3:4", "1-24:00", "1-12", ":30", "1:", "01:30:5x", "0x10", "nan", "inf",
                            "1000000000d", std::string(400, '9')}) {
        INFO(bad);
        Options o;
        REQUIRE_THROWS_AS(ckpt::detail::apply_knob(o, ckpt::detail::Knob::Interval, bad,
                                                   {"CKPT_INTERVAL", bad, "CKPT_INTERVAL=x"}),
                          ConfigError);
    }
    REQUIRE_THROWS_AS(resolve({{"CKPT_INTERVAL", "10x"}}), ConfigError);
    REQUIRE_THROWS_WITH(resolve({{"CKPT_INTERVAL", "10x"}}), Contains("CKPT_INTERVAL") && Contains("10x"));
    REQUIRE_THROWS_WITH(resolve({{"CKPT_INTERVAL", "10x"}}),
                        Contains("ckpt: bad value \"10x\" for CKPT_INTERVAL: expected a duration like 600, 10m, 1h "
                                 "or 01:30:00.") &&
                            Contains("minutes"));
    REQUIRE_THROWS_WITH(resolve({{"CKPT_INTERVAL", "-5"}}), Contains("-5") && Contains("negative"));
    REQUIRE_THROWS_AS(resolve({{"CKPT_HALT_SECONDS", "5y"}}), ConfigError);
    REQUIRE_THROWS_WITH(resolve({{"CKPT_HALT_SECONDS", "5y"}}), Contains("CKPT_HALT_SECONDS") && Contains("5y"));
    REQUIRE_THROWS_AS(resolve({}, {"--checkpoint-interval", "soon"}), ConfigError);
    REQUIRE_THROWS_WITH(resolve({}, {"--checkpoint-interval", "soon"}),
                        Contains("--checkpoint-interval") && Contains("soon"));
    REQUIRE_THROWS_WITH(resolve({}, {"--checkpoint-interval="}), Contains("--checkpoint-interval"));
}

TEST_CASE("integers are strictly validated", "[unit][options]") {
    for (const char* bad : {"-1", "+3", "3x", "3.0", "0x10", "1e2", "three", "4294967296", "3 4"}) {
        INFO(bad);
        REQUIRE_THROWS_AS(resolve({{"CKPT_DEPTH", bad}}), ConfigError);
        REQUIRE_THROWS_WITH(resolve({{"CKPT_DEPTH", bad}}), Contains("CKPT_DEPTH") && Contains(bad));
    }
    CHECK(resolve({{"CKPT_DEPTH", "4294967295"}}).depth == 4294967295u);
    CHECK(resolve({{"CKPT_DEPTH", "007"}}).depth == 7);
    CHECK(resolve({{"CKPT_EVERY", "18446744073709551615"}}).every == 18446744073709551615ull);
    REQUIRE_THROWS_WITH(resolve({{"CKPT_EVERY", "18446744073709551616"}}),
                        Contains("CKPT_EVERY") && Contains("18446744073709551616"));
    REQUIRE_THROWS_WITH(resolve({{"CKPT_EVERY", "-2"}}), Contains("CKPT_EVERY") && Contains("-2"));
    SECTION("exit codes are 0..255") {
        CHECK(resolve({{"CKPT_EXIT_CODE", "0"}}).exit_code == 0);
        CHECK(resolve({{"CKPT_EXIT_CODE", "255"}}).exit_code == 255);
        CHECK(resolve({{"CKPT_EXIT_CODE", "99"}}).exit_code == 99);
        for (const char* bad : {"256", "-1", "85x", "1000000000000000000000"}) {
            INFO(bad);
            REQUIRE_THROWS_AS(resolve({{"CKPT_EXIT_CODE", bad}}), ConfigError);
            REQUIRE_THROWS_WITH(resolve({{"CKPT_EXIT_CODE", bad}}), Contains("CKPT_EXIT_CODE") && Contains(bad));
        }
    }
    SECTION("to_uint refuses overflow exactly at the limit") {
        CHECK(ckpt::detail::to_uint("255", 255) == 255u);
        CHECK_FALSE(ckpt::detail::to_uint("256", 255));
        CHECK_FALSE(ckpt::detail::to_uint("", 255));
    }
}

TEST_CASE("signals by name, with or without SIG, any case, or by number", "[unit][options]") {
    CHECK(resolve({{"CKPT_SIGNAL", "USR2"}}).checkpoint_signal == SIGUSR2);
    CHECK(resolve({{"CKPT_SIGNAL", "SIGUSR2"}}).checkpoint_signal == SIGUSR2);
    CHECK(resolve({{"CKPT_SIGNAL", "term"}}).checkpoint_signal == SIGTERM);
    CHECK(resolve({{"CKPT_SIGNAL", "SigHup"}}).checkpoint_signal == SIGHUP);
    CHECK(resolve({{"CKPT_SIGNAL", "12"}}).checkpoint_signal == 12);
    CHECK(resolve({{"CKPT_SIGNAL", "64"}}).checkpoint_signal == 64);
    CHECK(resolve({}, {"--checkpoint-signal=xcpu"}).checkpoint_signal == SIGXCPU);
    for (const char* bad : {"BOGUS", "SIG", "SIGFOO", "-10", "0", "65", "USR1x", "1.5", "KILL", "SIGSTOP", "9"}) {
        INFO(bad);
        REQUIRE_THROWS_AS(resolve({{"CKPT_SIGNAL", bad}}), ConfigError);
        REQUIRE_THROWS_WITH(resolve({{"CKPT_SIGNAL", bad}}), Contains("CKPT_SIGNAL") && Contains(bad));
    }
    REQUIRE_THROWS_WITH(resolve({}, {"--checkpoint-signal", "NOPE"}),
                        Contains("--checkpoint-signal") && Contains("NOPE"));
    CHECK(ckpt::detail::signal_name(SIGUSR1) == "USR1");
    CHECK(ckpt::detail::signal_name(SIGXCPU) == "XCPU");
}

TEST_CASE("CKPT_TERM_SIGNALS is a comma list and empty means none", "[unit][options]") {
    CHECK(resolve({{"CKPT_TERM_SIGNALS", "TERM, sigint,12"}}).term_signals == std::vector<int>{SIGTERM, SIGINT, 12});
    CHECK(resolve({{"CKPT_TERM_SIGNALS", ""}}).term_signals.empty());
    CHECK(resolve({{"CKPT_TERM_SIGNALS", "TERM,TERM"}}).term_signals == std::vector<int>{SIGTERM});
    CHECK(resolve({{"CKPT_TERM_SIGNALS", ""}}).origin.at("term_signals") == "none (from CKPT_TERM_SIGNALS=)");
    for (const char* bad : {"TERM,,INT", "TERM,", "TERM,BOGUS", "-15"}) {
        INFO(bad);
        REQUIRE_THROWS_AS(resolve({{"CKPT_TERM_SIGNALS", bad}}), ConfigError);
        REQUIRE_THROWS_WITH(resolve({{"CKPT_TERM_SIGNALS", bad}}), Contains("CKPT_TERM_SIGNALS"));
    }
    REQUIRE_THROWS_WITH(resolve({{"CKPT_TERM_SIGNALS", "TERM,BOGUS"}}), Contains("\"BOGUS\""));
}

TEST_CASE("CKPT_VERBOSE accepts 0/1/true/false/yes/no", "[unit][options]") {
    for (const char* on : {"1", "true", "YES", "True"}) CHECK(resolve({{"CKPT_VERBOSE", on}}).verbose);
    for (const char* off : {"0", "false", "no", "NO"}) CHECK_FALSE(resolve({{"CKPT_VERBOSE", off}}).verbose);
    for (const char* bad : {"2", "on", "y", "verbose"}) {
        INFO(bad);
        REQUIRE_THROWS_AS(resolve({{"CKPT_VERBOSE", bad}}), ConfigError);
        REQUIRE_THROWS_WITH(resolve({{"CKPT_VERBOSE", bad}}), Contains("CKPT_VERBOSE") && Contains(bad));
    }
}

TEST_CASE("CKPT_STRICT_RESTORE accepts 0/1/true/false/yes/no and records its origin", "[unit][options][schema]") {
    for (const char* on : {"1", "true", "YES", "True", " yes "})
        CHECK(resolve({{"CKPT_STRICT_RESTORE", on}}).strict_restore);
    for (const char* off : {"0", "false", "no", "NO"}) CHECK_FALSE(resolve({{"CKPT_STRICT_RESTORE", off}}).strict_restore);
    for (const char* bad : {"2", "on", "y", "strict"}) {
        INFO(bad);
        REQUIRE_THROWS_AS(resolve({{"CKPT_STRICT_RESTORE", bad}}), ConfigError);
        REQUIRE_THROWS_WITH(resolve({{"CKPT_STRICT_RESTORE", bad}}), Contains("CKPT_STRICT_RESTORE") && Contains(bad));
    }
    // Independent of CKPT_VERBOSE, in both directions.
    const Options strict = resolve({{"CKPT_STRICT_RESTORE", "1"}});
    CHECK_FALSE(strict.verbose);
    CHECK_FALSE(resolve({{"CKPT_VERBOSE", "1"}}).strict_restore);
    CHECK(strict.origin.at("strict_restore") == "true (from CKPT_STRICT_RESTORE=1)");
    CHECK(strict.origin.count("verbose") == 0);
    CHECK_THAT(ckpt::describe(strict), Contains("ckpt: strict_restore=true (from CKPT_STRICT_RESTORE=1)\n"));
    // Empty counts as unset; the environment overrides code, both ways.
    CHECK_FALSE(resolve({{"CKPT_STRICT_RESTORE", ""}}).strict_restore);
    Options in_code;
    in_code.strict_restore = true;
    const Options from_code = resolve({}, {}, &in_code);
    CHECK(from_code.strict_restore);
    CHECK(from_code.origin.at("strict_restore") == "true (from code)");
    CHECK_THAT(ckpt::describe(from_code), Contains("ckpt: strict_restore=true (from code)\n"));
    const Options overridden = resolve({{"CKPT_STRICT_RESTORE", "no"}}, {}, &in_code);
    CHECK_FALSE(overridden.strict_restore);
    CHECK(overridden.origin.at("strict_restore") == "false (from CKPT_STRICT_RESTORE=no)");
    // Like verbose, it has no command-line flag: --strict-restore is the application's argument.
    Argv a({"app", "--strict-restore", "x"});
    CHECK_FALSE(run(a).strict_restore);
    CHECK(a.left() == std::vector<std::string>{"app", "--strict-restore", "x"});
}

TEST_CASE("the restart option and CKPT_RESTART select what to restart from", "[unit][options]") {
    using ckpt::parse_restart;
    CHECK(parse_restart("none", "--restart").kind == RestartKind::None);
    CHECK(parse_restart("auto", "--restart").kind == RestartKind::Auto);
    CHECK(parse_restart("latest", "--restart").kind == RestartKind::Latest);
    const auto seq = parse_restart("0012", "--restart");
    CHECK(seq.kind == RestartKind::Sequence);
    CHECK(seq.sequence == 12);
    const auto name = parse_restart("ckpt.000012.h5", "--restart");
    CHECK(name.kind == RestartKind::Name);
    CHECK(name.target == "ckpt.000012.h5");
    const auto path = parse_restart("/scratch/ck/ckpt.3.h5", "--restart");
    CHECK(path.kind == RestartKind::Path);
    CHECK(path.target == "/scratch/ck/ckpt.3.h5");
    CHECK(parse_restart("./ckpt.3.h5", "--restart").kind == RestartKind::Path);
    REQUIRE_THROWS_AS(parse_restart("", "--restart"), ConfigError);
    REQUIRE_THROWS_WITH(parse_restart("  ", "CKPT_RESTART"), Contains("CKPT_RESTART"));
    REQUIRE_THROWS_WITH(parse_restart("99999999999999999999", "--restart"),
                        Contains("--restart") && Contains("99999999999999999999"));
    REQUIRE_THROWS_WITH(resolve({}, {"--restart="}), Contains("--restart"));
    SECTION("to_string reads back into the same spec") {
        for (const char* text : {"none", "auto", "latest", "12", "ckpt.12.h5", "/x/y.h5"}) {
            INFO(text);
            CHECK(ckpt::to_string(parse_restart(text, "t")) == text);
            CHECK(parse_restart(ckpt::to_string(parse_restart(text, "t")), "t") == parse_restart(text, "t"));
        }
    }
    CHECK(resolve({{"CKPT_RESTART", "latest"}}).restart.kind == RestartKind::Latest);
}

TEST_CASE("name and dir refuse values that cannot name a checkpoint", "[unit][options]") {
    CHECK(resolve({{"CKPT_NAME", "run7"}}).name == "run7");
    REQUIRE_THROWS_WITH(resolve({{"CKPT_NAME", "a/b"}}), Contains("CKPT_NAME") && Contains("a/b"));
    REQUIRE_THROWS_WITH(resolve({}, {"--checkpoint-name="}), Contains("--checkpoint-name"));
    REQUIRE_THROWS_WITH(resolve({}, {"--checkpoint-dir="}), Contains("--checkpoint-dir"));
    // The one name rule (version_dir.hpp), the same as `ckpt list --name`: a leading '.' would
    // hide the versions from every listing, so the library refuses it as the command does.
    REQUIRE_THROWS_WITH(resolve({}, {"--checkpoint-name=.hidden"}),
                        Contains("--checkpoint-name") && Contains(".hidden") && Contains("does not start with '.'"));
    REQUIRE_THROWS_WITH(resolve({{"CKPT_NAME", ".hidden"}}), Contains("CKPT_NAME") && Contains("start with '.'"));
    Options code;
    code.name = ".hidden";
    REQUIRE_THROWS_WITH(resolve({}, {}, &code), Contains(".hidden") && Contains("start with '.'"));
}

TEST_CASE("precedence: code < environment < command line", "[unit][options]") {
    Options code;
    code.depth = 4;
    code.dir = "/code";
    code.name = "codename";
    code.exit_code = 3;
    const Vars env{{"CKPT_DIR", "/env"}, {"CKPT_NAME", "envname"}, {"CKPT_INTERVAL", "5"}};
    const Options o = resolve(env, {"--checkpoint-dir", "/flag", "--checkpoint-interval=7"}, &code);
    CHECK(o.depth == 4);           // code only
    CHECK(o.exit_code == 3);       // code only
    CHECK(o.name == "envname");    // env over code
    CHECK(o.dir == "/flag");       // flag over env over code
    CHECK(o.interval.count() == 420);  // flag over env
    CHECK(o.origin.at("depth") == "4 (from code)");
    CHECK(o.origin.at("name") == "envname (from CKPT_NAME=envname)");
    CHECK(o.origin.at("dir") == "/flag (from --checkpoint-dir /flag)");
    CHECK(o.origin.at("interval") == "420s (from --checkpoint-interval 7, unit min)");
    SECTION("one-knob variables beat CKPT_MODE items") {
        const Options m = resolve({{"CKPT_MODE", "depth=3,dir=/m,interval=1"}, {"CKPT_DEPTH", "5"}, {"CKPT_DIR", "/d"}});
        CHECK(m.depth == 5);
        CHECK(m.dir == "/d");
        CHECK(m.interval.count() == 60);
    }
    SECTION("within the command line the last flag wins") {
        const Options f = resolve({}, {"--checkpoint", "interval=10", "--checkpoint-interval", "3",
                                       "--restart", "auto", "--restart=latest"});
        CHECK(f.interval.count() == 180);
        CHECK(f.restart.kind == RestartKind::Latest);
    }
    SECTION("preset origins for code values are kept") {
        Options hook;
        hook.depth = 6;
        hook.origin["depth"] = "6 (from batch hook request)";
        CHECK(resolve({}, {}, &hook).origin.at("depth") == "6 (from batch hook request)");
        CHECK(resolve({{"CKPT_DEPTH", "1"}}, {}, &hook).origin.at("depth") == "1 (from CKPT_DEPTH=1)");
    }
}

TEST_CASE("a set-but-empty variable counts as unset", "[unit][options]") {
    const Vars env{{"CKPT_MODE", ""},   {"CKPT_INTERVAL", ""}, {"CKPT_EVERY", " "},    {"CKPT_DEPTH", ""},
                   {"CKPT_DIR", ""},    {"CKPT_NAME", ""},     {"CKPT_RESTART", ""},   {"CKPT_SIGNAL", ""},
                   {"CKPT_EXIT_CODE", ""}, {"CKPT_HALT_SECONDS", ""}, {"CKPT_VERBOSE", ""},
                   {"CKPT_STRICT_RESTORE", " "}};
    const Options o = resolve(env);
    CHECK(o.mode == make_mode(false, true, true, false));
    CHECK(o.depth == 2);
    CHECK(o.dir == "./ckpt");
    CHECK(o.checkpoint_signal == SIGUSR1);
    CHECK(o.exit_code == 85);
    CHECK(o.origin.empty());
}

TEST_CASE("ckpt flags are removed from argv; application arguments stay in order", "[unit][options]") {
    Argv a({"app", "-n", "10", "--checkpoint", "depth=3", "input.dat", "--restart=auto", "--checkpoint-dir",
            "/d", "--checkpoint-name=nm", "--verbose", "--checkpoint-signal", "USR2", "--checkpoint-interval=1h",
            "--", "--restart", "none", "--checkpoint-dir=/x"});
    const Options o = run(a);
    CHECK(a.left() == std::vector<std::string>{"app", "-n", "10", "input.dat", "--verbose", "--", "--restart",
                                               "none", "--checkpoint-dir=/x"});
    CHECK(a.argv()[a.argc] == nullptr);  // still NULL-terminated
    CHECK(o.depth == 3);
    CHECK(o.restart.kind == RestartKind::Auto);  // the --restart after -- belongs to the application
    CHECK(o.dir == "/d");
    CHECK(o.name == "nm");
    CHECK(o.checkpoint_signal == SIGUSR2);
    CHECK(o.interval.count() == 3600);
    SECTION("look-alike flags are the application's") {
        Argv b({"app", "--checkpoints", "--restart-file", "x", "--checkpoint-dirx=1", "-restart"});
        run(b);
        CHECK(b.left() == std::vector<std::string>{"app", "--checkpoints", "--restart-file", "x",
                                                   "--checkpoint-dirx=1", "-restart"});
    }
    SECTION("an argv with nothing of ours is untouched") {
        Argv c({"app", "a", "b"});
        run(c);
        CHECK(c.argc == 3);
        CHECK(c.left() == std::vector<std::string>{"app", "a", "b"});
    }
    SECTION("a value that looks like an option is still the value") {
        Argv d({"app", "--checkpoint-dir", "-weird", "x"});
        const Options od = run(d);
        CHECK(od.dir == "-weird");
        CHECK(d.left() == std::vector<std::string>{"app", "x"});
    }
    SECTION("argc 0 and a null argv are accepted") {
        int zero = 0;
        const Options base;
        CHECK(ckpt::resolve_options(zero, nullptr, base, fake_env({})).depth == 2);
        CHECK(zero == 0);
    }
}

TEST_CASE("a flag without a value is an error, and argv is untouched then", "[unit][options]") {
    for (const char* flag : {"--restart", "--checkpoint", "--checkpoint-dir", "--checkpoint-name",
                             "--checkpoint-interval", "--checkpoint-signal"}) {
        INFO(flag);
        Argv a({"app", "x", flag});
        REQUIRE_THROWS_AS(run(a), ConfigError);
        REQUIRE_THROWS_WITH(run(a),
                            Contains(flag) && Contains("needs a value"));
        CHECK(a.argc == 3);
        CHECK(a.left() == std::vector<std::string>{"app", "x", flag});
    }
    REQUIRE_THROWS_WITH(resolve({}, {"--restart", "--"}), Contains("--restart") && Contains("needs a value"));
    REQUIRE_THROWS_WITH(resolve({}, {"--restart", "--checkpoint-dir", "x"}), Contains("--restart"));
    SECTION("a bad value leaves argv untouched too") {
        Argv a({"app", "--checkpoint", "depth=3", "--checkpoint-interval", "10x"});
        REQUIRE_THROWS_AS(run(a), ConfigError);
        CHECK(a.argc == 5);
    }
}

TEST_CASE("%j in dir expands to the batch job id", "[unit][options]") {
    CHECK(resolve({{"CKPT_DIR", "/s/%j"}, {"SLURM_JOB_ID", "42"}, {"PBS_JOBID", "7.srv"}}).dir == "/s/42");
    CHECK(resolve({{"CKPT_DIR", "/s/%j"}, {"PBS_JOBID", "7.srv"}, {"LSB_JOBID", "9"}}).dir == "/s/7.srv");
    CHECK(resolve({{"CKPT_DIR", "/s/%j"}, {"LSB_JOBID", "9"}, {"CKPT_JOB_ID", "c"}}).dir == "/s/9");
    CHECK(resolve({{"CKPT_DIR", "/s/%j"}, {"CKPT_JOB_ID", "c"}}).dir == "/s/c");
    CHECK(resolve({{"CKPT_DIR", "/s/%j"}, {"SLURM_JOB_ID", ""}, {"CKPT_JOB_ID", "c"}}).dir == "/s/c");
    CHECK(resolve({{"CKPT_DIR", "/s/%j"}}).dir == "/s/nojob");
    CHECK(resolve({{"CKPT_DIR", "/s/%j/%j-%%j-%x"}, {"SLURM_JOB_ID", "1"}}).dir == "/s/1/1-%j-%x");
    CHECK(resolve({{"CKPT_DIR", "/s/%j"}, {"SLURM_JOB_ID", "a/b"}}).dir == "/s/a_b");
    CHECK(resolve({{"SLURM_JOB_ID", "5"}}, {"--checkpoint", "dir=/c/%j"}).dir == "/c/5");
    Options code;
    code.dir = "/code/%j";
    const Options o = resolve({{"SLURM_JOB_ID", "5"}}, {}, &code);
    CHECK(o.dir == "/code/5");
    CHECK(o.origin.at("dir") == "/code/5 (from code)");
    CHECK(resolve({{"CKPT_DIR", "/s/%j"}, {"SLURM_JOB_ID", "42"}}).origin.at("dir") ==
          "/s/42 (from CKPT_DIR=/s/%j)");
}

TEST_CASE("values set in code are validated like any other", "[unit][options]") {
    Options code;
    SECTION("exit code") {
        code.exit_code = 300;
        REQUIRE_THROWS_WITH(resolve({}, {}, &code), Contains("Options::exit_code") && Contains("300"));
    }
    SECTION("signal") {
        code.checkpoint_signal = SIGKILL;
        REQUIRE_THROWS_AS(resolve({}, {}, &code), ConfigError);
    }
    SECTION("negative interval") {
        code.interval = std::chrono::duration<double>(-1);
        REQUIRE_THROWS_WITH(resolve({}, {}, &code), Contains("Options::interval") && Contains("-1s"));
    }
    SECTION("empty dir") {
        code.dir.clear();
        REQUIRE_THROWS_WITH(resolve({}, {}, &code), Contains("Options::dir"));
    }
    SECTION("but a layer above may fix them") {
        code.exit_code = 300;
        CHECK(resolve({{"CKPT_EXIT_CODE", "86"}}, {}, &code).exit_code == 86);
    }
}

TEST_CASE("async and async_busy: items, variables, the bare word, and bad values", "[unit][options]") {
    CHECK(resolve({}).async == 0);
    CHECK(resolve({}).async_busy == ckpt::AsyncBusy::Wait);
    const Options bare = resolve({}, {"--checkpoint", "async"});
    CHECK(bare.async == 1);
    CHECK(bare.mode.enabled);  // a key, not a mode word: the mode set stays
    CHECK(bare.mode.shutdown);
    CHECK(bare.origin.at("async") == "1 (from --checkpoint async)");
    const Options items = resolve({}, {"--checkpoint", "every=5,async=3,async_busy=SKIP"});
    CHECK(items.async == 3);
    CHECK(items.every == 5);
    CHECK(items.async_busy == ckpt::AsyncBusy::Skip);
    const Options env = resolve({{"CKPT_ASYNC", "2"}, {"CKPT_ASYNC_BUSY", "skip"}});
    CHECK(env.async == 2);
    CHECK(env.async_busy == ckpt::AsyncBusy::Skip);
    CHECK(resolve({{"CKPT_ASYNC", "2"}}, {"--checkpoint", "async=0"}).async == 0);  // the flag wins
    CHECK_THROWS_WITH(resolve({{"CKPT_ASYNC", "17"}}), Contains("CKPT_ASYNC") && Contains("0 to 16"));
    CHECK_THROWS_WITH(resolve({{"CKPT_ASYNC", "-1"}}), Contains("CKPT_ASYNC"));
    CHECK_THROWS_WITH(resolve({}, {"--checkpoint", "async_busy=drop"}), Contains("async_busy=drop") && Contains("wait or skip"));
    Options code;
    code.async = 40;
    CHECK_THROWS_WITH(resolve({}, {}, &code), Contains("Options::async") && Contains("40"));
}

TEST_CASE("cache, flush, partner and simulated_nodes: items, variables, %j, and bad values", "[unit][options]") {
    const Options none = resolve({});
    CHECK(none.cache.empty());
    CHECK(none.flush == 1);
    CHECK(none.partner);
    CHECK(none.simulated_nodes == 0);
    const Options items = resolve({{"SLURM_JOB_ID", "77"}}, {"--checkpoint", "cache=/dev/shm/%j,flush=4,partner=no"});
    CHECK(items.cache == "/dev/shm/77");
    CHECK(items.origin.at("cache") == "/dev/shm/77 (from --checkpoint cache=/dev/shm/%j)");
    CHECK(items.flush == 4);
    CHECK_FALSE(items.partner);
    CHECK(items.mode.shutdown);  // keys: the mode set stays
    const Options env = resolve({{"CKPT_CACHE_DIR", "/local"}, {"CKPT_FLUSH", "0"}, {"CKPT_PARTNER", "0"},
                                 {"CKPT_SIMULATED_NODES", "2"}});
    CHECK(env.cache == "/local");
    CHECK(env.flush == 0);
    CHECK_FALSE(env.partner);
    CHECK(env.simulated_nodes == 2);
    CHECK(resolve({{"CKPT_FLUSH", "3"}}, {"--checkpoint", "flush=5"}).flush == 5);  // the flag wins
    CHECK_THROWS_WITH(resolve({}, {"--checkpoint", "cache="}), Contains("cache=") && Contains("node-local directory"));
    CHECK_THROWS_WITH(resolve({{"CKPT_FLUSH", "often"}}), Contains("CKPT_FLUSH") && Contains("often"));
    CHECK_THROWS_WITH(resolve({{"CKPT_PARTNER", "maybe"}}), Contains("CKPT_PARTNER") && Contains("yes, no"));
    CHECK_THROWS_WITH(resolve({{"CKPT_SIMULATED_NODES", "5000"}}), Contains("CKPT_SIMULATED_NODES") && Contains("4096"));
    Options code;
    code.simulated_nodes = 5000;
    CHECK_THROWS_WITH(resolve({}, {}, &code), Contains("Options::simulated_nodes"));
}

TEST_CASE("origins say where each value came from, with its unit", "[unit][options]") {
    const Options o = resolve({{"CKPT_INTERVAL", "10"}, {"CKPT_HALT_SECONDS", "300"}},
                              {"--checkpoint", "depth=3", "--checkpoint-signal", "12"});
    CHECK(o.origin.at("interval") == "600s (from CKPT_INTERVAL=10, unit min)");
    CHECK(o.origin.at("halt") == "300s (from CKPT_HALT_SECONDS=300, unit s)");
    CHECK(o.origin.at("depth") == "3 (from --checkpoint depth=3)");
    CHECK(o.origin.at("mode") == "enabled,shutdown,periodic (from CKPT_INTERVAL=10, which implies periodic)");
    CHECK(o.origin.at("checkpoint_signal") == "USR2 (from --checkpoint-signal 12)");
    CHECK(resolve({{"CKPT_INTERVAL", "10m"}}).origin.at("interval") == "600s (from CKPT_INTERVAL=10m)");
    CHECK(resolve({{"CKPT_MODE", "c=2"}}).origin.at("interval") == "120s (from c=2 in CKPT_MODE, unit min)");
    CHECK(resolve({{"CKPT_MODE", "enabled"}}).origin.at("mode") == "enabled (from CKPT_MODE=enabled)");
    CHECK(o.origin.count("dir") == 0);
}

TEST_CASE("describe prints one line per knob with value, unit and origin", "[unit][options]") {
    const Options o = resolve({{"CKPT_INTERVAL", "10"}, {"CKPT_DIR", "/scratch/%j"}, {"SLURM_JOB_ID", "77"},
                               {"CKPT_TERM_SIGNALS", "TERM"}});
    CHECK(ckpt::describe(o) ==
          "ckpt: mode=enabled,shutdown,periodic (from CKPT_INTERVAL=10, which implies periodic)\n"
          "ckpt: interval=600s (from CKPT_INTERVAL=10, unit min)\n"
          "ckpt: every=0 (default)\n"
          "ckpt: depth=2 (default)\n"
          "ckpt: dir=/scratch/77 (from CKPT_DIR=/scratch/%j)\n"
          "ckpt: name=ckpt (default)\n"
          "ckpt: restart=none (default)\n"
          "ckpt: checkpoint_signal=USR1 (default)\n"
          "ckpt: term_signals=TERM (from CKPT_TERM_SIGNALS=TERM)\n"
          "ckpt: exit_code=85 (default)\n"
          "ckpt: halt=0s (default)\n"
          "ckpt: verbose=false (default)\n"
          "ckpt: strict_restore=false (default)\n"
          "ckpt: async=0 (default)\n"
          "ckpt: async_busy=wait (default)\n"
          "ckpt: cache=(none) (default)\n"
          "ckpt: flush=1 (default)\n"
          "ckpt: partner=true (default)\n"
          "ckpt: simulated_nodes=0 (default)\n"
          "ckpt: compression=off (default)\n"
          "ckpt: incremental=0 (default)\n");
    SECTION("unresolved options print values without origins") {
        Options raw;
        raw.depth = 9;
        CHECK_THAT(ckpt::describe(raw), Contains("ckpt: depth=9\n") && Contains("ckpt: dir=./ckpt (default)\n"));
    }
}

TEST_CASE("compression: CKPT_COMPRESSION and the compression= item, any case; argv over the environment", "[options][compression]") {
    CHECK(resolve({}).compression == ckpt::Compression::off());
    CHECK(resolve({{"CKPT_COMPRESSION", "lz4"}}).compression == ckpt::Compression::lz4());
    CHECK(resolve({{"CKPT_COMPRESSION", "DEFLATE"}}).compression == ckpt::Compression::deflate(1));
    CHECK(resolve({{"CKPT_COMPRESSION", " deflate:7 "}}).compression == ckpt::Compression::deflate(7));
    CHECK(resolve({{"CKPT_MODE", "compression=lz4"}}).compression == ckpt::Compression::lz4());
    const Options o = resolve({{"CKPT_COMPRESSION", "lz4"}}, {"--checkpoint", "enabled,compression=off"});
    CHECK(o.compression == ckpt::Compression::off());
    CHECK(o.origin.at("compression") == "off (from --checkpoint compression=off)");
    CHECK(resolve({{"CKPT_COMPRESSION", "deflate:3"}}).origin.at("compression") ==
          "deflate:3 (from CKPT_COMPRESSION=deflate:3)");
    CHECK_THAT(ckpt::describe(resolve({})), Contains("ckpt: compression=off (default)"));
}

TEST_CASE("compression: a bad value or level, or compression with async, is refused naming the option", "[options][compression]") {
    for (const char* bad : {"zstd", "deflate:0", "deflate:10", "deflate:", "lz4:1", "gzip"}) {
        INFO(bad);
        try {
            resolve({{"CKPT_COMPRESSION", bad}});
            FAIL("accepted");
        } catch (const ConfigError& e) {
            CHECK_THAT(e.what(), Contains("CKPT_COMPRESSION") && Contains("off, deflate, deflate:LEVEL (1 to 9) or lz4"));
        }
    }
    try {
        resolve({{"CKPT_COMPRESSION", "lz4"}, {"CKPT_ASYNC", "1"}});
        FAIL("accepted compression with async");
    } catch (const ConfigError& e) {
        CHECK_THAT(e.what(), Contains("compression") && Contains("async=1"));
    }
    Options in_code;
    in_code.compression = ckpt::Compression::deflate(11);
    CHECK_THROWS_WITH(resolve({}, {}, &in_code), Contains("Options::compression") && Contains("1 to 9"));
}

TEST_CASE("incremental: CKPT_INCREMENTAL and the incremental= item; 1, a bad number and async are refused",
          "[options][incremental]") {
    CHECK(resolve({}).incremental == 0);
    CHECK(resolve({{"CKPT_INCREMENTAL", "4"}}).incremental == 4);
    const Options o = resolve({{"CKPT_INCREMENTAL", "4"}}, {"--checkpoint", "enabled,incremental=8"});
    CHECK(o.incremental == 8);
    CHECK(o.origin.at("incremental") == "8 (from --checkpoint incremental=8)");
    CHECK_THAT(ckpt::describe(resolve({})), Contains("ckpt: incremental=0 (default)"));
    for (const char* bad : {"-1", "two", "2.5"}) {
        INFO(bad);
        CHECK_THROWS_WITH(resolve({{"CKPT_INCREMENTAL", bad}}), Contains("CKPT_INCREMENTAL") && Contains("every how many versions"));
    }
    CHECK_THROWS_WITH(resolve({{"CKPT_INCREMENTAL", "1"}}), Contains("incremental=") && Contains("2 or more"));
    CHECK_THROWS_WITH(resolve({{"CKPT_INCREMENTAL", "3"}, {"CKPT_ASYNC", "1"}}),
                      Contains("incremental") && Contains("async=1"));
}
