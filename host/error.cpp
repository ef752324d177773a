#include "segcore/error.hpp"

namespace segcore {
namespace {

std::string compose(const std::string& file, std::uint64_t row, std::uint64_t line,
                    const std::string& column, const std::string& message) {
  std::string s = file.empty() ? std::string("input") : file;
  if (row > 0) s += ": row " + std::to_string(row);
  if (line > 0)
    s += (row > 0 ? " (line " : ": line ") + std::to_string(line) + (row > 0 ? ")" : "");
  if (!column.empty()) s += ", column '" + column + "'";
  return s + ": " + message;
}

}  // namespace

ParseError::ParseError(const std::string& file, std::uint64_t row, std::uint64_t line,
                       const std::string& column, const std::string& message)
    : Error(compose(file, row, line, column, message)),
      file_(file),
      row_(row),
      line_(line),
      column_(column) {}

}  // namespace segcore
