// The batched least-squares kernel for the baseline instruction set, and the run-time choice.
#define SEGCORE_KERNEL_NS base
#include "cpu/isa.hpp"
#include "lstsq/lstsq_kernels.inl"

namespace segcore::lstsq_detail {

template <typename T>
RangeKernel<T> range_kernel() {
#if defined(SEGCORE_HAVE_AVX2_KERNELS)
  if (cpu::has_avx2_fma()) return &avx2::solve_range<T>;
#endif
  return &base::solve_range<T>;
}

template <typename T>
ListKernel<T> list_kernel() {
#if defined(SEGCORE_HAVE_AVX2_KERNELS)
  if (cpu::has_avx2_fma()) return &avx2::solve_list_qr<T>;
#endif
  return &base::solve_list_qr<T>;
}

template RangeKernel<float> range_kernel<float>();
template RangeKernel<double> range_kernel<double>();
template ListKernel<float> list_kernel<float>();
template ListKernel<double> list_kernel<double>();

const char* range_kernel_isa() { return cpu::has_avx2_fma() ? "avx2+fma" : "baseline"; }

}  // namespace segcore::lstsq_detail
