// segcore trends: each customer's spend trend (level, slope, curvature) from a transaction log.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"
#include "segcore/trends.hpp"
#include "terminal.hpp"

namespace segcore::app {
namespace {

struct TrendsOptions {
  std::string input;
  std::string out;
  std::string period = "month";
  std::string date_format = "auto";
  std::string device = "auto";
  TrendOptions trend;
};

void run_trends(TrendsOptions o) {
  o.trend.period = parse_trend_period(o.period);
  o.trend.date_format = parse_date_format(o.date_format);
  // Before reading: --device cuda without a device is an error, auto says where it runs.
  o.trend.device = device_option(o.device);
  require_device(o.trend.device);
  Timer timer;
  const TrendTable t = customer_trends(o.input, o.trend);
  if (t.rows_dropped_no_customer > 0)
    notice(std::to_string(t.rows_dropped_no_customer) + " rows without a customer id dropped");
  io::AtomicFile file(o.out);
  write_trends_csv(t, file.stream());
  file.commit();
  std::size_t growing = 0, fading = 0, single = 0;
  for (std::size_t c = 0; c < t.customer_ids.size(); ++c) {
    if (t.periods[c] < 2) {
      ++single;
    } else if (t.slope[c] > 0) {
      ++growing;
    } else if (t.slope[c] < 0) {
      ++fading;
    }
  }
  std::cout << format_table(
                   {{"rows read", "customers", "growing", "fading", "one period", "last period"},
                    {std::to_string(t.rows_read), std::to_string(t.customer_ids.size()),
                     std::to_string(growing), std::to_string(fading), std::to_string(single),
                     t.last_period}})
            << "fits on " << t.backend << ", " << t.qr_problems << " by QR; wrote " << o.out
            << " in " << fixed(timer.lap(), 2) << " s\n";
}

}  // namespace

void add_trends_command(CLI::App& app) {
  auto opt = std::make_shared<TrendsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "trends", "Per-customer spend trend (level, slope per period) from transactions");
  cmd->add_option("input", opt->input, "Transactions CSV")->required();
  cmd->add_option("--out", opt->out,
                  "Output CSV: customer_id,periods,total,level,slope[,curvature],r2,status")
      ->required();
  cmd->add_option("--customer-column", opt->trend.customer_column, "Customer id column")
      ->capture_default_str();
  cmd->add_option("--date-column", opt->trend.date_column, "Date column")->capture_default_str();
  cmd->add_option("--amount-column", opt->trend.amount_column,
                  "Spend of a row (default: quantity x price)");
  cmd->add_option("--quantity-column", opt->trend.quantity_column, "Quantity column")
      ->capture_default_str();
  cmd->add_option("--price-column", opt->trend.price_column, "Unit price column")
      ->capture_default_str();
  cmd->add_option("--date-format", opt->date_format, "auto | iso | mdy | dmy")
      ->capture_default_str()
      ->check(accepted_by(parse_date_format));
  cmd->add_option("--period", opt->period, "month | week")
      ->capture_default_str()
      ->check(accepted_by(parse_trend_period));
  cmd->add_option("--degree", opt->trend.degree, "1 (level, slope) or 2 (and curvature)")
      ->capture_default_str()
      ->check(accepted_by([](const std::string& v) {
        if (v != "1" && v != "2") throw InvalidArgument("must be 1 or 2 (got " + v + ")");
        return 0;
      }));
  add_device_option(cmd, opt->device, "where the per-customer fits are solved");
  cmd->add_option("--threads", opt->trend.threads, "CPU threads (0 = all)")->capture_default_str();
  cmd->callback([opt] { run_trends(*opt); });
}

}  // namespace segcore::app
