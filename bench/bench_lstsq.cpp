// Batched least squares: many small problems of m rows x p columns (float32 data, the last
// column an intercept of ones), the shapes of per-customer trend fits.
//
//   bench_lstsq                                  1M problems of 12x(2+1), 24x(4+1), 52x(8+1)
//   bench_lstsq --problems=10000000 --benchmark_filter=24/4   the 10M-problem run of one shape
//
// BM_lstsq_cpu: lstsq_batched on the CPU. With CUDA (each skips itself where no device answers):
// BM_lstsq_cuda_kernel: the kernels alone on a batch already resident on the GPU, timed with
// CUDA events (the problems the guard hands back to the CPU are not in it; qr_fraction says how
// many there are); BM_lstsq_cuda_end_to_end: lstsq_batched with Device::kCuda (device set-up,
// upload, kernels, download, the CPU's share); BM_cublas_gels_batched: the peer,
// cublasSgelsBatched (QR in float, column-major copies of the same problems) timed with CUDA
// events, the pristine matrices copied back before each call outside the timing.
//
// Counters: problems/s, and GB/s against the bytes that must be read once (A and b, float32).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "parallel.hpp"
#include "segcore/device.hpp"
#include "segcore/lstsq.hpp"

#if defined(SEGCORE_WITH_CUDA)
#include "cuda/cuda_lstsq.hpp"
#include "cuda/cuda_raii.hpp"
#endif

