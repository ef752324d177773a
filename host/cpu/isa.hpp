// segcore: what the processor running us supports, for the kernels compiled twice.
#pragma once

namespace segcore::cpu {

/// True when the kernels built with -mavx2 -mfma exist in this binary and the processor runs them.
bool has_avx2_fma();

}  // namespace segcore::cpu
