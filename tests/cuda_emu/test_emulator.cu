// Tests of segcore's CUDA emulator itself (built only with -DSEGCORE_CUDA_EMULATOR=ON): that it
// computes what CUDA computes for the constructs segcore's kernels use, and that it stops, with a
// message naming the fault, on the bugs it is there to catch. Each bug kernel below is wrong on
// purpose.
#include <cuda_pipeline.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cub/block/block_radix_sort.cuh>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <numeric>
#include <vector>

namespace {

template <typename T>
struct Device {
  explicit Device(std::size_t n) : n(n) { EXPECT_EQ(cudaMalloc(&p, n * sizeof(T)), cudaSuccess); }
  ~Device() { cudaFree(p); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
  }
  void put(const std::vector<T>& h) {
    cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice);
  }
  T* p = nullptr;
  std::size_t n;
};

// ---- what correct kernels compute ----

__global__ void block_sums(const double* x, double* out, int* scan_out, int* sorted) {
  using Reduce = cub::BlockReduce<double, 128>;
  using Scan = cub::BlockScan<int, 128>;
  using Sort = cub::BlockRadixSort<int, 128, 1, int>;
  __shared__ union {
    typename Reduce::TempStorage reduce;
    typename Scan::TempStorage scan;
    typename Sort::TempStorage sort;
  } temp;
  const int t = threadIdx.x, i = blockIdx.x * 128 + t;
  const double total = Reduce(temp.reduce).Sum(x[i]);
  if (t == 0) out[blockIdx.x] = total;
  __syncthreads();
  int before = 0, all = 0;
  Scan(temp.scan).ExclusiveSum(t % 3, before, all);
  scan_out[i] = before;
  __syncthreads();
  int key[1] = {(t * 7) % 5}, value[1] = {t};
  Sort(temp.sort).Sort(key, value, 0, 3);
  sorted[i] = value[0];
}

__global__ void warp_ops(const int* x, int* sum, int* down, unsigned* ballot) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  int v = x[i];
  for (int s = 16; s > 0; s >>= 1) v += __shfl_xor_sync(0xffffffffu, v, s);
  sum[i] = v;
  down[i] = __shfl_down_sync(0xffffffffu, x[i], 1);
  ballot[i] = __ballot_sync(0xffffffffu, x[i] % 2);
}

__global__ void staged_copy(const double* x, double* y, int n) {
  extern __shared__ __align__(16) unsigned char raw[];
  double* s = reinterpret_cast<double*>(raw);
  for (int e = threadIdx.x; e < n; e += blockDim.x)
    __pipeline_memcpy_async(s + e, x + e, sizeof(double));
  __pipeline_commit();
  __pipeline_wait_prior(0);
  __syncthreads();
  for (int e = threadIdx.x; e < n; e += blockDim.x) y[e] = 2 * s[n - 1 - e];
}

TEST(CudaEmulator, CubBlockPrimitivesShufflesAndCpAsyncCompute) {
  const int blocks = 3;
  std::vector<double> x(blocks * 128);
  std::iota(x.begin(), x.end(), 1.0);
  Device<double> dx(x.size()), dout(blocks);
  Device<int> dscan(x.size()), dsorted(x.size());
  dx.put(x);
  block_sums<<<blocks, 128>>>(dx.p, dout.p, dscan.p, dsorted.p);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<double> out = dout.get();
  const std::vector<int> scan = dscan.get(), sorted = dsorted.get();
  for (int b = 0; b < blocks; ++b) {
    EXPECT_EQ(out[b], std::accumulate(x.begin() + b * 128, x.begin() + (b + 1) * 128, 0.0));
    int prefix = 0;
    for (int t = 0; t < 128; ++t) {
      EXPECT_EQ(scan[b * 128 + t], prefix);
      prefix += t % 3;
    }
    // Stable by key (t * 7) % 5: thread indices with key 0 first, in increasing order, and so on.
    std::vector<int> expect;
    for (int key = 0; key < 5; ++key)
      for (int t = 0; t < 128; ++t)
        if ((t * 7) % 5 == key) expect.push_back(t);
    EXPECT_EQ(std::vector<int>(sorted.begin() + b * 128, sorted.begin() + (b + 1) * 128), expect);
  }

  std::vector<int> xi(64);
  for (int i = 0; i < 64; ++i) xi[i] = i * i % 17;
  Device<int> di(64), dsum(64), ddown(64);
  Device<unsigned> dballot(64);
  di.put(xi);
  warp_ops<<<1, 64>>>(di.p, dsum.p, ddown.p, dballot.p);
  const std::vector<int> sum = dsum.get(), down = ddown.get();
  const std::vector<unsigned> ballot = dballot.get();
  for (int w = 0; w < 2; ++w) {
    unsigned odd = 0;
    for (int l = 0; l < 32; ++l) odd |= (xi[w * 32 + l] % 2 ? 1u : 0u) << l;
    const int total = std::accumulate(xi.begin() + w * 32, xi.begin() + (w + 1) * 32, 0);
    for (int l = 0; l < 32; ++l) {
      EXPECT_EQ(sum[w * 32 + l], total);
      EXPECT_EQ(down[w * 32 + l],
                xi[w * 32 + (l < 31 ? l + 1 : l)]);  // the last lane keeps its own
      EXPECT_EQ(ballot[w * 32 + l], odd);
    }
  }

  std::vector<double> v(100);
  std::iota(v.begin(), v.end(), 0.5);
  Device<double> dv(100), dy(100);
  dv.put(v);
  staged_copy<<<1, 32, 100 * sizeof(double)>>>(dv.p, dy.p, 100);
  const std::vector<double> y = dy.get();
  for (int e = 0; e < 100; ++e) EXPECT_EQ(y[e], 2 * v[99 - e]);
}

