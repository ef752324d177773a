// The staged host-to-device upload (host/cuda/upload.cpp): every byte arrives, whatever the size
// against the 32 MiB direct-copy threshold and the 64 MiB staging chunks, with several copies
// through one uploader. Built with CUDA or the CUDA emulator; skips itself without a device.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "cuda/cuda_raii.hpp"
#include "cuda/upload.hpp"
#include "segcore/device.hpp"

namespace segcore::cuda {
namespace {

std::vector<unsigned char> pattern(std::size_t bytes, std::uint64_t seed) {
  std::vector<unsigned char> v(bytes);
  std::uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (std::size_t i = 0; i < bytes; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    v[i] = static_cast<unsigned char>(s >> 56);
  }
  return v;
}

TEST(CudaUpload, EveryByteArrivesDirectOrStaged) {
  if (cuda_devices().empty()) GTEST_SKIP() << "no CUDA device";
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  // Direct (< 32 MiB), one partial chunk, exactly one chunk, and three chunks (both staging
  // buffers reused) ending in a partial one of odd size.
  const std::size_t sizes[] = {kMiB + 5, 40 * kMiB + 3, 64 * kMiB, 130 * kMiB + 7};
  for (const int threads : {1, 3}) {
    Stream stream;
    StagedUploader up(stream.get(), threads);
    std::vector<std::vector<unsigned char>> host;
    std::vector<DeviceBuffer<unsigned char>> device;
    for (const std::size_t bytes : sizes) {
      host.push_back(pattern(bytes, host.size() + 7 * static_cast<std::size_t>(threads)));
      device.emplace_back(bytes);
      up.copy(device.back().data(), host.back().data(), bytes);
    }
    up.finish();
    for (std::size_t c = 0; c < host.size(); ++c) {
      std::vector<unsigned char> back(host[c].size(), 0);
      check(cudaMemcpy(back.data(), device[c].data(), back.size(), cudaMemcpyDeviceToHost),
            "cudaMemcpy");
      EXPECT_EQ(std::memcmp(back.data(), host[c].data(), back.size()), 0)
          << "copy " << c << " of " << host[c].size() << " bytes, " << threads << " threads";
    }
  }
}

}  // namespace
}  // namespace segcore::cuda
