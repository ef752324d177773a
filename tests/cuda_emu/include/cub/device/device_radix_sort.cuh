// segcore CUDA emulator: cub::DeviceRadixSort::SortPairs (stable, by bits [begin_bit, end_bit)
// of unsigned or non-negative keys) on the host; the temp-storage query answers a fixed size that
// the call then checks, as CUB checks its own.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <type_traits>
#include <vector>

namespace cub {

struct DeviceRadixSort {
  static constexpr std::size_t kEmulatedTempBytes = 4096;

  template <typename Key, typename Value, typename NumItems>
  static cudaError_t SortPairs(void* temp, std::size_t& temp_bytes, const Key* keys_in,
                               Key* keys_out, const Value* values_in, Value* values_out, NumItems n,
                               int begin_bit = 0, int end_bit = sizeof(Key) * 8,
                               cudaStream_t = nullptr) {
    static_assert(std::is_integral_v<Key>, "emulated radix sort: integer keys only");
    if (temp == nullptr) {
      temp_bytes = kEmulatedTempBytes;
      return cudaSuccess;
    }
    if (temp_bytes < kEmulatedTempBytes) return cudaErrorInvalidValue;
    const auto count = static_cast<std::size_t>(n);
    using U = std::make_unsigned_t<Key>;
    const int width = end_bit - begin_bit;
    const unsigned long long mask = width >= 64 ? ~0ULL : ((1ULL << width) - 1);
    auto bits = [&](Key k) {
      U u = static_cast<U>(k);
      if constexpr (std::is_signed_v<Key>) u ^= U(1) << (sizeof(Key) * 8 - 1);
      return (static_cast<unsigned long long>(u) >> begin_bit) & mask;
    };
    std::vector<std::size_t> order(count);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return bits(keys_in[a]) < bits(keys_in[b]);
    });
    std::vector<Key> k(count);
    std::vector<Value> v(count);
    for (std::size_t i = 0; i < count; ++i) {
      k[i] = keys_in[order[i]];
      v[i] = values_in[order[i]];
    }
    std::copy(k.begin(), k.end(), keys_out);
    std::copy(v.begin(), v.end(), values_out);
    return cudaSuccess;
  }
};

}  // namespace cub
