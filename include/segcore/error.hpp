// segcore: one exception hierarchy for every failure the library reports.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace segcore {

/// Root of every exception segcore throws. The library never calls abort() or exit().
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

/// A parameter or an argument is out of range or inconsistent (k < 1, wrong shape, ...).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// A file could not be opened, read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

/// A file was read but its content is malformed. The message names the file and, where they
/// apply, the 1-based data row (header excluded), the physical line and the column.
class ParseError : public Error {
 public:
  /// row/line == 0 and column empty mean "not applicable".
  ParseError(const std::string& file, std::uint64_t row, std::uint64_t line,
             const std::string& column, const std::string& message);
  const std::string& file() const { return file_; }
  std::uint64_t row() const { return row_; }
  std::uint64_t line() const { return line_; }
  const std::string& column() const { return column_; }

 private:
  std::string file_;
  std::uint64_t row_;
  std::uint64_t line_;
  std::string column_;
};

/// A feature that was not compiled into this build (the CUDA backend in a CPU-only build).
class NotCompiled : public Error {
 public:
  using Error::Error;
};

/// A CUDA runtime or driver call failed, or no usable device was found.
class CudaError : public Error {
 public:
  using Error::Error;
};

/// A cuBLAS / cuSOLVER call failed.
class CublasError : public Error {
 public:
  using Error::Error;
};

}  // namespace segcore
