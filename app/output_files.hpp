// segcore command line: the per-row output files.
#pragma once

#include <cstdint>
#include <ostream>
#include <vector>

#include "segcore/io.hpp"

namespace segcore::app {

/// Writes "id,segment" (and ",distance" when distances are given), one row per input row in
/// input order; the id is the id column's text or the 0-based row number.
void write_labels_csv(std::ostream& out, const io::Dataset& data,
                      const std::vector<std::int32_t>& labels,
                      const std::vector<double>* distances = nullptr);

}  // namespace segcore::app
