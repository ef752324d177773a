// segcore CUDA emulator: CUB's block-wide primitives with CUB's contracts. Temp storage lives
// where the kernel puts it (its shared memory); a collective ends without a barrier, so reusing
// the storage needs the caller's __syncthreads, as with CUB; reductions are valid in thread 0
// only (the other threads get a poison value). The arithmetic order is a fixed one, not CUB's.
#pragma once

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <type_traits>

#include "segcore_cuda_emu.hpp"

namespace cub {
namespace emu_detail {

template <int BLOCK>
inline int block_thread() {
  const auto& p = ::segcore_emu::place();
  const int threads = static_cast<int>(p.block_dim.x * p.block_dim.y * p.block_dim.z);
  if (threads != BLOCK)
    ::segcore_emu::fail("a CUB block primitive's thread count differs from the launch");
  return p.linear;
}

template <typename T>
T poison() {
  if constexpr (std::is_floating_point_v<T>)
    return std::numeric_limits<T>::quiet_NaN();
  else {
    T v;
    std::memset(&v, 0x5a, sizeof v);
    return v;
  }
}

struct Sum {
  template <typename T>
  T operator()(const T& a, const T& b) const {
    return a + b;
  }
};

// The temp storage of BlockReduce and BlockScan: one slot per thread.
template <typename T, int THREADS>
class SlotCollective {
 public:
  struct TempStorage {
    T slot[THREADS];
  };
  explicit SlotCollective(TempStorage& t) : t_(t) {}

 protected:
  // Every thread's value in its slot, visible to all on return; returns the caller's index.
  int Deposit(T v) {
    const int t = block_thread<THREADS>();
    t_.slot[t] = v;
    __syncthreads();
    return t;
  }
  TempStorage& t_;
};

}  // namespace emu_detail

template <typename T, int BLOCK_DIM_X, int ALGORITHM = 0, int BLOCK_DIM_Y = 1, int BLOCK_DIM_Z = 1,
          int PTX_ARCH = 0>
class BlockReduce : public emu_detail::SlotCollective<T, BLOCK_DIM_X * BLOCK_DIM_Y * BLOCK_DIM_Z> {
  static constexpr int kThreads = BLOCK_DIM_X * BLOCK_DIM_Y * BLOCK_DIM_Z;
  using Base = emu_detail::SlotCollective<T, kThreads>;
  using Base::t_;

 public:
  using Base::Base;
  using typename Base::TempStorage;

  template <typename Op>
  T Reduce(T v, Op op) {
    return Reduce(v, op, kThreads);
  }
  template <typename Op>
  T Reduce(T v, Op op, int valid) {
    if (this->Deposit(v) != 0) return emu_detail::poison<T>();
    T acc = t_.slot[0];
    for (int i = 1; i < valid; ++i) acc = op(acc, t_.slot[i]);
    return acc;
  }
  template <int N, typename Op>
  T Reduce(T (&items)[N], Op op) {
    T acc = items[0];
    for (int i = 1; i < N; ++i) acc = op(acc, items[i]);
    return Reduce(acc, op);
  }
  T Sum(T v) { return Reduce(v, emu_detail::Sum{}); }
  T Sum(T v, int valid) { return Reduce(v, emu_detail::Sum{}, valid); }
  template <int N>
  T Sum(T (&items)[N]) {
    return Reduce(items, emu_detail::Sum{});
  }
};

template <typename T, int BLOCK_DIM_X, int ALGORITHM = 0, int BLOCK_DIM_Y = 1, int BLOCK_DIM_Z = 1,
          int PTX_ARCH = 0>
class BlockScan : public emu_detail::SlotCollective<T, BLOCK_DIM_X * BLOCK_DIM_Y * BLOCK_DIM_Z> {
  static constexpr int kThreads = BLOCK_DIM_X * BLOCK_DIM_Y * BLOCK_DIM_Z;
  using Base = emu_detail::SlotCollective<T, kThreads>;
  using Base::t_;

 public:
  using Base::Base;
  using typename Base::TempStorage;

