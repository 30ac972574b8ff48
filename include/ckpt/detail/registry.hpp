#pragma once
/// The registry: what an application protected (entries, with their declarations) and the hooks
/// it gave, in order; the one place that checks an entry's name, and that turns the entries into
/// the plan of a checkpoint (their leaves, each with its distribution applied).

#include "ckpt/checkpointer.hpp"
#include "ckpt/codec.hpp"
#include "ckpt/detail/leaf.hpp"
#include "ckpt/detail/spread.hpp"
#include "ckpt/error.hpp"

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail {

/// Owns a type-erased object (a protected ArrayView, a hook) when it has a `destroy`.
class Erased {
public:
    Erased(void* object, DestroyFn destroy) noexcept : object_(object), destroy_(destroy) {}
    Erased(Erased&& other) noexcept : object_(other.object_), destroy_(std::exchange(other.destroy_, nullptr)) {}
    Erased& operator=(Erased&&) = delete;
    ~Erased() {
        if (destroy_) destroy_(object_);
    }
    void* get() const noexcept { return object_; }

private:
    void* object_;
    DestroyFn destroy_;
};

/// One protected object: its name, how to save and load it, and how it is spread.
struct Entry {
    std::string name;
    Erased object;
    SaveFn save;
    LoadFn load;
    Distribution how;

    /// The leaves a checkpoint would write of it now, its declaration applied.
    std::vector<SaveNode> leaves() const {
        std::vector<SaveNode> nodes;
        Writer w(nodes, "/state");
        save(w, name, object.get());
        apply_distribution(nodes, 0, name, how);
        return nodes;
    }
};

/// One on_checkpoint or on_restart hook.
struct Hook {
    Erased callable;
    CallFn call;
    void operator()() const { call(callable.get()); }
};

class Registry {
public:
    /// Throws UsageError: an invalid or duplicate name, a declaration wrong on its own, or a
    /// registration after the first restore (`closed`).
    void add(const std::string& name, Erased object, SaveFn save, LoadFn load, const Distribution& how, bool closed) {
        check_entry_name(name);
        if (closed) raise(UsageError::too_late(name, "restore_if_requested()"));
        check_declaration(name, how);
        if (!names_.insert(name).second) raise(UsageError::duplicate_name(name));
        entries_.push_back({name, std::move(object), save, load, how});
    }
    void add_hook(bool on_restart, Hook hook) { (on_restart ? restart_hooks_ : checkpoint_hooks_).push_back(std::move(hook)); }

    const std::vector<Entry>& entries() const noexcept { return entries_; }
    bool protects(const std::string& name) const { return names_.count(name) > 0; }

    /// The checkpoint hooks, in registration order.
    void run_checkpoint_hooks() const {
        for (const auto& hook : checkpoint_hooks_) hook();
    }
    /// The restart hooks, in reverse registration order.
    void run_restart_hooks() const {
        for (auto it = restart_hooks_.rbegin(); it != restart_hooks_.rend(); ++it) (*it)();
    }

    /// What a checkpoint writes now: every entry's leaves, in order, declarations applied.
    std::vector<SaveNode> plan() const {
        std::vector<SaveNode> nodes;
        Writer w(nodes, "/state");
        for (const auto& e : entries_) {
            const std::size_t first = nodes.size();
            e.save(w, e.name, e.object.get());
            apply_distribution(nodes, first, e.name, e.how);
        }
        return nodes;
    }
    /// The leaves of the block-distributed entries only (what a restore's tiling check needs).
    std::vector<SaveNode> block_leaves() const {
        std::vector<SaveNode> nodes;
        for (const auto& e : entries_)
            if (e.how.kind() == Distribution::Kind::Block)
                for (auto& n : e.leaves()) nodes.push_back(std::move(n));
        return nodes;
    }

private:
    std::vector<Entry> entries_;
    std::set<std::string> names_;
    std::vector<Hook> checkpoint_hooks_;
    std::vector<Hook> restart_hooks_;
};

}  // namespace ckpt::detail
