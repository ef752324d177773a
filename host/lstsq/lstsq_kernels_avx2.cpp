// The batched least-squares kernel for x86-64 with AVX2 and FMA (compiled with -mavx2 -mfma).
#define SEGCORE_KERNEL_NS avx2
#include "lstsq/lstsq_kernels.inl"
