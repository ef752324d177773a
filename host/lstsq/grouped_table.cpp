// segcore: the long-format reader behind `segcore lstsq` (include/segcore/grouped_table.hpp).
#include "segcore/grouped_table.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "io/cells.hpp"
#include "io/columns.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"

namespace segcore {

LstsqBatch<double> GroupedTable::batch() const {
  return {{a.data(), b.size(), p},
          b.data(),
          weights.empty() ? nullptr : weights.data(),
          offsets.data(),
          group_ids.size()};
}

namespace {

// A number cell; non-finite values are kept (their group is reported as non-finite).
double number(std::string_view cell, const std::string& path, std::uint64_t row, std::uint64_t line,
              const std::string& column) {
  double v = 0;
  const io::NumStatus st = io::parse_number(cell, v);
  if (st != io::NumStatus::kOk && st != io::NumStatus::kNonFinite)
    throw ParseError(path, row, line, column, io::number_message(cell, st));
  return v;
}

}  // namespace

GroupedTable read_grouped_table(const std::string& path, const GroupedTableOptions& o) {
  const std::vector<std::string> header = io::read_csv_header(path);
  const std::size_t gi = io::find_column(path, header, o.group, "group");
  const std::size_t ti = io::find_column(path, header, o.target, "target");
  std::vector<std::size_t> fi;
  for (const auto& f : o.features) fi.push_back(io::find_column(path, header, f, "feature"));
  const bool weighted = !o.weight_column.empty();
  const std::size_t wi = weighted ? io::find_column(path, header, o.weight_column, "weight") : 0;
  const std::size_t nf = o.features.size();

  // First pass into row order, remembering each row's group; then a stable counting sort.
  GroupedTable g;
  g.p = nf + (o.intercept ? 1 : 0);
  const std::size_t p = g.p;
  std::unordered_map<std::string, std::uint32_t> index;
  std::vector<std::uint32_t> row_group;
  std::vector<double> a_rows, b_rows, w_rows;
  std::vector<std::string> hdr;
  io::for_each_csv_record(
      path, hdr,
      [&](const std::vector<std::string_view>& fields, std::uint64_t row, std::uint64_t line) {
        const auto [it, inserted] =
            index.emplace(std::string(fields[gi]), static_cast<std::uint32_t>(g.group_ids.size()));
        if (inserted) g.group_ids.push_back(it->first);
        row_group.push_back(it->second);
        b_rows.push_back(number(fields[ti], path, row, line, o.target));
        for (std::size_t j = 0; j < nf; ++j)
          a_rows.push_back(number(fields[fi[j]], path, row, line, o.features[j]));
        if (o.intercept) a_rows.push_back(1.0);
        if (weighted) {
          const double w = number(fields[wi], path, row, line, o.weight_column);
          if (w < 0)
            throw ParseError(path, row, line, o.weight_column,
                             "negative weight " + io::show(io::trim(fields[wi])));
          w_rows.push_back(w);
        }
      });
  const std::size_t rows = row_group.size(), groups = g.group_ids.size();
  if (rows == 0) throw ParseError(path, 0, 0, "", "no data rows");
  g.offsets.assign(groups + 1, 0);
  for (const std::uint32_t k : row_group) ++g.offsets[k + 1];
  for (std::size_t k = 0; k < groups; ++k) g.offsets[k + 1] += g.offsets[k];
  std::vector<std::int64_t> next(g.offsets.begin(), g.offsets.end() - 1);
  g.a.resize(rows * p);
  g.b.resize(rows);
  if (weighted) g.weights.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const auto dst = static_cast<std::size_t>(next[row_group[r]]++);
    std::copy(a_rows.begin() + static_cast<std::ptrdiff_t>(r * p),
              a_rows.begin() + static_cast<std::ptrdiff_t>((r + 1) * p),
              g.a.begin() + static_cast<std::ptrdiff_t>(dst * p));
    g.b[dst] = b_rows[r];
    if (weighted) g.weights[dst] = w_rows[r];
  }
  return g;
}

}  // namespace segcore
