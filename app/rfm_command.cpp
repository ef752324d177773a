// segcore rfm: per-customer recency / frequency / monetary features from a transaction log.
#include <iostream>
#include <memory>
#include <string>

#include "commands.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"
#include "segcore/rfm.hpp"
#include "terminal.hpp"

namespace segcore::app {
namespace {

struct RfmCommandOptions {
  std::string input;
  std::string out;
  RfmOptions rfm;
  std::string date_format = "auto";
};

std::string plural(std::uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void run_rfm(RfmCommandOptions o) {
  o.rfm.date_format = parse_date_format(o.date_format);

  Timer timer;
  const RfmTable table = compute_rfm(o.input, o.rfm);
  const double t_read = timer.lap();
  if (table.rows_dropped_no_customer > 0) {
    notice("dropped " + plural(table.rows_dropped_no_customer, "row", "rows") +
           " with no customer id (empty '" + o.rfm.customer_column + "')");
  }
  if (table.customers_dated_after_as_of > 0) {
    warn(plural(table.customers_dated_after_as_of, "customer has", "customers have") +
         " a purchase after the as-of date " + format_date_days(table.as_of_days) +
         " (negative recency)");
  }

  // Written under a temporary name and renamed: a failure leaves no partial file.
  io::AtomicFile out(o.out);
  write_rfm_csv(table, out.stream());
  out.commit();
  const double t_write = timer.lap();

  const std::string as_of = format_date_days(table.as_of_days) +
                            (table.as_of_given ? "" : " (the day after the last date)");
  std::cout << "segcore rfm: " << o.input << "\n"
            << format_table({{"rows read", "dropped (no customer id)", "cancelled rows",
                              "customers", "as-of date"},
                             {std::to_string(table.rows_read),
                              std::to_string(table.rows_dropped_no_customer),
                              std::to_string(table.cancelled_rows),
                              std::to_string(table.customers()), as_of}})
            << "dates " << format_date_days(table.first_date_days) << " to "
            << format_date_days(table.last_date_days) << "; read " << fixed(t_read, 3)
            << " s, write " << fixed(t_write, 3) << " s\n"
            << "wrote " << out.path() << "\n";
}

}  // namespace

void add_rfm_command(CLI::App& app) {
  auto opt = std::make_shared<RfmCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "rfm", "Per-customer RFM features (recency, frequency, monetary, ...) from transactions");
  cmd->add_option("input", opt->input, "Transactions CSV (one row per invoice line)")->required();
  cmd->add_option("--out", opt->out,
                  "Output CSV: customer_id,recency_days,frequency,monetary,tenure_days,"
                  "avg_order_value,return_rate")
      ->required();
  cmd->add_option("--customer-column", opt->rfm.customer_column,
                  "Customer id column (rows with an empty cell are dropped)")
      ->capture_default_str();
  cmd->add_option("--invoice-column", opt->rfm.invoice_column,
                  "Invoice column (an invoice starting with C is a cancellation)")
      ->capture_default_str();
  cmd->add_option("--date-column", opt->rfm.date_column, "Date column")->capture_default_str();
  CLI::Option* quantity =
      cmd->add_option("--quantity-column", opt->rfm.quantity_column, "Quantity column")
          ->capture_default_str();
  CLI::Option* price = cmd->add_option("--price-column", opt->rfm.price_column, "Unit price column")
                           ->capture_default_str();
  cmd->add_option("--amount-column", opt->rfm.amount_column,
                  "Line amount column, read instead of quantity x price")
      ->excludes(quantity)
      ->excludes(price);
  cmd->add_option("--as-of", opt->rfm.as_of,
                  "Reference date for recency and tenure (default: the day after the last date)");
  cmd->add_option("--date-format", opt->date_format,
                  "auto (per value: yyyy-mm-dd or m/d/yy) | iso | mdy | dmy")
      ->capture_default_str()
      ->check(accepted_by(parse_date_format));
  cmd->callback([opt] { run_rfm(*opt); });
}

}  // namespace segcore::app