TEST(CudaEmulator, LaunchConfigurationsTheHardwareRejects) {
  Device<double> dv(1), dy(1);
  staged_copy<<<1, 2048>>>(dv.p, dy.p, 0);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  staged_copy<<<0, 32>>>(dv.p, dy.p, 0);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  staged_copy<<<dim3(1, 70000), 32>>>(dv.p, dy.p, 0);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  // Above 48 KiB of dynamic shared memory only after opting in.
  staged_copy<<<1, 32, 64 * 1024>>>(dv.p, dy.p, 0);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  ASSERT_EQ(
      cudaFuncSetAttribute(staged_copy, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024),
      cudaSuccess);
  staged_copy<<<1, 32, 64 * 1024>>>(dv.p, dy.p, 0);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST(CudaEmulator, FreshDeviceMemoryIsNotZero) {
  Device<double> d(10);
  for (const double v : d.get()) EXPECT_TRUE(std::isnan(v));  // what nobody wrote reads as NaN
}

// ---- the bugs it catches ----

__global__ void divergent_barrier(int* out) {
  if (threadIdx.x < 16) __syncthreads();
  out[threadIdx.x] = 1;
  __syncthreads();
}

__global__ void shuffle_after_exit(int* out) {
  if (threadIdx.x >= 20) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

__global__ void write_past_the_end(double* out, int n) {
  out[n + 64 + threadIdx.x] = 1;  // 512 bytes and more past the last element
}

__global__ void copy_never_waited(const double* x) {
  extern __shared__ __align__(16) unsigned char raw[];
  __pipeline_memcpy_async(reinterpret_cast<double*>(raw) + threadIdx.x, x + threadIdx.x,
                          sizeof(double));
  __pipeline_commit();
}

__global__ void misaligned_copy(const double* x) {
  extern __shared__ __align__(16) unsigned char raw[];
  __pipeline_memcpy_async(raw + 4, x, sizeof(double));
  __pipeline_commit();
  __pipeline_wait_prior(0);
}

// A 16-byte load from an address 4 bytes past a float4 boundary (the GPU faults: misaligned
// address).
__global__ void misaligned_vector_load(const float* x, float* out) {
  const float4 v = *reinterpret_cast<const float4*>(x + 1 + 4 * threadIdx.x);
  out[threadIdx.x] = v.x + v.w;
}

// Thread 0 publishes a value that the others read without a barrier in between.
__global__ void missing_barrier(int* seen) {
  __shared__ int flag;
  if (threadIdx.x == 0) flag = 0;
  __syncthreads();
  if (threadIdx.x == 0) flag = 42;
  seen[threadIdx.x] = flag;
}

TEST(CudaEmulatorDeathTest, StopsOnTheBugsItIsThereFor) {
  Device<int> d(64);
  Device<double> x(64);
  EXPECT_DEATH(divergent_barrier<<<1, 64>>>(d.p), "divergent __syncthreads");
  EXPECT_DEATH(shuffle_after_exit<<<1, 32>>>(d.p), "names a lane that has exited");
  EXPECT_DEATH(write_past_the_end<<<1, 32>>>(x.p, 64), "invalid memory access.*write_past_the_end");
  EXPECT_DEATH(copy_never_waited<<<1, 32, 32 * sizeof(double)>>>(x.p), "never waited");
  EXPECT_DEATH(misaligned_copy<<<1, 32, 64>>>(x.p), "not aligned");
  Device<float> f(256);
  EXPECT_DEATH(misaligned_vector_load<<<1, 32>>>(f.p, f.p), "misaligned address");
}

TEST(CudaEmulator, ThreadsRunInAnOrderThatShowsMissingBarriers) {
  Device<int> d(256);
  missing_barrier<<<1, 256>>>(d.p);
  const std::vector<int> seen = d.get();
  int stale = 0;
  for (const int v : seen) stale += v == 0;
  EXPECT_GT(stale, 0) << "every thread ran after thread 0: the race is hidden";
  EXPECT_LT(stale, 256);
}

}  // namespace