namespace {

std::size_t g_problems = 1000000;

struct BatchData {
  std::size_t m = 0, p = 0;
  std::vector<float> a, b;
  std::vector<std::int64_t> offsets;
};

// Uniform features in [-1, 1), b = A x_i + noise with per-problem coefficients; generated with
// counter-based draws in parallel so that building 10M problems takes seconds, not minutes.
const BatchData& batch_data(std::size_t m, std::size_t features) {
  // One shape at a time: at 10M problems a single batch is already gigabytes.
  static BatchData d;
  if (d.m == m && d.p == features + 1) return d;
  d = BatchData{};
  const std::size_t n = g_problems, p = features + 1;
  d.m = m;
  d.p = p;
  d.a.resize(n * m * p);
  d.b.resize(n * m);
  d.offsets.resize(n + 1);
  for (std::size_t i = 0; i <= n; ++i) d.offsets[i] = static_cast<std::int64_t>(i * m);
  const std::size_t chunk = 4096;
  segcore::detail::parallel_for((n + chunk - 1) / chunk, 0, [&](std::size_t c) {
    for (std::size_t i = c * chunk; i < std::min(n, (c + 1) * chunk); ++i) {
      float x[16];
      for (std::size_t j = 0; j < p; ++j)
        x[j] = static_cast<float>(segcore::detail::counter_uniform(i, 1000000 + j) * 4 - 2);
      for (std::size_t k = 0; k < m; ++k) {
        const std::size_t row = i * m + k;
        float* ar = d.a.data() + row * p;
        float y = 0;
        for (std::size_t j = 0; j < features; ++j) {
          ar[j] = static_cast<float>(segcore::detail::counter_uniform(row, j) * 2 - 1);
          y += ar[j] * x[j];
        }
        ar[features] = 1.0f;
        y += x[features];
        d.b[row] = y + static_cast<float>(0.1 * (segcore::detail::counter_uniform(row, 99) - 0.5));
      }
    }
  });
  return d;
}

segcore::LstsqBatch<float> view(const BatchData& d) {
  return {{d.a.data(), d.b.size(), d.p}, d.b.data(), nullptr, d.offsets.data(), g_problems};
}

// problems/s and GB/s (A and b read once), qr_fraction, and the shape as the label.
void set_counters(benchmark::State& state, const BatchData& d, std::size_t qr) {
  const double bytes = static_cast<double>((d.a.size() + d.b.size()) * sizeof(float));
  state.counters["problems/s"] = benchmark::Counter(static_cast<double>(g_problems),
                                                    benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["qr_fraction"] = static_cast<double>(qr) / static_cast<double>(g_problems);
  state.SetLabel(std::to_string(g_problems) + " problems of " + std::to_string(d.m) + "x" +
                 std::to_string(d.p));
}

void BM_lstsq_cpu(benchmark::State& state) {
  const auto m = static_cast<std::size_t>(state.range(0));
  const auto features = static_cast<std::size_t>(state.range(1));
  const BatchData& d = batch_data(m, features);
  const segcore::LstsqBatch<float> batch = view(d);
  segcore::LstsqParams params;
  std::size_t qr = 0;
  for (auto _ : state) {
    segcore::LstsqResult r = segcore::lstsq_batched(batch, params);
    qr = r.qr_problems;
    benchmark::DoNotOptimize(r.coef.data());
  }
  set_counters(state, d, qr);
}

// Skips the benchmark (true) where the CUDA ones cannot run.
bool skip_without_cuda(benchmark::State& state) {
  if (!segcore::cuda_compiled()) {
    state.SkipWithError("built without CUDA (SEGCORE_CUDA=OFF)");
    return true;
  }
  std::string why;
  if (segcore::cuda_devices(&why).empty()) {
    state.SkipWithError(("no CUDA device: " + why).c_str());
    return true;
  }
  return false;
}

#if defined(SEGCORE_WITH_CUDA)

// One resident batch at a time, kept across the runs Google Benchmark makes of a shape.
segcore::cuda::LstsqSession<float>& resident_session(const BatchData& d) {
  static std::unique_ptr<segcore::cuda::LstsqSession<float>> session;
  static std::size_t key_m = 0, key_p = 0, key_n = 0;
  if (!session || key_m != d.m || key_p != d.p || key_n != g_problems) {
    session.reset();  // free the previous shape's device memory first
    session = std::make_unique<segcore::cuda::LstsqSession<float>>(view(d), segcore::LstsqParams{});
    key_m = d.m;
    key_p = d.p;
    key_n = g_problems;
  }
  return *session;
}

void BM_lstsq_cuda_kernel(benchmark::State& state) {
  if (skip_without_cuda(state)) return;
  const BatchData& d = batch_data(static_cast<std::size_t>(state.range(0)),
                                  static_cast<std::size_t>(state.range(1)));
  std::size_t qr = 0;
  try {
    segcore::cuda::LstsqSession<float>& session = resident_session(d);
    for (auto _ : state) state.SetIterationTime(session.run_kernels() / 1e3);
    qr = session.finish().qr_problems;
    state.SetLabel(session.device_name());
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  set_counters(state, d, qr);
}

void BM_lstsq_cuda_end_to_end(benchmark::State& state) {
  if (skip_without_cuda(state)) return;
  const BatchData& d = batch_data(static_cast<std::size_t>(state.range(0)),
                                  static_cast<std::size_t>(state.range(1)));
  segcore::LstsqParams params;
  params.device = segcore::Device::kCuda;
  std::size_t qr = 0;
  try {
    for (auto _ : state) {
      segcore::LstsqResult r = segcore::lstsq_batched(view(d), params);
      qr = r.qr_problems;
      benchmark::DoNotOptimize(r.coef.data());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  set_counters(state, d, qr);
}

// The peer: cublasSgelsBatched on the same problems (m x p, column-major, one pointer each).
void BM_cublas_gels_batched(benchmark::State& state) {
  if (skip_without_cuda(state)) return;
  namespace cu = segcore::cuda;
  const BatchData& d = batch_data(static_cast<std::size_t>(state.range(0)),
                                  static_cast<std::size_t>(state.range(1)));
  const std::size_t n = g_problems, m = d.m, p = d.p;
  try {
    cu::select_device();
    const std::size_t a_bytes = n * m * p * sizeof(float), b_bytes = n * m * sizeof(float);
    cu::require_device_memory(2 * (a_bytes + b_bytes) + n * (2 * sizeof(float*) + sizeof(int)),
                              "cublasSgelsBatched");
    // Column-major copies of the row-major problems.
    std::vector<float> a_cm(n * m * p);
    segcore::detail::parallel_for((n + 4095) / 4096, 0, [&](std::size_t c) {
      for (std::size_t i = c * 4096; i < std::min(n, (c + 1) * 4096); ++i)
        for (std::size_t r = 0; r < m; ++r)
          for (std::size_t j = 0; j < p; ++j)
            a_cm[i * m * p + j * m + r] = d.a[(i * m + r) * p + j];
    });
    cu::DeviceBuffer<float> a0(n * m * p), a(n * m * p), b0(n * m), b(n * m);
    cu::DeviceBuffer<float*> a_ptr(n), b_ptr(n);
    cu::DeviceBuffer<int> info(n);
    cu::check(cudaMemcpy(a0.data(), a_cm.data(), a_bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
    cu::check(cudaMemcpy(b0.data(), d.b.data(), b_bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
    std::vector<float*> ptrs(n);
    for (std::size_t i = 0; i < n; ++i) ptrs[i] = a.data() + i * m * p;
    cu::check(cudaMemcpy(a_ptr.data(), ptrs.data(), n * sizeof(float*), cudaMemcpyHostToDevice),
              "cudaMemcpy");
    for (std::size_t i = 0; i < n; ++i) ptrs[i] = b.data() + i * m;
    cu::check(cudaMemcpy(b_ptr.data(), ptrs.data(), n * sizeof(float*), cudaMemcpyHostToDevice),
              "cudaMemcpy");
    cu::Stream stream;
    cu::CublasHandle handle;
    handle.set_stream(stream.get());
    cu::Event start, stop;
    int host_info = 0;
    for (auto _ : state) {
      // gels overwrites A and b: fresh copies, outside the timed region.
      cu::check(
          cudaMemcpyAsync(a.data(), a0.data(), a_bytes, cudaMemcpyDeviceToDevice, stream.get()),
          "cudaMemcpyAsync");
      cu::check(
          cudaMemcpyAsync(b.data(), b0.data(), b_bytes, cudaMemcpyDeviceToDevice, stream.get()),
          "cudaMemcpyAsync");
      start.record(stream.get());
      cu::check(
          cublasSgelsBatched(handle.get(), CUBLAS_OP_N, static_cast<int>(m), static_cast<int>(p), 1,
                             a_ptr.data(), static_cast<int>(m), b_ptr.data(), static_cast<int>(m),
                             &host_info, info.data(), static_cast<int>(n)),
          "cublasSgelsBatched");
      stop.record(stream.get());
      stop.synchronize();
      if (host_info != 0)
        throw segcore::CublasError("cublasSgelsBatched: parameter " + std::to_string(-host_info) +
                                   " is invalid");
      state.SetIterationTime(stop.since(start) / 1e3);
    }
    cudaDeviceProp prop{};
    cu::check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    state.SetLabel(prop.name);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  set_counters(state, d, 0);
}

#else

void BM_lstsq_cuda_kernel(benchmark::State& state) { skip_without_cuda(state); }
void BM_lstsq_cuda_end_to_end(benchmark::State& state) { skip_without_cuda(state); }
void BM_cublas_gels_batched(benchmark::State& state) { skip_without_cuda(state); }

#endif

// The shapes: m rows, `features` columns plus the intercept.
void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"m", "features"})->Args({12, 2})->Args({24, 4})->Args({52, 8});
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_lstsq_cpu)->Apply(shapes)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_lstsq_cuda_kernel)->Apply(shapes)->UseManualTime()->MinTime(0.5);
BENCHMARK(BM_lstsq_cuda_end_to_end)->Apply(shapes)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_cublas_gels_batched)->Apply(shapes)->UseManualTime()->MinTime(0.5);

}  // namespace

int main(int argc, char** argv) {
  // --problems=N is ours; everything else goes to Google Benchmark.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--problems=", 11) == 0)
      g_problems = std::strtoull(argv[i] + 11, nullptr, 10);
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
