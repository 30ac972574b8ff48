#pragma once
/// ckpt: application-level checkpoint/restart for MPI simulations, on HDF5 and
/// Boost.Serialization. This umbrella header is all an application includes.
///
/// Header-only by default (CMake target ckpt::ckpt). With the compiled mode (target
/// ckpt::compiled, which defines CKPT_SEPARATE_COMPILATION) the library is built once and this
/// header only declares the checkpointer; two parts are then opt-in, per translation unit:
/// <ckpt/options.hpp> (ckpt::Options, resolve_options()) and <ckpt/boost.hpp> (Boost types).
/// See docs/building.md.

#include "ckpt/version.hpp"
#include "ckpt/config.hpp"
#include "ckpt/error.hpp"
#include "ckpt/array_view.hpp"
#if CKPT_HEADER_ONLY
#include "ckpt/options.hpp"
#include "ckpt/boost.hpp"
#endif
#include "ckpt/codec.hpp"
#include "ckpt/distribution.hpp"
#include "ckpt/stored_parts.hpp"
#include "ckpt/leave.hpp"
#include "ckpt/checkpointer.hpp"
#include "ckpt/critical_section.hpp"
