// libckpt: the compiled mode's one translation unit (docs/building.md). Every non-template
// function that the public headers declare with CKPT_INLINE is defined here, once.
#include "ckpt/config.hpp"

#if CKPT_HEADER_ONLY
#error "src/ckpt.cpp is libckpt: build it with CKPT_SEPARATE_COMPILATION (the CMake target ckpt::compiled)"
#endif

#include "ckpt/detail/exit_record.hpp"
#include "ckpt/detail/process_exit.hpp"
#include "ckpt/impl/checkpointer.hpp"
#include "ckpt/impl/codec.hpp"
#include "ckpt/impl/options.hpp"
