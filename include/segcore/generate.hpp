// segcore: synthetic customer bases and transaction logs with a known segment structure, for
// benchmarks, scale tests and checks that a pipeline recovers the segments it was given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace segcore {

/// One hidden segment of a synthetic customer base: the share of customers it holds and the
/// distributions its customers' features are drawn from.
///
/// For a customer of the segment (all days counted back from the end of a 365-day window):
///   recency_days    = floor(Gamma(recency_shape, mean recency_mean)), redrawn until <= 364;
///   gap             = round(Gamma(tenure_shape, mean tenure_mean));
///   frequency       = 1 + Poisson(Gamma(order_dispersion, mean extra_orders) x
///                     (0.5 + 0.5 gap / tenure_mean)): a negative binomial whose rate grows with
///                     the customer's tenure, so frequency and tenure are correlated;
///   tenure_days     = recency_days when frequency == 1, else min(364, recency_days + gap);
///   avg_order_value = LogNormal(log(order_value_median), order_value_sigma), >= 1, in cents;
///   return_rate     = Beta(return_alpha, return_beta), rounded to 4 decimals, < 1;
///   monetary        = frequency x avg_order_value x (1 - return_rate), rounded to cents.
struct SyntheticSegment {
  std::string name;                 ///< "champions", "loyal", ... (snake_case)
  double share = 0;                 ///< fraction of the customers; a set's shares sum to 1
  double recency_shape = 1;         ///< gamma shape of recency_days
  double recency_mean = 30;         ///< gamma mean of recency_days before truncation, days
  double extra_orders = 1;          ///< mean number of orders after the first
  double order_dispersion = 1;      ///< gamma shape of the order rate (smaller: more skewed)
  double order_value_median = 100;  ///< median average order value, currency units
  double order_value_sigma = 0.7;   ///< log-scale spread of the average order value
  double return_alpha = 1;          ///< Beta alpha of the return rate
  double return_beta = 20;          ///< Beta beta of the return rate
  double tenure_shape = 2;          ///< gamma shape of the days between first and last order
  double tenure_mean = 150;         ///< gamma mean of the days between first and last order
};

/// The k hidden segments used by the generator, in true_segment order. k <= 6 takes the first
/// k of: champions (10%), loyal (18%), big_spenders (7%), new (15%), at_risk (20%),
/// lost (30%), with shares renormalised to sum to 1. k > 6 adds variants of those six (segment
/// j is a variant of segment j % 6 named e.g. "loyal_2" with its scales moved by fixed factors
/// between 0.5x and 2x, the same for every seed). Throws InvalidArgument for k < 1.
std::vector<SyntheticSegment> synthetic_segments(int k);

/// What to generate. The output depends only on these fields, never on `threads`.
struct GenerateOptions {
  std::uint64_t customers = 0;          ///< number of customers N (>= 1)
  std::uint64_t seed = 0;               ///< random seed
  int segments = 6;                     ///< number of hidden segments (>= 1)
  bool with_truth = false;              ///< customer base only: add the true_segment column
  bool transactions = false;            ///< write a transaction log instead of a customer base
  std::string end_date = "2011-12-09";  ///< transaction log: last day of the one-year window
  int threads = 0;                      ///< worker threads (0 = all hardware threads)
};

/// Length of the window every customer's history lies in: days 0..364 back from the end date.
inline constexpr int kGenerateWindowDays = 365;

/// The customer base's CSV header: customer_id, recency_days, frequency, monetary,
/// tenure_days, avg_order_value, return_rate (the columns `segcore rfm` writes), then
/// true_segment when `with_truth`.
std::vector<std::string> customer_columns(bool with_truth);

/// The transaction log's CSV header, the UCI Online Retail layout: InvoiceNo, StockCode,
/// Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country.
std::vector<std::string> transaction_columns();

/// The customer_id of customer `index` (0-based) of `customers`: "C" and index + 1 zero-padded
/// to the number of digits of `customers` ("C0000001" for index 0 of 1,000,000).
std::string synthetic_customer_id(std::uint64_t index, std::uint64_t customers);

/// Checks the options (InvalidArgument: customers < 1, segments < 1, end_date not a valid
/// YYYY-MM-DD date, with_truth together with transactions).
void validate_generate_options(const GenerateOptions& options);

/// The numeric features of customers [first, first + count) of the base `options` describes:
/// count x 6 row-major doubles, columns recency_days, frequency, monetary, tenure_days,
/// avg_order_value, return_rate, equal to the values the CSV holds. `truth`, when not null,
/// receives the count 0-based true segments. InvalidArgument when the range exceeds N.
std::vector<double> generate_customers(const GenerateOptions& options, std::uint64_t first,
                                       std::size_t count, std::vector<int>* truth = nullptr);

/// Writes the customer base as CSV (header from customer_columns(), one row per customer in
/// customer order; money with at most 2 decimals, return_rate with at most 4). Returns the
/// number of data rows, N. Generated and written in chunks: memory does not grow with N.
std::uint64_t write_customers_csv(const GenerateOptions& options, std::ostream& out);

/// Writes the customer base as a NumPy .npy file (format 1.0, little-endian float64, C order):
/// an N x 6 matrix of the six numeric columns in customer_columns() order (no customer_id), or
/// N x 7 with true_segment as the last column when with_truth. Returns N.
std::uint64_t write_customers_npy(const GenerateOptions& options, std::ostream& out);

/// Writes a transaction log of the same customers as CSV in the UCI Online Retail layout, so
/// `segcore rfm` reads it with its defaults. Per customer: `frequency` invoices spread from
/// tenure_days to recency_days before end_date (the first on the first day, the last on the
/// last), each of 1-5 lines from a fixed catalogue worth about avg_order_value in all; each
/// invoice is cancelled with probability return_rate by an invoice "C<number>" on the same day
/// repeating its lines with negative quantities. About 0.5% of invoices have an empty
/// CustomerID; some descriptions hold commas or quotes (quoted per RFC 4180). InvoiceDate is
/// "m/d/yy H:MM"; CustomerID is the customer_id's digits ("0000001" for "C0000001"). Invoice
/// numbers start at 536365, are unique, and run in customer order, not in time order. Returns
/// the number of data rows.
std::uint64_t write_transactions_csv(const GenerateOptions& options, std::ostream& out);

/// What generate_file() wrote.
struct GenerateResult {
  std::uint64_t rows = 0;   ///< data rows (the header excluded)
  std::size_t columns = 0;  ///< columns per row
  bool npy = false;         ///< written as .npy
};

/// Writes the customer base or transaction log to `path` atomically (io::AtomicFile: a failed
/// run leaves no file): as .npy when the name ends in ".npy" (any case), else as CSV. Throws
/// InvalidArgument for bad options or a .npy transaction log, IoError when the file cannot be
/// written.
GenerateResult generate_file(const GenerateOptions& options, const std::string& path);

}  // namespace segcore