  void ExclusiveSum(T in, T& out) {
    T agg;
    ExclusiveSum(in, out, agg);
  }
  void ExclusiveSum(T in, T& out, T& aggregate) {
    T a[1] = {in}, o[1];
    ExclusiveSum(a, o, aggregate);
    out = o[0];
  }
  template <int N>
  void ExclusiveSum(const T (&in)[N], T (&out)[N], T& aggregate) {
    T prefix = Prefix(in, aggregate);
    for (int i = 0; i < N; ++i) {
      out[i] = prefix;
      prefix = prefix + in[i];
    }
  }
  void InclusiveSum(T in, T& out) {
    T agg;
    InclusiveSum(in, out, agg);
  }
  void InclusiveSum(T in, T& out, T& aggregate) {
    T a[1] = {in}, o[1];
    InclusiveSum(a, o, aggregate);
    out = o[0];
  }
  template <int N>
  void InclusiveSum(const T (&in)[N], T (&out)[N]) {
    T agg;
    InclusiveSum(in, out, agg);
  }
  template <int N>
  void InclusiveSum(const T (&in)[N], T (&out)[N], T& aggregate) {
    T prefix = Prefix(in, aggregate);
    for (int i = 0; i < N; ++i) {
      prefix = prefix + in[i];
      out[i] = prefix;
    }
  }

 private:
  // The sum of the earlier threads' items (each thread's items added in order first), and the
  // block's total.
  template <int N>
  T Prefix(const T (&in)[N], T& aggregate) {
    T mine = in[0];
    for (int i = 1; i < N; ++i) mine = mine + in[i];
    const int t = this->Deposit(mine);
    T before = T(0), all = T(0);
    for (int i = 0; i < kThreads; ++i) {
      if (i == t) before = all;
      all = all + t_.slot[i];
    }
    aggregate = all;
    return before;
  }
};

template <typename Key, int BLOCK_DIM_X, int ITEMS, typename Value = int, int RADIX_BITS = 4,
          bool MEMOIZE = true, int ALGORITHM = 0, int CONFIG = 0, int BLOCK_DIM_Y = 1,
          int BLOCK_DIM_Z = 1, int PTX_ARCH = 0>
class BlockRadixSort {
  static constexpr int kThreads = BLOCK_DIM_X * BLOCK_DIM_Y * BLOCK_DIM_Z;
  static constexpr int kItems = kThreads * ITEMS;

 public:
  struct TempStorage {
    Key key_in[kItems];
    Value value_in[kItems];
    Key key_out[kItems];
    Value value_out[kItems];
  };
  explicit BlockRadixSort(TempStorage& t) : t_(t) {}

  /// Blocked arrangement in and out (thread t holds items t * ITEMS ..), stable, ascending by
  /// bits [begin_bit, end_bit) of the key (signed keys ordered as numbers, as CUB does).
  void Sort(Key (&keys)[ITEMS], Value (&values)[ITEMS], int begin_bit = 0,
            int end_bit = sizeof(Key) * 8) {
    const int t = emu_detail::block_thread<kThreads>();
    for (int i = 0; i < ITEMS; ++i) {
      t_.key_in[t * ITEMS + i] = keys[i];
      t_.value_in[t * ITEMS + i] = values[i];
    }
    __syncthreads();
    if (t == 0) {
      int order[kItems];
      for (int i = 0; i < kItems; ++i) order[i] = i;
      std::stable_sort(order, order + kItems, [&](int a, int b) {
        return Bits(t_.key_in[a], begin_bit, end_bit) < Bits(t_.key_in[b], begin_bit, end_bit);
      });
      for (int i = 0; i < kItems; ++i) {
        t_.key_out[i] = t_.key_in[order[i]];
        t_.value_out[i] = t_.value_in[order[i]];
      }
    }
    __syncthreads();
    for (int i = 0; i < ITEMS; ++i) {
      keys[i] = t_.key_out[t * ITEMS + i];
      values[i] = t_.value_out[t * ITEMS + i];
    }
  }

 private:
  static unsigned long long Bits(Key k, int begin_bit, int end_bit) {
    static_assert(std::is_integral_v<Key>, "emulated radix sort: integer keys only");
    using U = std::make_unsigned_t<Key>;
    U u = static_cast<U>(k);
    if constexpr (std::is_signed_v<Key>) u ^= U(1) << (sizeof(Key) * 8 - 1);
    const int width = end_bit - begin_bit;
    const unsigned long long mask = width >= 64 ? ~0ULL : ((1ULL << width) - 1);
    return (static_cast<unsigned long long>(u) >> begin_bit) & mask;
  }
  TempStorage& t_;
};

}  // namespace cub
