// segcore: batched least squares on the CPU. Each problem is solved on its own (the kernel in
// lstsq_kernels.inl), so the work is split over fixed chunks of problems and the result never
// depends on the thread count. This file holds the checks, the scheduling, the choice of device
// and the rare path: a complete orthogonal decomposition for the problems the normal equations
// cannot serve (also for the CUDA path, whose rejected problems come back here).
#include <Eigen/Core>
#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "lstsq/lstsq_kernels.hpp"
#include "parallel.hpp"
#include "segcore/backend.hpp"
#include "segcore/device.hpp"
#include "segcore/error.hpp"
#include "segcore/lstsq.hpp"

#if defined(SEGCORE_WITH_CUDA)
#include "cuda/cuda_lstsq.hpp"
#endif

namespace segcore {

const char* lstsq_status_name(LstsqStatus status) {
  switch (status) {
    case LstsqStatus::kOk:
      return "ok";
    case LstsqStatus::kRankDeficient:
      return "rank-deficient";
    case LstsqStatus::kTooFewRows:
      return "too-few-rows";
    case LstsqStatus::kNonFinite:
      return "non-finite";
  }
  return "unknown";
}

namespace lstsq_detail {

// One dynamic-size instantiation serves every p: this path is the exception, and its cost is the
// factorisation, not the allocation.
template <typename T>
int solve_cod(const T* a, const T* b, const T* w, std::size_t rows, std::size_t p,
              const Config& cfg, double rcond, double* x) {
  const auto cols = static_cast<Eigen::Index>(p);
  Eigen::Index ridge_rows = 0;
  if (cfg.ridge > 0)
    for (std::size_t j = 0; j < p; ++j) ridge_rows += static_cast<int>(j) == cfg.skip ? 0 : 1;
  Eigen::MatrixXd m(static_cast<Eigen::Index>(rows) + ridge_rows, cols);
  Eigen::VectorXd y(m.rows());
  for (std::size_t k = 0; k < rows; ++k) {
    const double s = w ? std::sqrt(static_cast<double>(w[k])) : 1.0;
    for (std::size_t j = 0; j < p; ++j)
      m(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(j)) =
          s * static_cast<double>(a[k * p + j]);
    y(static_cast<Eigen::Index>(k)) = s * static_cast<double>(b[k]);
  }
  const double sqrt_ridge = std::sqrt(cfg.ridge);
  auto row = static_cast<Eigen::Index>(rows);
  for (std::size_t j = 0; j < p && ridge_rows > 0; ++j) {
    if (static_cast<int>(j) == cfg.skip) continue;
    m.row(row).setZero();
    m(row, static_cast<Eigen::Index>(j)) = sqrt_ridge;
    y(row) = 0;
    ++row;
  }
  if (m.rows() == 0 || m.cwiseAbs().maxCoeff() == 0) {
    for (std::size_t j = 0; j < p; ++j) x[j] = 0;
    return 0;
  }
  Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod;
  cod.setThreshold(rcond);
  cod.compute(m);
  Eigen::Map<Eigen::VectorXd>(x, cols) = cod.solve(y);
  return static_cast<int>(cod.rank());
}

template int solve_cod<float>(const float*, const float*, const float*, std::size_t, std::size_t,
                              const Config&, double, double*);
template int solve_cod<double>(const double*, const double*, const double*, std::size_t,
                               std::size_t, const Config&, double, double*);

template <typename T>
void validate(const LstsqBatch<T>& batch, const LstsqParams& params) {
  const std::size_t p = batch.a.cols;
  if (p < 1 || p > kLstsqMaxColumns)
    throw InvalidArgument("lstsq: A must have 1 to " + std::to_string(kLstsqMaxColumns) +
                          " columns (got " + std::to_string(p) + ")");
  if (!batch.offsets) throw InvalidArgument("lstsq: offsets must not be null");
  if (batch.offsets[0] != 0) throw InvalidArgument("lstsq: offsets[0] must be 0");
  for (std::size_t i = 0; i < batch.problems; ++i)
    if (batch.offsets[i + 1] < batch.offsets[i])
      throw InvalidArgument("lstsq: offsets decrease at problem " + std::to_string(i));
  if (static_cast<std::size_t>(batch.offsets[batch.problems]) != batch.a.rows)
    throw InvalidArgument("lstsq: offsets end at " + std::to_string(batch.offsets[batch.problems]) +
                          " but A has " + std::to_string(batch.a.rows) + " rows");
  if (batch.a.rows > 0 && (!batch.a.data || !batch.b))
    throw InvalidArgument("lstsq: A and b must not be null");
  if (!(params.ridge >= 0) || !std::isfinite(params.ridge))
    throw InvalidArgument("lstsq: ridge must be finite and >= 0");
  if (params.ridge_skip_column < -1 || params.ridge_skip_column >= static_cast<int>(p))
    throw InvalidArgument("lstsq: ridge_skip_column must be -1 or a column index below " +
                          std::to_string(p));
  if (std::isnan(params.rcond)) throw InvalidArgument("lstsq: rcond must not be NaN");
  if (batch.weights) {
    for (std::size_t k = 0; k < batch.a.rows; ++k)
      if (batch.weights[k] < 0)
        throw InvalidArgument("lstsq: weight of row " + std::to_string(k) + " is negative");
  }
}

template void validate<float>(const LstsqBatch<float>&, const LstsqParams&);
template void validate<double>(const LstsqBatch<double>&, const LstsqParams&);

LstsqResult sized_result(std::size_t n, std::size_t p, int threads) {
  LstsqResult r;
  r.problems = n;
  r.p = p;
  detail::resize_prefaulted(r.coef, n * p, threads);
  detail::resize_prefaulted(r.rss, n, threads);
  detail::resize_prefaulted(r.r2, n, threads);
  detail::resize_prefaulted(r.rank, n, threads);
  detail::resize_prefaulted(r.status, n, threads);
  return r;
}

std::string cpu_backend_name() { return std::string("cpu (") + range_kernel_isa() + ")"; }

template <typename T>
std::size_t solve_listed_on_cpu(const LstsqBatch<T>& batch, const LstsqParams& params,
                                const std::int64_t* list, std::size_t count, LstsqResult& r) {
  const Config cfg{params.ridge, params.ridge_skip_column, params.rcond};
  const ListKernel<T> kernel = list_kernel<T>();
  // QR problems cost far more than Cholesky ones: small chunks keep both threads busy.
  const detail::Chunking chunks = detail::make_chunking(count, 0, 16);
  std::vector<std::size_t> qr(chunks.chunks, 0);
  detail::parallel_for(chunks.chunks, detail::resolve_threads(params.threads), [&](std::size_t c) {
    qr[c] = kernel(batch, cfg, list, chunks.begin(c), chunks.end(c), r);
  });
  std::size_t total = 0;
  for (const std::size_t q : qr) total += q;
  return total;
}

template std::size_t solve_listed_on_cpu<float>(const LstsqBatch<float>&, const LstsqParams&,
                                                const std::int64_t*, std::size_t, LstsqResult&);
template std::size_t solve_listed_on_cpu<double>(const LstsqBatch<double>&, const LstsqParams&,
                                                 const std::int64_t*, std::size_t, LstsqResult&);

}  // namespace lstsq_detail

namespace {

using lstsq_detail::Config;

template <typename T>
LstsqResult lstsq_batched_cpu(const LstsqBatch<T>& batch, const LstsqParams& params) {
  const std::size_t n = batch.problems;
  LstsqResult r = lstsq_detail::sized_result(n, batch.a.cols, params.threads);
  r.backend = lstsq_detail::cpu_backend_name();
  const Config cfg{params.ridge, params.ridge_skip_column, params.rcond};
  const lstsq_detail::RangeKernel<T> kernel = lstsq_detail::range_kernel<T>();
  const detail::Chunking chunks = detail::make_chunking(n, 0, 256);
  std::vector<std::size_t> qr(chunks.chunks, 0);
  detail::parallel_for(chunks.chunks, detail::resolve_threads(params.threads), [&](std::size_t c) {
    qr[c] = kernel(batch, cfg, chunks.begin(c), chunks.end(c), r);
  });
  for (const std::size_t q : qr) r.qr_problems += q;
  return r;
}

}  // namespace

template <typename T>
LstsqResult lstsq_batched(const LstsqBatch<T>& batch, const LstsqParams& params) {
  lstsq_detail::validate(batch, params);
  Device device = params.device;
#if defined(SEGCORE_WITH_CUDA)
  if (device == Device::kAuto) device = resolve_device(Device::kAuto, nullptr);
  if (device == Device::kCuda) return cuda::lstsq_batched_cuda(batch, params);
#else
  if (device == Device::kCuda) detail::throw_cuda_not_compiled();
#endif
  return lstsq_batched_cpu(batch, params);
}

template LstsqResult lstsq_batched<float>(const LstsqBatch<float>&, const LstsqParams&);
template LstsqResult lstsq_batched<double>(const LstsqBatch<double>&, const LstsqParams&);

}  // namespace segcore
