// segcore lstsq: one least-squares fit per group of a long-format CSV (group, target, features).
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "commands.hpp"
#include "segcore/device.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"
#include "segcore/lstsq.hpp"
#include "terminal.hpp"

namespace segcore::app {
namespace {

struct LstsqOptions {
  std::string input;
  std::string group;
  std::string target;
  std::vector<std::string> features;
  std::string out;
  std::string weight_column;
  double ridge = 0;
  bool intercept = true;
  double rcond = -1;
  std::string device = "auto";
  int threads = 0;
};

// The rows of the input, grouped: problem g owns rows [offsets[g], offsets[g + 1]).
struct GroupedRows {
  std::vector<std::string> group_ids;  // in order of first appearance
  std::vector<std::int64_t> offsets;
  std::vector<double> a;  // rows x p
  std::vector<double> b;
  std::vector<double> weights;  // empty without --weight-column
};

std::size_t column_index(const std::vector<std::string>& header, const std::string& name,
                         const std::string& path, const char* role) {
  for (std::size_t j = 0; j < header.size(); ++j)
    if (header[j] == name) return j;
  std::string known;
  for (const auto& h : header) known += (known.empty() ? "" : ", ") + h;
  throw ParseError(
      path, 0, 1, name,
      std::string("no such column (given as ") + role + "; the columns are " + known + ")");
}

// A number cell: blanks around it and a leading '+' allowed; "nan"/"inf" are read as such so
// that the group is reported as non-finite rather than the whole file rejected.
double parse_cell(std::string_view cell, const std::string& path, std::uint64_t row,
                  std::uint64_t line, const std::string& column) {
  while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) cell.remove_prefix(1);
  while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
  if (cell.empty()) throw ParseError(path, row, line, column, "empty cell, expected a number");
  const char* b = cell.data();
  const char* const e = b + cell.size();
  const auto bad = [&] {
    return ParseError(path, row, line, column, "'" + std::string(cell) + "' is not a number");
  };
  if (*b == '+' && (++b == e || *b == '-' || *b == '+')) throw bad();
  double v = 0;
  const auto [ptr, ec] = std::from_chars(b, e, v);
  if (ptr != e || (ec != std::errc() && ec != std::errc::result_out_of_range)) throw bad();
  // Out of range: overflow reads as +-inf (a non-finite group), underflow as strtod rounds it.
  if (ec == std::errc::result_out_of_range) v = std::strtod(std::string(b, e).c_str(), nullptr);
  return v;
}

GroupedRows read_grouped(const LstsqOptions& o) {
  const std::vector<std::string> header = io::read_csv_header(o.input);
  const std::size_t gi = column_index(header, o.group, o.input, "--group");
  const std::size_t ti = column_index(header, o.target, o.input, "--target");
  std::vector<std::size_t> fi;
  for (const auto& f : o.features) fi.push_back(column_index(header, f, o.input, "--features"));
  const bool weighted = !o.weight_column.empty();
  const std::size_t wi =
      weighted ? column_index(header, o.weight_column, o.input, "--weight-column") : 0;
  const std::size_t nf = o.features.size();
  const std::size_t p = nf + (o.intercept ? 1 : 0);

  // First pass into row order, remembering each row's group; then a stable counting sort, so
  // the rows of a group need not be contiguous in the file.
  GroupedRows g;
  std::unordered_map<std::string, std::uint32_t> index;
  std::vector<std::uint32_t> row_group;
  std::vector<double> a_rows, b_rows, w_rows;
  std::vector<std::string> hdr;
  io::for_each_csv_record(
      o.input, hdr,
      [&](const std::vector<std::string_view>& fields, std::uint64_t row, std::uint64_t line) {
        const std::string id(fields[gi]);
        const auto [it, inserted] =
            index.emplace(id, static_cast<std::uint32_t>(g.group_ids.size()));
        if (inserted) g.group_ids.push_back(id);
        row_group.push_back(it->second);
        b_rows.push_back(parse_cell(fields[ti], o.input, row, line, o.target));
        for (std::size_t j = 0; j < nf; ++j)
          a_rows.push_back(parse_cell(fields[fi[j]], o.input, row, line, o.features[j]));
        if (o.intercept) a_rows.push_back(1.0);
        if (weighted) {
          const double w = parse_cell(fields[wi], o.input, row, line, o.weight_column);
          if (w < 0)
            throw ParseError(o.input, row, line, o.weight_column,
                             "negative weight " + std::string(fields[wi]));
          w_rows.push_back(w);
        }
      });
  const std::size_t rows = row_group.size(), groups = g.group_ids.size();
  if (rows == 0) throw ParseError(o.input, 0, 0, "", "no data rows");
  g.offsets.assign(groups + 1, 0);
  for (const std::uint32_t k : row_group) ++g.offsets[k + 1];
  for (std::size_t k = 0; k < groups; ++k) g.offsets[k + 1] += g.offsets[k];
  std::vector<std::int64_t> next(g.offsets.begin(), g.offsets.end() - 1);
  g.a.resize(rows * p);
  g.b.resize(rows);
  if (weighted) g.weights.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const auto dst = static_cast<std::size_t>(next[row_group[r]]++);
    std::copy(a_rows.begin() + r * p, a_rows.begin() + (r + 1) * p, g.a.begin() + dst * p);
    g.b[dst] = b_rows[r];
    if (weighted) g.weights[dst] = w_rows[r];
  }
  return g;
}

