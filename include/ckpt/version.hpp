#pragma once
/// ckpt version: the single source of truth, parsed by CMakeLists.txt.

#define CKPT_VERSION_MAJOR 0
#define CKPT_VERSION_MINOR 1
#define CKPT_VERSION_PATCH 0
#define CKPT_VERSION_STRING "0.1.0"

/// On-disk format version written to every checkpoint (docs/file-format.md).
#define CKPT_FORMAT_VERSION 3
