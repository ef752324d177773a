// segcore: reading a long-format CSV (one row per observation, a group id column, a target and
// feature columns) into the ragged batch lstsq_batched solves: what `segcore lstsq` reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "segcore/lstsq.hpp"

namespace segcore {

struct GroupedTableOptions {
  std::string group;                  ///< group id column (any text)
  std::string target;                 ///< b
  std::vector<std::string> features;  ///< the columns of A, in this order
  std::string weight_column;          ///< empty: unweighted
  bool intercept = true;              ///< append a column of ones to A
};

/// The rows of a long-format file, grouped: group g owns rows [offsets[g], offsets[g + 1]) of
/// a (rows x p, row-major), b and weights, in file order within the group.
struct GroupedTable {
  std::vector<std::string> group_ids;  ///< in order of first appearance
  std::vector<std::int64_t> offsets;
  std::size_t p = 0;  ///< features (+ 1 with the intercept)
  std::vector<double> a;
  std::vector<double> b;
  std::vector<double> weights;  ///< empty when unweighted

  /// A view of the table for lstsq_batched (valid while the table lives).
  LstsqBatch<double> batch() const;
};

/// Reads `path`. The rows of a group need not be contiguous. Number cells accept what the other
/// readers accept (blanks around, a leading '+'); "nan", "inf" and overflowing values are read as
/// such, so that their group comes back with status non-finite instead of the whole file being
/// rejected. Throws IoError for a missing file and ParseError (file, row, line, column) for an
/// unknown or duplicated column, an empty or non-numeric cell, a negative weight, or a file
/// without data rows.
GroupedTable read_grouped_table(const std::string& path, const GroupedTableOptions& options);

}  // namespace segcore
