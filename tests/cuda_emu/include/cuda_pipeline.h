// segcore CUDA emulator: the cp.async pipeline primitives of <cuda_pipeline.h>. Copies are
// deferred until __pipeline_wait_prior releases their group, as on the device; the size must be
// 4, 8 or 16 bytes with both addresses aligned to it.
#pragma once

#include <cstddef>

#include "segcore_cuda_emu.hpp"

inline void __pipeline_memcpy_async(void* dst, const void* src, std::size_t bytes,
                                    std::size_t zero_fill = 0) {
  if (zero_fill != 0) ::segcore_emu::fail("__pipeline_memcpy_async: zero fill is not emulated");
  ::segcore_emu::pipeline_copy(dst, src, bytes);
}
inline void __pipeline_commit() { ::segcore_emu::pipeline_commit(); }
inline void __pipeline_wait_prior(std::size_t n) { ::segcore_emu::pipeline_wait_prior(n); }
