#pragma once
/// ckpt::CriticalSection: a stretch of code in which no checkpoint is taken.
///
///   { ckpt::CriticalSection cs(cp);  rebuild_mesh(); cp.poll(step); ... }   // deferred to here
///
/// poll() inside the section still takes part in the agreement between ranks, but what it
/// decides (a checkpoint, a shutdown) waits for the first poll() after the outermost section ends.
/// `every=N` steps that fall inside the section are skipped. Collective in the sense that every
/// rank must open and close its sections between the same poll() calls. Sections nest.

#include "ckpt/checkpointer.hpp"

namespace ckpt {

class CriticalSection {
public:
    explicit CriticalSection(Checkpointer& cp) noexcept : cp_(cp) { cp_.enter_critical_section(); }
    ~CriticalSection() { cp_.leave_critical_section(); }
    CriticalSection(const CriticalSection&) = delete;
    CriticalSection& operator=(const CriticalSection&) = delete;

private:
    Checkpointer& cp_;
};

}  // namespace ckpt
