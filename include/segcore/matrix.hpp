// segcore: non-owning views used to pass data across the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace segcore {

/// A non-owning, row-major view {data, rows, cols}: element (i, j) is data[i * cols + j].
template <typename T>
struct MatrixView {
  T* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;

  T* row(std::size_t i) const { return data + i * cols; }
  T& operator()(std::size_t i, std::size_t j) const { return data[i * cols + j]; }
  std::size_t size() const { return rows * cols; }
  /// Implicit conversion to a read-only view (only from a mutable one: on a view of const T
  /// it would convert to its own type, which nvcc warns about, #554-D).
  template <typename U = T, std::enable_if_t<!std::is_const_v<U>, int> = 0>
  operator MatrixView<const U>() const {
    return {data, rows, cols};
  }
};

template <typename T>
using ConstMatrixView = MatrixView<const T>;

}  // namespace segcore
