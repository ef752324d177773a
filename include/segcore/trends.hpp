// segcore: per-customer spend trends from a transaction log (one small regression per customer).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "segcore/lstsq.hpp"
#include "segcore/rfm.hpp"

namespace segcore {

enum class TrendPeriod { kMonth, kWeek };

/// "month" | "week" -> TrendPeriod; InvalidArgument otherwise.
TrendPeriod parse_trend_period(const std::string& name);

struct TrendOptions {
  std::string customer_column = "CustomerID";
  std::string date_column = "InvoiceDate";
  /// The spend of a row: this column, or quantity x price when it is empty.
  std::string amount_column;
  std::string quantity_column = "Quantity";
  std::string price_column = "UnitPrice";
  DateFormat date_format = DateFormat::kAuto;
  TrendPeriod period = TrendPeriod::kMonth;
  int degree = 1;   ///< 1: level + slope; 2: also curvature
  int threads = 0;  ///< for the regressions
  /// Where the regressions are solved (as LstsqParams::device): kCpu, kCuda (CudaError without
  /// a device, NotCompiled in a build without CUDA) or kAuto. The aggregation is on the CPU.
  Device device = Device::kCpu;
};

/// One row per customer, in order of first appearance.
///
/// Each customer's spend is summed per calendar month (or ISO week, Monday first) and the
/// periods from the customer's first active period to the last period in the whole file are
/// all included, with 0 for periods without purchases (so a customer who stopped buying shows a
/// falling trend). Time t is counted in periods relative to that last period (t = 0 there, -1
/// the period before, ...), and spend = level + slope t (+ curvature t^2) is fitted by least
/// squares: `level` is the fitted spend in the last period, `slope` the change per period.
/// A customer active in a single period gets level = that spend, slope 0 and the status the
/// solver gives (too-few-rows for degree 1 with one period). Returns (refunds) subtract.
struct TrendTable {
  int degree = 1;
  std::vector<std::string> customer_ids;
  std::vector<int> periods;   ///< periods fitted (first active to last in the file)
  std::vector<double> total;  ///< net spend
  std::vector<double> level, slope, curvature, r2;
  std::vector<LstsqStatus> status;
  std::string last_period;  ///< "2011-12", or "week of 2011-12-05" (its Monday)
  std::uint64_t rows_read = 0, rows_dropped_no_customer = 0;
  std::string backend;          ///< where the regressions ran (LstsqResult::backend)
  std::size_t qr_problems = 0;  ///< customers solved by the QR path
};

/// Streams the transactions at `path` and fits every customer's trend. ParseError (file, row,
/// column) for unknown columns, bad dates or amounts; InvalidArgument for degree not 1 or 2.
TrendTable customer_trends(const std::string& path, const TrendOptions& options);

/// customer_id,periods,total,level,slope[,curvature],r2,status
void write_trends_csv(const TrendTable& table, std::ostream& out);

}  // namespace segcore
