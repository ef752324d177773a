// segcore: per-customer RFM features (recency, frequency, monetary, tenure, average order value,
// return rate) from a transaction log, and the calendar-date reading they need.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segcore {

// ---- dates ------------------------------------------------------------------------------------

/// How the date cells of a transaction file are written.
enum class DateFormat {
  kAuto,  ///< per value: a '-' in the date means ISO, a '/' means US month/day/year
  kIso,   ///< yyyy-mm-dd
  kMdy,   ///< m/d/yy or m/d/yyyy (US, as in the UCI Online Retail data)
  kDmy,   ///< d/m/yy or d/m/yyyy
};

/// "auto" | "iso" | "mdy" | "dmy" -> DateFormat; throws InvalidArgument otherwise.
DateFormat parse_date_format(std::string_view name);
const char* date_format_name(DateFormat format);

/// Days since 1970-01-01 of the proleptic Gregorian date y-m-d (negative before 1970). No range
/// check: m must be 1..12 and d 1..31.
int days_from_civil(int year, int month, int day);

/// yyyy-mm-dd of a day count from days_from_civil ("2010-12-01").
std::string format_date_days(int days);

/// Reads a calendar date and returns its days since 1970-01-01, or nullopt when `text` is not a
/// valid date in `format`. Spaces/tabs around the value are ignored. Accepted:
///   ISO  yyyy-mm-dd, optionally followed by ' ' or 'T' and a time (2010-12-01, 2010-12-01 08:26,
///        2010-12-01T08:26:00, 2010-12-01T08:26:00.5Z, ...+01:00);
///   MDY  m/d/yy or m/d/yyyy (one or two digits for month and day; a two-digit year yy is 20yy),
///        optionally followed by a space and a time h:mm[:ss] with an optional AM/PM
///        ("12/1/10 8:26", "12/01/2010 08:26:00 AM"); '-' or '.' may replace both '/';
///   DMY  as MDY with day and month swapped.
///   auto chooses per value: digits then '-' read as ISO, digits then '/' as MDY.
/// The day must exist (2/30/10 and 2/29/11 are rejected, 2/29/12 is not); the time must be a
/// valid clock time but is otherwise ignored. Years are 1..9999.
std::optional<int> parse_date_days(std::string_view text, DateFormat format);

// ---- RFM --------------------------------------------------------------------------------------

/// Which columns of the transaction file hold what, and the reference date.
struct RfmOptions {
  std::string customer_column = "CustomerID";
  std::string invoice_column = "InvoiceNo";
  std::string date_column = "InvoiceDate";
  std::string quantity_column = "Quantity";
  std::string price_column = "UnitPrice";
  /// When set, a row's amount is this column and the quantity/price columns are not read.
  std::string amount_column;
  DateFormat date_format = DateFormat::kAuto;
  /// The date recency and tenure are counted to, read with date_format (an ISO yyyy-mm-dd value
  /// is accepted whatever the format). Empty: the day after the last date among the rows that
  /// have a customer id.
  std::string as_of;
};

/// Per-customer features, one row per customer in order of first appearance in the file.
///
/// Definitions, for each customer (rows without a customer id are dropped first; a cell of only
/// spaces/tabs counts as empty, and those rows are not otherwise read or checked):
///  - a row's amount is quantity x price (or the amount column);
///  - a row is a cancellation (a return) when its invoice starts with 'C' or its quantity (amount
///    with an amount column) is negative;
///  - recency_days / tenure_days: whole calendar days (time of day ignored) from the last / first
///    purchase date to the as-of date. The dates are taken over the customer's non-cancelled rows
///    when there is at least one, else over all its rows (a customer with only returns is dated
///    by them). A date after the as-of date gives a negative value;
///  - frequency: the number of distinct invoice values among the non-cancelled rows;
///  - monetary: the sum of the amounts of all rows (cancellations, negative, subtract);
///  - avg_order_value: the sum of the non-cancelled amounts over frequency; 0 when frequency is 0
///    (a customer with only returns);
///  - return_rate: the returned amount, minus the sum of the cancelled amounts (positive for
///    ordinary returns), over the sum of the non-cancelled amounts; 0 when that sum is 0 (a
///    customer with only returns, or only zero-priced purchases).
/// Hence monetary = avg_order_value * frequency - return_rate * (non-cancelled amount). Sums are
/// compensated (Neumaier) in file order, so they are deterministic and accurate to about one
/// rounding.
struct RfmTable {
  /// The output columns after customer_id, in order.
  static constexpr std::array<const char*, 6> kColumns = {
      "recency_days", "frequency", "monetary", "tenure_days", "avg_order_value", "return_rate"};

  std::vector<std::string> customer_ids;  ///< n, the cells verbatim
  std::vector<double> values;             ///< n x 6, row-major, columns as kColumns
  std::uint64_t rows_read = 0;            ///< data rows in the file (header excluded)
  std::uint64_t rows_dropped_no_customer = 0;
  std::uint64_t cancelled_rows = 0;               ///< among the rows kept
  std::uint64_t customers_dated_after_as_of = 0;  ///< customers with a negative recency
  int as_of_days = 0;                             ///< days since 1970-01-01
  bool as_of_given = false;                       ///< from RfmOptions::as_of, not the default
  int first_date_days = 0;                        ///< earliest and latest date among the rows kept
  int last_date_days = 0;

  std::size_t customers() const { return customer_ids.size(); }
  double value(std::size_t customer, std::size_t column) const {
    return values[customer * kColumns.size() + column];
  }
};

/// Streams the transaction CSV at `path` (RFC 4180, any size: memory grows with the number of
/// customers and of distinct (customer, invoice) pairs, not with the rows) and aggregates it per
/// customer. Throws InvalidArgument for an unreadable options.as_of; IoError for a missing file;
/// ParseError naming the file, row, line and column for: an empty file or a header only, an
/// unknown or duplicated column (the available ones are listed), an empty or non-numeric
/// quantity/price/amount, an empty invoice, a date that does not read in the chosen format, and
/// no row with a customer id.
RfmTable compute_rfm(const std::string& path, const RfmOptions& options);

/// Writes `table` as CSV: the header customer_id,recency_days,frequency,monetary,tenure_days,
/// avg_order_value,return_rate, then one line per customer (ids quoted per RFC 4180 when needed,
/// numbers in shortest round-trip form).
void write_rfm_csv(const RfmTable& table, std::ostream& out);

}  // namespace segcore
