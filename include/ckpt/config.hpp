#pragma once
/// Configuration macros. Every CKPT_* macro a user may set is listed here and in
/// docs/configuration.md.

#include "ckpt/version.hpp"

/// Non-template functions in headers are `inline` so two translation units can include <ckpt.hpp>.
#define CKPT_INLINE inline

/// Enforce a precondition: throws the given ckpt error (built by a named constructor) if `cond` is false.
#define CKPT_ENFORCE(cond, error_expr)                                                                 \
    do {                                                                                               \
        if (!(cond)) ::ckpt::detail::raise(error_expr);                                                \
    } while (false)
