#pragma once
/// ckpt: header-only application-level checkpoint/restart for MPI simulations, on HDF5 and
/// Boost.Serialization. This umbrella header is all an application includes.

#include "ckpt/version.hpp"
#include "ckpt/config.hpp"
#include "ckpt/error.hpp"
#include "ckpt/options.hpp"
#include "ckpt/array_view.hpp"
#include "ckpt/boost.hpp"
#include "ckpt/codec.hpp"
#include "ckpt/leave.hpp"
#include "ckpt/checkpointer.hpp"
#include "ckpt/critical_section.hpp"
