// segcore internal: finding named columns in a CSV header, shared by the readers.
#pragma once

#include <string>
#include <vector>

namespace segcore::io {

/// "a, b, c" (at most 50 names, then a count of the rest), for error messages.
std::string available_columns(const std::vector<std::string>& header);

/// Index of `name` in `header`; ParseError naming the file, the column and its `role`
/// ("feature", "id", ...) when it is missing (listing the available columns) or appears twice.
std::size_t find_column(const std::string& path, const std::vector<std::string>& header,
                        const std::string& name, const char* role);

}  // namespace segcore::io