void run_lstsq(const LstsqOptions& o) {
  // Arguments first, so that a bad flag costs no reading.
  if (parse_device(o.device) == Device::kCuda)
    throw NotCompiled(
        "--device cuda: the CUDA least-squares backend is not built yet (use --device cpu or "
        "auto)");
  if (!(o.ridge >= 0) || !std::isfinite(o.ridge))
    throw InvalidArgument("--ridge must be a finite number >= 0 (got " +
                          io::format_double(o.ridge) + ")");
  const std::size_t p = o.features.size() + (o.intercept ? 1 : 0);
  if (p == 0) throw InvalidArgument("--features is empty and --no-intercept leaves no coefficient");
  if (p > kLstsqMaxColumns)
    throw InvalidArgument("--features gives " + std::to_string(p) + " coefficients" +
                          (o.intercept ? " with the intercept" : "") + "; at most " +
                          std::to_string(kLstsqMaxColumns) + " are supported");
  for (std::size_t j = 0; j < o.features.size(); ++j)
    for (std::size_t k = 0; k < j; ++k)
      if (o.features[j] == o.features[k])
        throw InvalidArgument("--features names '" + o.features[j] + "' twice");

  Timer timer;
  const GroupedRows g = read_grouped(o);
  const double t_read = timer.lap();

  LstsqParams params;
  params.ridge = o.ridge;
  // The intercept is a level, not an effect: shrinking it towards 0 would bias every fit.
  params.ridge_skip_column = o.intercept ? static_cast<int>(p - 1) : -1;
  params.rcond = o.rcond;
  params.threads = o.threads;
  const LstsqBatch<double> batch{{g.a.data(), g.b.size(), p},
                                 g.b.data(),
                                 g.weights.empty() ? nullptr : g.weights.data(),
                                 g.offsets.data(),
                                 g.group_ids.size()};
  const LstsqResult r = lstsq_batched(batch, params);
  const double t_solve = timer.lap();

  io::AtomicFile file(o.out);
  std::string text;
  io::append_csv_field(text, o.group);
  for (const auto& f : o.features) {
    text += ',';
    io::append_csv_field(text, f);
  }
  if (o.intercept) text += ",intercept";
  text += ",rss,r2,rank,status\n";
  std::size_t counts[4] = {};
  for (std::size_t i = 0; i < r.problems; ++i) {
    io::append_csv_field(text, g.group_ids[i]);
    for (std::size_t j = 0; j < p; ++j) text += ',' + io::format_double(r.coef[i * p + j]);
    text += ',' + io::format_double(r.rss[i]) + ',' + io::format_double(r.r2[i]) + ',' +
            std::to_string(r.rank[i]) + ',' + lstsq_status_name(r.status[i]) + '\n';
    ++counts[static_cast<int>(r.status[i])];
    if (text.size() > (1u << 20)) {
      file.stream() << text;
      text.clear();
    }
  }
  file.stream() << text;
  file.commit();
  std::cout << "lstsq: " << r.problems << " groups from " << g.b.size() << " rows, " << p
            << " coefficients: " << counts[0] << " ok, " << counts[1] << " rank-deficient, "
            << counts[2] << " too-few-rows, " << counts[3] << " non-finite\n"
            << "  read " << fixed(t_read, 3) << " s, solve " << fixed(t_solve, 3) << " s ("
            << r.qr_problems << " by QR)\n"
            << "  wrote " << o.out << "\n";
}

}  // namespace

void add_lstsq_command(CLI::App& app) {
  auto opt = std::make_shared<LstsqOptions>();
  CLI::App* cmd =
      app.add_subcommand("lstsq", "One least-squares fit per group of a long-format CSV");
  cmd->add_option("input", opt->input, "Input CSV: one row per observation")->required();
  cmd->add_option("--group", opt->group, "Column identifying the group (customer)")->required();
  cmd->add_option("--target", opt->target, "Column with the response y")->required();
  cmd->add_option("--features", opt->features, "Comma-separated feature columns")
      ->required()
      ->delimiter(',');
  cmd->add_option("--out", opt->out, "Output CSV: one row per group")->required();
  cmd->add_option("--weight-column", opt->weight_column, "Column of non-negative row weights");
  cmd->add_option("--ridge", opt->ridge, "Ridge penalty lambda (the intercept is not penalised)")
      ->capture_default_str();
  cmd->add_flag("--intercept,!--no-intercept", opt->intercept,
                "Add an intercept column of ones (default on)");
  cmd->add_option("--rcond", opt->rcond,
                  "Relative rank threshold on the QR diagonal (negative: eps * max(m, p))")
      ->capture_default_str();
  cmd->add_option("--device", opt->device, "auto | cpu | cuda")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "CPU threads (0 = all)")->capture_default_str();
  cmd->callback([opt] { run_lstsq(*opt); });
}

}  // namespace segcore::app
