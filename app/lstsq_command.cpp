// segcore lstsq: one least-squares fit per group of a long-format CSV (group, target, features).
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "segcore/device.hpp"
#include "segcore/error.hpp"
#include "segcore/grouped_table.hpp"
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

void run_lstsq(const LstsqOptions& o) {
  // Arguments first, so that a bad flag costs no reading. --device auto without a device says
  // so on stderr and runs on the CPU; --device cuda without one is an error.
  const Device device = device_option(o.device);
  require_device(device);
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
  const GroupedTable g = read_grouped_table(
      o.input, GroupedTableOptions{o.group, o.target, o.features, o.weight_column, o.intercept});
  const double t_read = timer.lap();

  LstsqParams params;
  params.ridge = o.ridge;
  // The intercept is a level, not an effect: shrinking it towards 0 would bias every fit.
  params.ridge_skip_column = o.intercept ? static_cast<int>(p - 1) : -1;
  params.rcond = o.rcond;
  params.threads = o.threads;
  params.device = device;
  const LstsqResult r = lstsq_batched(g.batch(), params);
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
            << "  read " << fixed(t_read, 3) << " s, solve " << fixed(t_solve, 3) << " s on "
            << r.backend << " (" << r.qr_problems << " by QR)\n"
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
  add_device_option(cmd, opt->device);
  cmd->add_option("--threads", opt->threads, "CPU threads (0 = all)")->capture_default_str();
  cmd->callback([opt] { run_lstsq(*opt); });
}

}  // namespace segcore::app
