// One Lloyd iteration (assign + accumulate, one read of the data) on the CPU backend and on the
// CUDA backend over a grid of (n, d, k), float32 and float64. Counters: points/s, GB/s of the
// data read once, GFLOP/s of the 2*n*k*d distance flops. The GPU figures are wall-clock per
// pass including the one small copy of the k x d sums back to the host (which the driver needs
// every iteration), with the device's time of the same passes from CUDA events beside them
// (pass_ms, kernels_ms); DeviceCopy measures the device's copy bandwidth in the same run, the
// reference for "one read of the data".
//
//   build/bench/bench_kmeans --benchmark_counters_tabular=true
//   build/bench/bench_kmeans --benchmark_filter='Lloyd<float>/n:1000000/d:16/k:64/'
//   build/bench/bench_kmeans --benchmark_filter='LloydCuda|DeviceCopy'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "parallel.hpp"
#include "segcore/backend.hpp"
#include "segcore/kmeans.hpp"
#if defined(SEGCORE_WITH_CUDA)
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_raii.hpp"
#endif

namespace {

/// Uniform data from the counter-based generator, in parallel (100M x 16 in seconds); the last
/// shape is kept so that the k values of one (n, d) share it.
template <typename T>
const std::vector<T>& large_data(std::size_t n, std::size_t d) {
  static std::pair<std::size_t, std::size_t> shape{0, 0};
  static std::vector<T> x;
  if (shape != std::make_pair(n, d)) {
    x.assign(n * d, T(0));
    const std::size_t chunk = 1 << 16;
    segcore::detail::parallel_for((n + chunk - 1) / chunk, 0, [&](std::size_t c) {
      for (std::size_t i = c * chunk; i < std::min(n, (c + 1) * chunk); ++i)
        for (std::size_t f = 0; f < d; ++f)
          x[i * d + f] = static_cast<T>(segcore::detail::counter_uniform(i, f) * 2 - 1);
    });
    shape = {n, d};
  }
  return x;
}

/// points/s, GB/s of the data read once, GFLOP/s of the 2nkd distance flops.
void set_counters(benchmark::State& state, std::size_t n, std::size_t d, std::size_t k,
                  std::size_t bytes_per_value) {
  const double iters = static_cast<double>(state.iterations());
  state.counters["points"] = benchmark::Counter(iters * n, benchmark::Counter::kIsRate);
  state.counters["GB"] =
      benchmark::Counter(iters * n * d * bytes_per_value / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP"] =
      benchmark::Counter(iters * 2.0 * n * k * d / 1e9, benchmark::Counter::kIsRate);
}

template <typename T>
void Lloyd(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const std::size_t d = static_cast<std::size_t>(state.range(1));
  const std::size_t k = static_cast<std::size_t>(state.range(2));
  const int threads = static_cast<int>(state.range(3));
  const std::vector<T>& x = large_data<T>(n, d);  // the data LloydCuda reads at this shape
  // Centroids: k data rows, as an explicit init would give.
  std::vector<T> c(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(k * d));
  auto backend = segcore::make_kmeans_backend<T>(segcore::Device::kCpu, threads);
  backend->set_data({x.data(), n, d}, nullptr);
  std::vector<double> sums(k * d), wsum(k);
  for (auto _ : state) {
    // As the fit's iterations run it: no inertia (bench/README.md).
    const auto r = backend->lloyd_pass({c.data(), k, d}, sums.data(), wsum.data(), false);
    benchmark::DoNotOptimize(r.changed);
  }
  set_counters(state, n, d, k, sizeof(T));
  state.SetLabel(backend->describe());
}

bool skip_without_gpu(benchmark::State& state) {
  if (!segcore::cuda_compiled() || segcore::cuda_devices().empty()) {
    state.SkipWithError("no CUDA device");
    return true;
  }
  return false;
}

/// The GPU backend; path (4th argument, when given): 0 the shape's choice, 1 the fused kernel,
/// 2 the GEMM path, 3 the fused kernel with its exact search only (no tensor cores).
template <typename T>
std::unique_ptr<segcore::KMeansBackend<T>> gpu_backend(long path) {
#if defined(SEGCORE_WITH_CUDA)
  return segcore::cuda::make_cuda_backend<T>(static_cast<segcore::cuda::LloydPath>(path));
#else
  (void)path;
  return segcore::make_kmeans_backend<T>(segcore::Device::kCuda, 0);
#endif
}

/// One Lloyd pass of the GPU backend per iteration, timed by the wall clock (what a fit waits
/// for: the centroids' upload, the kernels, the results' copy back and the host's share), with
/// the device's time of the same passes from CUDA events beside it: counters pass_ms (upload and
/// kernels) and kernels_ms (the kernels alone), means over the iterations. As the fit's
/// iterations run it, the pass computes no inertia. With `sums` false, the pass without the
/// update's sums (labels and the change count only), which parts the search's cost from the
/// sums'.
/// The 4th argument is the path or, with `groups_arg`, cap_warp_groups's cap (the path then the
/// shape's choice) and a 5th, the inertia: 0 none, 1 from the settle (a third read of each row),
/// 2 in the walk (inertia_in_walk).
template <typename T>
void lloyd_cuda_pass(benchmark::State& state, bool sums, bool groups_arg = false) {
  if (skip_without_gpu(state)) return;
#if defined(SEGCORE_WITH_CUDA)
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const std::size_t d = static_cast<std::size_t>(state.range(1));
  const std::size_t k = static_cast<std::size_t>(state.range(2));
  const long path = groups_arg ? 0 : state.range(3);
  const std::vector<T>& x = large_data<T>(n, d);
  std::vector<T> c(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(k * d));
  auto backend = gpu_backend<T>(path);
  const bool inertia = groups_arg && state.range(4) != 0;
  if (groups_arg) {
    segcore::cuda::cap_warp_groups(*backend, static_cast<int>(state.range(3)));
    segcore::cuda::inertia_in_walk(*backend, state.range(4) == 2);
  }
  backend->set_data({x.data(), n, d}, nullptr);
  std::vector<double> sum(k * d), wsum(k);
  double* const s = sums ? sum.data() : nullptr;
  double* const w = sums ? wsum.data() : nullptr;
  backend->lloyd_pass({c.data(), k, d}, s, w, inertia);  // warm-up, plan
  segcore::cuda::enable_pass_timing(*backend);
  double pass_ms = 0, kernels_ms = 0;
  for (auto _ : state) {
    const auto r = backend->lloyd_pass({c.data(), k, d}, s, w, inertia);
    benchmark::DoNotOptimize(r.changed);
    const segcore::cuda::PassTiming t = segcore::cuda::last_pass_timing(*backend);
    pass_ms += t.pass_ms;
    kernels_ms += t.kernels_ms;
  }
  set_counters(state, n, d, k, sizeof(T));
  state.counters["pass_ms"] = benchmark::Counter(pass_ms, benchmark::Counter::kAvgIterations);
  state.counters["kernels_ms"] = benchmark::Counter(kernels_ms, benchmark::Counter::kAvgIterations);
  state.SetLabel(backend->describe() + (path == 1   ? " fused"
                                        : path == 2 ? " gemm"
                                        : path == 3 ? " fused exact"
                                                    : ""));
#else
  (void)sums;
  (void)groups_arg;
#endif
}

template <typename T>
void LloydCuda(benchmark::State& state) {
  lloyd_cuda_pass<T>(state, true);
}

/// The same pass without the update's sums.
template <typename T>
void LloydCudaLabels(benchmark::State& state) {
  lloyd_cuda_pass<T>(state, false);
}

/// The pass with at most `groups` groups of lanes per warp in the warp-sums kernel (each group
/// a set of sums in shared memory): fewer leave more of the SM's memory to L1, where the second
/// read of each row (the walk's) should hit, for a longer walk; and with `inertia` 1 or 2, the
/// inertia too (as a fit with a progress report that shows it computes it every iteration),
/// from a third read of each row by the thread that settles the point (1) or summed in the walk
/// (2, inertia_in_walk; bench/README.md).
template <typename T>
void LloydCudaGroups(benchmark::State& state) {
  lloyd_cuda_pass<T>(state, true, true);
}

/// A whole fit on the GPU from data in host memory, end to end: upload, k-means++ seeding, up to
/// 100 Lloyd iterations (tol 1e-4), labels back to the host. Counters: iterations run, and the
/// seeding and Lloyd seconds the fit reports.
void FitCuda(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const std::size_t d = static_cast<std::size_t>(state.range(1));
  const std::size_t k = static_cast<std::size_t>(state.range(2));
  const std::vector<float>& x = large_data<float>(n, d);
  segcore::KMeansParams params;
  params.k = static_cast<int>(k);
  params.init = segcore::KMeansInit::kKMeansPlusPlus;
  params.n_init = 1;
  params.max_iter = 100;
  params.device = segcore::Device::kCuda;
  segcore::KMeansResult<float> r;
  try {
    for (auto _ : state) {
      r = segcore::kmeans_fit<float>({x.data(), n, d}, nullptr, params);
      benchmark::DoNotOptimize(r.inertia);
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  // (Not "iterations": the JSON report has that key already, the benchmark's own count.)
  state.counters["lloyd_iterations"] = r.n_iter;
  state.counters["init_s"] = r.init_seconds;
  state.counters["lloyd_s"] = r.lloyd_seconds;
  state.SetLabel(r.backend);
}

/// The peer of the GEMM path: cublasSgemm of the distance shape (the n x d data times the d x k
/// centroids), in one call when the n x k result fits in half the free memory, else in tiles of
/// 2^20 rows; CUDA events around the calls. GFLOP counts 2nkd like the Lloyd benchmarks.
void Sgemm(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
#if defined(SEGCORE_WITH_CUDA)
  namespace cu = segcore::cuda;
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const std::size_t d = static_cast<std::size_t>(state.range(1));
  const std::size_t k = static_cast<std::size_t>(state.range(2));
  try {
    const std::vector<float>& x = large_data<float>(n, d);
    std::size_t free_bytes = 0, total = 0;
    cu::check(cudaMemGetInfo(&free_bytes, &total), "cudaMemGetInfo");
    const std::size_t data_bytes = n * d * sizeof(float);
    std::size_t tile = n;
    if (data_bytes + n * k * sizeof(float) > free_bytes / 2)
      tile = std::min(n, std::size_t{1} << 20);
    cu::DeviceBuffer<float> dx(n * d), dc(k * d), out(tile * k);
    cu::check(cudaMemcpy(dx.data(), x.data(), data_bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
    cu::check(cudaMemcpy(dc.data(), x.data(), k * d * sizeof(float), cudaMemcpyHostToDevice),
              "cudaMemcpy");
    cu::Stream stream;
    cu::CublasHandle handle;
    handle.set_stream(stream.get());
    cu::Event start, stop;
    const float one = 1.0f, zero = 0.0f;
    for (auto _ : state) {
      start.record(stream.get());
      for (std::size_t r0 = 0; r0 < n; r0 += tile) {
        const int rows = static_cast<int>(std::min(tile, n - r0));
        cu::check(cublasSgemm(handle.get(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(k), rows,
                              static_cast<int>(d), &one, dc.data(), static_cast<int>(d),
                              dx.data() + r0 * d, static_cast<int>(d), &zero, out.data(),
                              static_cast<int>(k)),
                  "cublasSgemm");
      }
      stop.record(stream.get());
      stop.synchronize();
      state.SetIterationTime(stop.since(start) / 1e3);
    }
    state.SetLabel(tile == n ? "one call" : "tiles of 2^20 rows");
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  set_counters(state, n, d, k, sizeof(float));
#endif
}

/// Device-to-device copy of 4 GiB. GB_moved counts the bytes read plus the bytes written: the
/// device's bandwidth, at which one read of the data is the reference time (a copy's read rate,
/// GB_read, is half of it, and would double every allowance measured against it).
void DeviceCopy(benchmark::State& state) {
#if defined(SEGCORE_WITH_CUDA)
  if (segcore::cuda_devices().empty()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const std::size_t bytes = std::size_t{4} << 30;
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) {
    state.SkipWithError("cudaMalloc failed");
    return;
  }
  cudaMemset(a, 1, bytes);
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  for (auto _ : state) {
    cudaEventRecord(start);
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms / 1e3);
  }
  state.counters["GB_read"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * bytes / 1e9, benchmark::Counter::kIsRate);
  state.counters["GB_moved"] = benchmark::Counter(
      2.0 * static_cast<double>(state.iterations()) * bytes / 1e9, benchmark::Counter::kIsRate);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaFree(a);
  cudaFree(b);
#else
  state.SkipWithError("built without CUDA");
#endif
}

/// The grid: n in {1M, 10M, 100M}, d in {4, ..., 128}, k in {4, ..., 1024} (100M x 128
/// floats are 51 GB: on an 80 GB card the GEMM path's buffers still fit beside them); the 100M
/// rows are registered apart (GpuGrid100M), Google Benchmark warning past 100 inputs to one.
void grid_rows(benchmark::internal::Benchmark* b, long n) {
  for (long d : {4L, 8L, 16L, 32L, 64L, 128L})
    for (long k : {4L, 8L, 16L, 32L, 64L, 256L, 1024L}) b->Args({n, d, k, 0});
}

void GpuGrid100M(benchmark::internal::Benchmark* b) {
  grid_rows(b, 100000000L);
  b->ArgNames({"n", "d", "k", "path"});
  b->Unit(benchmark::kMillisecond);
  b->UseRealTime();
}

void GpuGrid(benchmark::internal::Benchmark* b) {
  for (long n : {1000000L, 10000000L}) grid_rows(b, n);
  // Both paths where the choice is close, to check the threshold.
  for (long path : {1L, 2L})
    for (const auto& s : {std::pair<long, long>{64, 256}, {32, 1024}, {128, 256}, {128, 1024}})
      b->Args({10000000L, s.first, s.second, path});
  // The fused kernel's exact search beside its tensor-core search (path 0 at these shapes).
  for (long n : {10000000L, 100000000L})
    for (const auto& s : {std::pair<long, long>{16, 32}, {8, 256}, {32, 32}})
      b->Args({n, s.first, s.second, 3});
  b->ArgNames({"n", "d", "k", "path"});
  b->Unit(benchmark::kMillisecond);
  b->UseRealTime();
}

/// The retail shape of the first target (10M and 100M x 16, k = 32) with each set of
/// values of further arguments named `names`.
void retail_shape(benchmark::internal::Benchmark* b, const std::vector<std::string>& names,
                  const std::vector<std::vector<int64_t>>& values) {
  for (int64_t n : {10000000L, 100000000L})
    for (const std::vector<int64_t>& v : values) {
      std::vector<int64_t> args{n, 16, 32};
      args.insert(args.end(), v.begin(), v.end());
      b->Args(args);
    }
  std::vector<std::string> all{"n", "d", "k"};
  all.insert(all.end(), names.begin(), names.end());
  b->ArgNames(all);
  b->Unit(benchmark::kMillisecond);
  b->UseRealTime();
}

/// The pass without sums where the update's share matters most, with the tensor-core and the
/// exact search.
void LabelsGrid(benchmark::internal::Benchmark* b) { retail_shape(b, {"path"}, {{0}, {3}}); }

/// The warp-sums kernel with one and two groups per warp (two is the default plan there on an
/// H100 or H200), each without the inertia (as the fit's iterations), with it from the settle
/// (the default where it is asked for) and with it in the walk.
void GroupsGrid(benchmark::internal::Benchmark* b) {
  retail_shape(b, {"groups", "inertia"}, {{1, 0}, {1, 1}, {1, 2}, {2, 0}, {2, 1}, {2, 2}});
}

void SgemmGrid(benchmark::internal::Benchmark* b) {
  for (const auto& s : {std::pair<long, long>{128, 1024}, {128, 256}, {32, 1024}, {16, 32}})
    b->Args({10000000L, s.first, s.second});
  b->Args({100000000L, 16, 32});
  b->ArgNames({"n", "d", "k"});
  b->Unit(benchmark::kMillisecond);
}

/// The CPU side of GpuGrid (n = 1M and 10M, every d and k), all threads, and 1M x 16, k = 64 on
/// one thread for the scaling figure.
void Grid(benchmark::internal::Benchmark* b) {
  for (long n : {1000000L, 10000000L})
    for (long d : {4L, 8L, 16L, 32L, 64L, 128L})
      for (long k : {4L, 8L, 16L, 32L, 64L, 256L, 1024L}) b->Args({n, d, k, 0});
  b->Args({1000000, 16, 64, 1});
  b->ArgNames({"n", "d", "k", "threads"});
  b->Unit(benchmark::kMillisecond);
  b->UseRealTime();
}

/// float64 on the CPU: a smaller grid (10M x 128 doubles would be 10 GB twice).
void DoubleGrid(benchmark::internal::Benchmark* b) {
  for (long d : {4L, 16L, 64L})
    for (long k : {8L, 64L, 256L}) b->Args({1000000L, d, k, 0});
  b->Args({1000000, 16, 64, 1});
  b->ArgNames({"n", "d", "k", "threads"});
  b->Unit(benchmark::kMillisecond);
  b->UseRealTime();
}

}  // namespace

BENCHMARK_TEMPLATE(Lloyd, float)->Apply(Grid);
BENCHMARK_TEMPLATE(Lloyd, double)->Apply(DoubleGrid);
BENCHMARK(DeviceCopy)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(LloydCuda, float)->Apply(GpuGrid);
BENCHMARK_TEMPLATE(LloydCuda, float)->Apply(GpuGrid100M);
BENCHMARK_TEMPLATE(LloydCudaLabels, float)->Apply(LabelsGrid);
BENCHMARK_TEMPLATE(LloydCudaGroups, float)->Apply(GroupsGrid);
BENCHMARK(Sgemm)->Apply(SgemmGrid)->UseManualTime();
BENCHMARK(FitCuda)
    ->ArgNames({"n", "d", "k"})
    ->Args({10000000, 16, 32})
    ->Args({100000000, 16, 32})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_MAIN();
