// Tests of the synthetic data generator: determinism, the CSV / .npy layouts, the shape of the
// distributions, the transaction log, and the errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "segcore/error.hpp"
#include "segcore/generate.hpp"
#include "segcore/io.hpp"

namespace segcore {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("segcore_test_generate_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::size_t entries() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(path_), fs::directory_iterator()));
  }

 private:
  fs::path path_;
};

GenerateOptions options_for(std::uint64_t customers, std::uint64_t seed = 42) {
  GenerateOptions o;
  o.customers = customers;
  o.seed = seed;
  return o;
}

std::string customers_csv(const GenerateOptions& o) {
  std::ostringstream s;
  write_customers_csv(o, s);
  return s.str();
}

std::string customers_npy(const GenerateOptions& o) {
  std::ostringstream s;
  write_customers_npy(o, s);
  return s.str();
}

std::string transactions_csv(const GenerateOptions& o) {
  std::ostringstream s;
  write_transactions_csv(o, s);
  return s.str();
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// The numeric columns of a generated customer base CSV, read back the way the pipeline reads it.
io::Dataset read_customers(const std::string& path, bool with_truth) {
  io::TableOptions t;
  t.id_column = "customer_id";
  t.columns = customer_columns(with_truth);
  t.columns.erase(t.columns.begin());
  return io::read_csv(path, t);
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

double correlation(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i] / n, my += y[i] / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

std::vector<double> column(const std::vector<double>& values, std::size_t d, std::size_t c) {
  std::vector<double> out(values.size() / d);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = values[i * d + c];
  return out;
}

// Days since 1970-01-01 (Howard Hinnant's algorithm), to check the log's dates independently.
long days_from_civil(long y, long m, long d) {
  y -= m <= 2;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const long yoe = y - era * 400;
  const long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// "m/d/yy H:MM" (years 20yy) to days since 1970; -1 when it is not of that form.
long parse_invoice_day(const std::string& s) {
  int m = 0, d = 0, y = 0, h = 0, mi = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%d/%d/%d %d:%d%c", &m, &d, &y, &h, &mi, &tail) != 5) return -1;
  const std::size_t colon = s.find(':');
  if (s.size() - colon != 3 || s[s.size() - 5] == '0' || m < 1 || m > 12 || d < 1 || d > 31 ||
      h < 0 || h > 23 || mi < 0 || mi > 59 || s.find('/', s.find('/') + 1) + 3 != s.find(' ')) {
    return -1;
  }
  return days_from_civil(2000 + y, m, d);
}

TEST(Generate, CustomerHeaderIsExact) {
  GenerateOptions o = options_for(10);
  EXPECT_EQ(first_line(customers_csv(o)),
            "customer_id,recency_days,frequency,monetary,tenure_days,avg_order_value,return_rate");
  o.with_truth = true;
  EXPECT_EQ(first_line(customers_csv(o)),
            "customer_id,recency_days,frequency,monetary,tenure_days,avg_order_value,return_rate,"
            "true_segment");
  EXPECT_EQ(transaction_columns(),
            (std::vector<std::string>{"InvoiceNo", "StockCode", "Description", "Quantity",
                                      "InvoiceDate", "UnitPrice", "CustomerID", "Country"}));
}

TEST(Generate, CustomerIdsArePaddedToTheWidthOfN) {
  EXPECT_EQ(synthetic_customer_id(0, 1000000), "C0000001");
  EXPECT_EQ(synthetic_customer_id(999999, 1000000), "C1000000");
  EXPECT_EQ(synthetic_customer_id(0, 9), "C1");
  EXPECT_EQ(synthetic_customer_id(0, 10), "C01");
  const std::string text = customers_csv(options_for(100));
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);
  for (int i = 0; std::getline(lines, line); ++i) {
    EXPECT_EQ(line.substr(0, line.find(',')), synthetic_customer_id(i, 100));
  }
}

TEST(Generate, SameSeedGivesTheSameBytesForAnyThreadCount) {
  // More customers than one chunk, so that chunks really are built on different threads.
  GenerateOptions o = options_for(70000, 7);
  o.with_truth = true;
  o.threads = 1;
  const std::string csv1 = customers_csv(o), npy1 = customers_npy(o);
  o.threads = 2;
  EXPECT_EQ(customers_csv(o), csv1);
  EXPECT_EQ(customers_npy(o), npy1);
  o.threads = 3;
  EXPECT_EQ(customers_csv(o), csv1);

  GenerateOptions t = options_for(5000, 7);
  t.transactions = true;
  t.threads = 1;
  const std::string log1 = transactions_csv(t);
  t.threads = 2;
  EXPECT_EQ(transactions_csv(t), log1);
  EXPECT_EQ(transactions_csv(t), log1);
}

TEST(Generate, DifferentSeedsDiffer) {
  const std::string a = customers_csv(options_for(1000, 1));
  const std::string b = customers_csv(options_for(1000, 2));
  EXPECT_EQ(first_line(a), first_line(b));
  EXPECT_NE(a, b);
  GenerateOptions t = options_for(200, 1);
  t.transactions = true;
  const std::string log_a = transactions_csv(t);
  t.seed = 2;
  EXPECT_NE(transactions_csv(t), log_a);
}

TEST(Generate, ValuesAreInRangeAndConsistent) {
  TempDir dir;
  GenerateOptions o = options_for(100000);
  o.with_truth = true;
  const GenerateResult r = generate_file(o, dir.file("customers.csv"));
  EXPECT_EQ(r.rows, 100000u);
  EXPECT_EQ(r.columns, 8u);
  EXPECT_FALSE(r.npy);
  const io::Dataset data = read_customers(dir.file("customers.csv"), true);
  ASSERT_EQ(data.rows, 100000u);
  ASSERT_EQ(data.cols(), 7u);
  EXPECT_EQ(data.id(0), "C000001");
  for (std::size_t i = 0; i < data.rows; ++i) {
    const double* row = &data.values[i * 7];
    const double recency = row[0], frequency = row[1], monetary = row[2], tenure = row[3],
                 aov = row[4], return_rate = row[5], segment = row[6];
    SCOPED_TRACE("row " + std::to_string(i + 1));
    ASSERT_GE(recency, 0);
    ASSERT_LT(recency, kGenerateWindowDays);
    ASSERT_EQ(recency, std::floor(recency));
    ASSERT_GE(frequency, 1);
    ASSERT_EQ(frequency, std::floor(frequency));
    ASSERT_GE(tenure, recency);
    ASSERT_LT(tenure, kGenerateWindowDays);
    ASSERT_EQ(tenure, std::floor(tenure));
    if (frequency == 1) ASSERT_EQ(tenure, recency);
    ASSERT_GE(aov, 1.0);
    ASSERT_GE(return_rate, 0.0);
    ASSERT_LT(return_rate, 1.0);
    ASSERT_NEAR(aov * 100, std::round(aov * 100), 1e-6);
    ASSERT_NEAR(monetary * 100, std::round(monetary * 100), 1e-6);
    ASSERT_NEAR(return_rate * 1e4, std::round(return_rate * 1e4), 1e-6);
    ASSERT_NEAR(monetary, frequency * aov * (1 - return_rate), 0.005 + 1e-9 * monetary);
    ASSERT_GE(segment, 0);
    ASSERT_LT(segment, 6);
  }
}

TEST(Generate, MonetaryIsHeavyTailedAndFrequencySkewed) {
  const GenerateOptions o = options_for(100000);
  const std::vector<double> x = generate_customers(o, 0, 100000);
  const std::vector<double> monetary = column(x, 6, 2), frequency = column(x, 6, 1);
  const double max_monetary = *std::max_element(monetary.begin(), monetary.end());
  EXPECT_GT(max_monetary / median(monetary), 20.0);
  double mean_frequency = 0;
  for (double f : frequency) mean_frequency += f / static_cast<double>(frequency.size());
  EXPECT_GT(mean_frequency, 1.3 * median(frequency));
  EXPECT_GT(*std::max_element(frequency.begin(), frequency.end()), 50.0);
}

TEST(Generate, MixtureSharesAreAsConfigured) {
  for (int k : {1, 3, 6, 9}) {
    SCOPED_TRACE("k = " + std::to_string(k));
    GenerateOptions o = options_for(100000);
    o.segments = k;
    std::vector<int> truth;
    generate_customers(o, 0, o.customers, &truth);
    std::vector<double> counts(static_cast<std::size_t>(k), 0);
    for (int s : truth) {
      ASSERT_GE(s, 0);
      ASSERT_LT(s, k);
      counts[static_cast<std::size_t>(s)] += 1;
    }
    const std::vector<SyntheticSegment> segments = synthetic_segments(k);
    for (std::size_t s = 0; s < segments.size(); ++s) {
      // Binomial standard error at n = 100000 is below 0.0016.
      EXPECT_NEAR(counts[s] / 100000.0, segments[s].share, 0.008) << segments[s].name;
    }
  }
}

TEST(Generate, SegmentsHaveTheirOwnProfiles) {
  GenerateOptions o = options_for(60000);
  std::vector<int> truth;
  const std::vector<double> x = generate_customers(o, 0, o.customers, &truth);
  // Per segment: mean recency, mean frequency, median order value.
  std::vector<double> recency(6, 0), frequency(6, 0), count(6, 0);
  std::vector<std::vector<double>> aov(6);
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const auto s = static_cast<std::size_t>(truth[i]);
    recency[s] += x[i * 6 + 0];
    frequency[s] += x[i * 6 + 1];
    aov[s].push_back(x[i * 6 + 4]);
    count[s] += 1;
  }
  for (std::size_t s = 0; s < 6; ++s) recency[s] /= count[s], frequency[s] /= count[s];
  const std::size_t champions = 0, loyal = 1, big = 2, fresh = 3, at_risk = 4, lost = 5;
  EXPECT_GT(frequency[champions], 3 * frequency[lost]);
  EXPECT_GT(frequency[loyal], 2 * frequency[fresh]);
  EXPECT_GT(recency[lost], 5 * recency[champions]);
  EXPECT_GT(recency[at_risk], 2 * recency[loyal]);
  EXPECT_GT(median(aov[big]), 3 * median(aov[loyal]));
}

TEST(Generate, FeaturesAreCorrelated) {
  const std::vector<double> x = generate_customers(options_for(50000), 0, 50000);
  std::vector<double> log_frequency = column(x, 6, 1), log_monetary = column(x, 6, 2);
  for (double& v : log_frequency) v = std::log(v);
  for (double& v : log_monetary) v = std::log(std::max(v, 0.01));
  EXPECT_GT(correlation(log_frequency, log_monetary), 0.5);
  EXPECT_GT(correlation(column(x, 6, 1), column(x, 6, 3)), 0.2);   // frequency ~ tenure
  EXPECT_LT(correlation(column(x, 6, 0), column(x, 6, 1)), -0.1);  // recency ~ frequency
}

TEST(Generate, SlicesMatchTheWholeBaseAndTheCsv) {
  TempDir dir;
  GenerateOptions o = options_for(3000);
  std::vector<int> truth, slice_truth;
  const std::vector<double> all = generate_customers(o, 0, 3000, &truth);
  const std::vector<double> slice = generate_customers(o, 1234, 500, &slice_truth);
  ASSERT_EQ(slice.size(), 500u * 6);
  for (std::size_t i = 0; i < 500 * 6; ++i) ASSERT_EQ(slice[i], all[1234 * 6 + i]);
  for (std::size_t i = 0; i < 500; ++i) ASSERT_EQ(slice_truth[i], truth[1234 + i]);
  EXPECT_TRUE(generate_customers(o, 3000, 0).empty());

  o.with_truth = true;
  generate_file(o, dir.file("c.csv"));
  const io::Dataset data = read_customers(dir.file("c.csv"), true);
  for (std::size_t i = 0; i < 3000; ++i) {
    for (std::size_t c = 0; c < 6; ++c) ASSERT_EQ(data.values[i * 7 + c], all[i * 6 + c]);
    ASSERT_EQ(data.values[i * 7 + 6], truth[i]);
  }
}

TEST(Generate, NpyRoundTrip) {
  TempDir dir;
  GenerateOptions o = options_for(5000);
  std::vector<int> truth;
  const std::vector<double> expected = generate_customers(o, 0, 5000, &truth);

  GenerateResult r = generate_file(o, dir.file("c.npy"));
  EXPECT_TRUE(r.npy);
  EXPECT_EQ(r.rows, 5000u);
  EXPECT_EQ(r.columns, 6u);
  io::Dataset data = io::read_npy(dir.file("c.npy"), {});
  ASSERT_EQ(data.rows, 5000u);
  ASSERT_EQ(data.cols(), 6u);
  EXPECT_EQ(data.values, expected);

  o.with_truth = true;
  r = generate_file(o, dir.file("t.NPY"));
  EXPECT_TRUE(r.npy);
  EXPECT_EQ(r.columns, 7u);
  data = io::read_table(dir.file("t.NPY"), {});
  ASSERT_EQ(data.cols(), 7u);
  for (std::size_t i = 0; i < 5000; ++i) {
    for (std::size_t c = 0; c < 6; ++c) ASSERT_EQ(data.values[i * 7 + c], expected[i * 6 + c]);
    ASSERT_EQ(data.values[i * 7 + 6], truth[i]);
  }
}

TEST(Generate, TransactionLogParsesAndMatchesTheCustomerBase) {
  TempDir dir;
  GenerateOptions o = options_for(3000);
  o.transactions = true;
  const GenerateResult r = generate_file(o, dir.file("log.csv"));
  EXPECT_EQ(r.columns, 8u);
  const long end = days_from_civil(2011, 12, 9);

  struct Invoice {
    std::string customer;
    std::string date;
  };
  std::map<std::string, Invoice> invoices;
  // Per customer id: the days of its orders (not cancellations), and the invoices.
  std::map<std::string, std::set<std::string>> orders_of;
  std::map<std::string, std::pair<long, long>> span_of;  // first day, last day
  std::uint64_t rows = 0, cancellation_rows = 0, guest_rows = 0, comma_descriptions = 0;
  std::set<std::string> guest_orders;
  std::vector<std::string> header;
  io::for_each_csv_record(
      dir.file("log.csv"), header,
      [&](const std::vector<std::string_view>& f, std::uint64_t, std::uint64_t) {
        ++rows;
        const std::string invoice(f[0]), date(f[4]), customer(f[6]);
        const bool cancelled = invoice[0] == 'C';
        const long quantity = std::stol(std::string(f[3]));
        ASSERT_EQ(cancelled, quantity < 0) << invoice;
        ASSERT_NE(quantity, 0);
        ASSERT_GT(std::stod(std::string(f[5])), 0.0);
        ASSERT_FALSE(f[1].empty());
        ASSERT_FALSE(f[7].empty());
        const long day = parse_invoice_day(date);
        ASSERT_GE(day, end - (kGenerateWindowDays - 1)) << date;
        ASSERT_LE(day, end) << date;
        if (f[2].find(',') != std::string_view::npos) ++comma_descriptions;
        cancellation_rows += cancelled;
        // Lines of one invoice agree on customer and date; numbers are not reused.
        const auto [it, fresh] = invoices.insert({invoice, {customer, date}});
        if (!fresh) {
          ASSERT_EQ(it->second.customer, customer) << invoice;
          ASSERT_EQ(it->second.date, date) << invoice;
        }
        if (customer.empty()) {
          ++guest_rows;
          if (!cancelled) guest_orders.insert(invoice);
        } else if (!cancelled) {
          orders_of[customer].insert(invoice);
          auto& span = span_of.try_emplace(customer, day, day).first->second;
          span.first = std::min(span.first, day);
          span.second = std::max(span.second, day);
        }
      });
  EXPECT_EQ(header, transaction_columns());
  EXPECT_EQ(rows, r.rows);
  EXPECT_GT(cancellation_rows, 0u);
  EXPECT_LT(cancellation_rows, rows / 5);
  EXPECT_GT(guest_rows, 0u);
  EXPECT_LT(guest_rows, rows / 50);
  EXPECT_GT(comma_descriptions, 0u);
  EXPECT_NE(invoices.count("536365"), 0u);

  // The log is the customer base's customers: their orders, first and last days.
  GenerateOptions base = o;
  base.transactions = false;
  const std::vector<double> x = generate_customers(base, 0, 3000);
  double orders = 0;
  std::size_t exact = 0;
  for (std::size_t i = 0; i < 3000; ++i) {
    const std::string id = synthetic_customer_id(i, 3000).substr(1);
    const double recency = x[i * 6], frequency = x[i * 6 + 1], tenure = x[i * 6 + 3];
    orders += frequency;
    const auto found = orders_of.find(id);
    if (found == orders_of.end()) continue;  // all its orders were guest orders
    ASSERT_LE(static_cast<double>(found->second.size()), frequency) << id;
    const auto [first, last] = span_of[id];
    ASSERT_LE(end - last, static_cast<long>(tenure)) << id;
    ASSERT_GE(end - last, static_cast<long>(recency)) << id;
    ASSERT_LE(end - first, static_cast<long>(tenure)) << id;
    exact += static_cast<double>(found->second.size()) == frequency && end - last == recency &&
             end - first == tenure;
  }
  std::size_t logged_orders = guest_orders.size();
  for (const auto& [id, set] : orders_of) logged_orders += set.size();
  EXPECT_EQ(static_cast<double>(logged_orders), orders);
  EXPECT_GT(exact, 2700u);
}

TEST(Generate, TransactionLogQuotesDescriptionsAndHonoursTheEndDate) {
  GenerateOptions o = options_for(2000, 3);
  o.transactions = true;
  o.end_date = "2020-03-01";
  const std::string text = transactions_csv(o);
  EXPECT_NE(text.find(",\""), std::string::npos);   // a quoted description
  EXPECT_NE(text.find("\"\""), std::string::npos);  // with a doubled quote inside
  EXPECT_NE(text.find(",3/1/20 "), std::string::npos);
  EXPECT_NE(text.find(",2/29/20 "), std::string::npos);
  EXPECT_EQ(text.find(",3/2/20 "), std::string::npos);
  EXPECT_NE(text.find("/19 "), std::string::npos);
  EXPECT_EQ(text.find(",3/1/19 "), std::string::npos);  // but not past 365 days
}

TEST(Generate, SyntheticSegments) {
  const std::vector<SyntheticSegment> six = synthetic_segments(6);
  ASSERT_EQ(six.size(), 6u);
  const std::vector<std::string> names = {"champions", "loyal",   "big_spenders",
                                          "new",       "at_risk", "lost"};
  double total = 0;
  for (std::size_t s = 0; s < 6; ++s) {
    EXPECT_EQ(six[s].name, names[s]);
    total += six[s].share;
  }
  EXPECT_NEAR(total, 1.0, 1e-12);

  const std::vector<SyntheticSegment> three = synthetic_segments(3);
  EXPECT_NEAR(three[0].share / three[1].share, six[0].share / six[1].share, 1e-12);
  EXPECT_NEAR(three[0].share + three[1].share + three[2].share, 1.0, 1e-12);

  const std::vector<SyntheticSegment> nine = synthetic_segments(9);
  std::set<std::string> unique;
  total = 0;
  for (const auto& s : nine) unique.insert(s.name), total += s.share;
  EXPECT_EQ(unique.size(), 9u);
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_EQ(nine[6].name, "champions_2");
  EXPECT_EQ(synthetic_segments(9)[7].order_value_median, nine[7].order_value_median);
}

TEST(Generate, ErrorsAreReported) {
  TempDir dir;
  GenerateOptions o = options_for(0);
  EXPECT_THROW(generate_file(o, dir.file("a.csv")), InvalidArgument);
  EXPECT_THROW(customers_csv(o), InvalidArgument);
  o.customers = 10;
  o.segments = 0;
  EXPECT_THROW(generate_file(o, dir.file("a.csv")), InvalidArgument);
  EXPECT_THROW(synthetic_segments(0), InvalidArgument);
  o.segments = 6;
  o.transactions = true;
  try {
    generate_file(o, dir.file("a.npy"));
    FAIL() << "a .npy transaction log was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("npy"), std::string::npos) << e.what();
  }
  o.with_truth = true;
  EXPECT_THROW(generate_file(o, dir.file("a.csv")), InvalidArgument);
  o.with_truth = false;
  for (const char* bad : {"2011-02-30", "2011/12/09", "", "11-12-09", "2011-13-01"}) {
    o.end_date = bad;
    EXPECT_THROW(generate_file(o, dir.file("a.csv")), InvalidArgument) << bad;
  }
  o.end_date = "2012-02-29";
  EXPECT_NO_THROW(transactions_csv(o));
  o.transactions = false;
  EXPECT_THROW(generate_customers(o, 5, 6), InvalidArgument);
  EXPECT_THROW(generate_customers(o, 11, 0), InvalidArgument);
  try {
    generate_file(o, dir.file("missing/a.csv"));
    FAIL() << "an unwritable path was accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("missing/a.csv"), std::string::npos) << e.what();
  }
  // Nothing was left behind by any failure.
  EXPECT_EQ(dir.entries(), 0u);
}

}  // namespace
}  // namespace segcore
