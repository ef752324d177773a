// Tests for segcore/rfm.hpp: the date reader, the per-customer RFM aggregation and its errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "segcore/error.hpp"
#include "segcore/rfm.hpp"

namespace fs = std::filesystem;
using segcore::compute_rfm;
using segcore::DateFormat;
using segcore::days_from_civil;
using segcore::format_date_days;
using segcore::InvalidArgument;
using segcore::IoError;
using segcore::parse_date_days;
using segcore::ParseError;
using segcore::RfmOptions;
using segcore::RfmTable;

namespace {

const std::string kDataDir = SEGCORE_TEST_DATA_DIR;

enum Column { kRecency, kFrequency, kMonetary, kTenure, kAov, kReturnRate };

// A fresh directory per test, removed afterwards.
class RfmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("segcore_test_rfm_" + std::to_string(::getpid()) + "_" +
                                        info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string write(const std::string& name, const std::string& content) const {
    const std::string p = (dir_ / name).string();
    std::ofstream out(p, std::ios::binary);
    out << content;
    return p;
  }

  fs::path dir_;
};

int days(int y, int m, int d) { return days_from_civil(y, m, d); }

// The row of `id` in `t` (fails the test when absent).
std::size_t row_of(const RfmTable& t, const std::string& id) {
  for (std::size_t i = 0; i < t.customers(); ++i)
    if (t.customer_ids[i] == id) return i;
  ADD_FAILURE() << "no customer " << id;
  return 0;
}

std::string to_csv(const RfmTable& t) {
  std::ostringstream out;
  segcore::write_rfm_csv(t, out);
  return out.str();
}

// Runs compute_rfm expecting a ParseError; returns it for inspection.
ParseError expect_parse_error(const std::string& path, const RfmOptions& options) {
  try {
    compute_rfm(path, options);
  } catch (const ParseError& e) {
    return e;
  }
  ADD_FAILURE() << "no ParseError for " << path;
  return ParseError(path, 0, 0, "", "none");
}

const char* const kHeader =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";

// Hand-computed: the as-of date defaults to the day after 2010-12-06 (the last date of a row with
// a customer id), i.e. 2010-12-07.
//  A1: kept 2*2.5 + 1*10 + 4*2.5 = 25 over invoices 1001, 1002 (2); C1003 returns 2.5;
//      monetary 22.5; aov 12.5; return rate 2.5 / 25 = 0.1; purchases on 12-01 and 12-05
//      (the later return on 12-06 does not date it): recency 2, tenure 6.
//  B2: 1004 buys 3*4 = 12 and returns 2*1.5 = 3 (negative quantity, no C): frequency 1,
//      monetary 9, aov 12, return rate 0.25; 12-03: recency 4, tenure 4.
//  C3: only a return of 2*5: monetary -10, frequency 0, aov 0, return rate 0; dated by the
//      return on 12-04: recency 3, tenure 3.
const char* const kMixed =
    "1001,A,\"Mug, red\",2,12/1/10 8:26,2.5,A1,UK\n"
    "1001,B,Plate,1,12/1/10 8:26,10,A1,UK\n"
    "1004,C,Lamp,3,2010-12-03T08:00:00,4,B2,UK\n"
    "1002,A,Mug,4,2010-12-05 10:00,2.5,A1,UK\n"
    "1004,D,Bulb,-2,2010-12-03T08:00:00,1.5,B2,UK\n"
    "1005,E,Thing,1,12/8/10 8:00,7,,UK\n"
    "C1003,A,Mug,-1,12/6/10 9:00,2.5,A1,UK\n"
    "C1006,F,Vase,-2,2010-12-04,5,C3,UK\n";

// ---- dates ------------------------------------------------------------------------------------

TEST(RfmDates, CivilDayNumbers) {
  // Reference values from Python: (datetime.date(y, m, d) - datetime.date(1970, 1, 1)).days
  EXPECT_EQ(days(1970, 1, 1), 0);
  EXPECT_EQ(days(1969, 12, 31), -1);
  EXPECT_EQ(days(2000, 3, 1), 11017);
  EXPECT_EQ(days(2010, 12, 2), 14945);
  EXPECT_EQ(days(2012, 2, 29), 15399);
  EXPECT_EQ(days(1600, 3, 1), -135080);
  EXPECT_EQ(days(1, 1, 1), -719162);
  EXPECT_EQ(days(9999, 12, 31), 2932896);
}

TEST(RfmDates, DayNumbersAgreeWithCountingDaysOneByOne) {
  const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int expected = days(1890, 1, 1);
  for (int y = 1890; y < 2110; ++y) {
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    for (int m = 1; m <= 12; ++m) {
      const int n = month_days[m - 1] + (m == 2 && leap ? 1 : 0);
      for (int d = 1; d <= n; ++d) {
        ASSERT_EQ(days(y, m, d), expected) << y << "-" << m << "-" << d;
        ++expected;
      }
    }
  }
}

TEST(RfmDates, FormatRoundTrips) {
  EXPECT_EQ(format_date_days(0), "1970-01-01");
  EXPECT_EQ(format_date_days(15399), "2012-02-29");
  EXPECT_EQ(format_date_days(-719162), "0001-01-01");
  for (int d = -719162; d <= 2932896; d += 97) {
    ASSERT_EQ(parse_date_days(format_date_days(d), DateFormat::kIso), d) << d;
  }
}

TEST(RfmDates, IsoForms) {
  const int dec1 = days(2010, 12, 1);
  for (const char* text :
       {"2010-12-01", "2010-12-01 08:26", "2010-12-01T08:26:00", "2010-12-01 8:26:59.123",
        "2010-12-01T08:26:00Z", "2010-12-01T08:26:00+01:00", "2010-12-01T23:59-0500",
        "  2010-12-01\t", "2010-12-1"}) {
    EXPECT_EQ(parse_date_days(text, DateFormat::kIso), dec1) << text;
    EXPECT_EQ(parse_date_days(text, DateFormat::kAuto), dec1) << text;
  }
}

TEST(RfmDates, UsAndEuropeanForms) {
  const int dec1 = days(2010, 12, 1);
  for (const char* text : {"12/1/10 8:26", "12/1/10", "12/01/2010", "12/1/2010 08:26:00",
                           "12/1/10 8:26 AM", "12/1/10 12:05pm", "12-1-2010", "12.01.10"}) {
    EXPECT_EQ(parse_date_days(text, DateFormat::kMdy), dec1) << text;
  }
  EXPECT_EQ(parse_date_days("12/1/10 8:26", DateFormat::kAuto), dec1);
  EXPECT_EQ(parse_date_days("1/12/10 8:26", DateFormat::kDmy), dec1);
  EXPECT_EQ(parse_date_days("01.12.2010", DateFormat::kDmy), dec1);
  // Two-digit years are 20yy.
  EXPECT_EQ(parse_date_days("1/1/99", DateFormat::kMdy), days(2099, 1, 1));
  EXPECT_EQ(parse_date_days("1/1/00", DateFormat::kMdy), days(2000, 1, 1));
}

TEST(RfmDates, LeapDays) {
  EXPECT_EQ(parse_date_days("2/29/12", DateFormat::kMdy), days(2012, 2, 29));
  EXPECT_EQ(parse_date_days("2000-02-29", DateFormat::kIso), days(2000, 2, 29));
  EXPECT_EQ(parse_date_days("29/2/2012", DateFormat::kDmy), days(2012, 2, 29));
  EXPECT_FALSE(parse_date_days("2/29/11", DateFormat::kMdy));
  EXPECT_FALSE(parse_date_days("1900-02-29", DateFormat::kIso));
  EXPECT_FALSE(parse_date_days("2100-02-29", DateFormat::kAuto));
}

TEST(RfmDates, InvalidValues) {
  for (const char* text : {"2/30/10",
                           "13/1/10",
                           "0/1/10",
                           "1/0/10",
                           "4/31/10",
                           "",
                           "   ",
                           "yesterday",
                           "12/1",
                           "12/1/",
                           "12/1/201",
                           "12/1/20100",
                           "12/1-10",
                           "12//10",
                           "2010-13-01",
                           "2010-00-10",
                           "2010-12-32",
                           "10-12-01",
                           "0000-01-01",
                           "2010-12-01x",
                           "2010-12-01 25:00",
                           "2010-12-01 8:60",
                           "2010-12-01 8",
                           "2010-12-01T",
                           "12/1/10 8:26 XM",
                           "12/1/10 13:00 PM",
                           "12/1/10 8:26:61",
                           "2010-12-01T08:26:00+25:00",
                           "2010-12-01 08:26 garbage",
                           "20101201",
                           "-2010-12-01",
                           "+12/1/10"}) {
    EXPECT_FALSE(parse_date_days(text, DateFormat::kAuto)) << "'" << text << "'";
  }
  EXPECT_FALSE(parse_date_days("13/1/10", DateFormat::kMdy));
  EXPECT_TRUE(parse_date_days("13/1/10", DateFormat::kDmy));
  EXPECT_FALSE(parse_date_days("1/13/10", DateFormat::kDmy));
  // A format reads only its own form.
  EXPECT_FALSE(parse_date_days("12/1/10", DateFormat::kIso));
  EXPECT_FALSE(parse_date_days("2010-12-01", DateFormat::kMdy));
  EXPECT_FALSE(parse_date_days("2010-12-01", DateFormat::kDmy));
}

TEST(RfmDates, FormatNames) {
  EXPECT_EQ(segcore::parse_date_format("auto"), DateFormat::kAuto);
  EXPECT_EQ(segcore::parse_date_format("iso"), DateFormat::kIso);
  EXPECT_EQ(segcore::parse_date_format("mdy"), DateFormat::kMdy);
  EXPECT_EQ(segcore::parse_date_format("dmy"), DateFormat::kDmy);
  EXPECT_THROW(segcore::parse_date_format("ymd"), InvalidArgument);
  EXPECT_STREQ(segcore::date_format_name(DateFormat::kDmy), "dmy");
}

TEST(RfmDates, WholeDaysAcrossBoundaries) {
  // Time of day is ignored: 23:59 to 00:01 the next day is one day.
  auto gap = [](const char* a, const char* b) {
    return *parse_date_days(b, DateFormat::kAuto) - *parse_date_days(a, DateFormat::kAuto);
  };
  EXPECT_EQ(gap("2010-12-31 23:59", "2011-01-01 00:01"), 1);
  EXPECT_EQ(gap("1/31/11 23:00", "2/1/11 1:00"), 1);
  EXPECT_EQ(gap("2012-02-28", "2012-03-01"), 2);
  EXPECT_EQ(gap("2011-02-28", "2011-03-01"), 1);
  EXPECT_EQ(gap("12/1/10 8:26", "12/1/11 8:26"), 365);
  EXPECT_EQ(gap("2012-01-01", "2013-01-01"), 366);
  EXPECT_EQ(gap("2010-12-01 18:00", "2010-12-01 06:00"), 0);
}

// ---- aggregation ------------------------------------------------------------------------------

TEST_F(RfmTest, HandComputedMixedFile) {
  const std::string path = write("t.csv", std::string(kHeader) + kMixed);
  const RfmTable t = compute_rfm(path, RfmOptions{});
  EXPECT_EQ(t.rows_read, 8u);
  EXPECT_EQ(t.rows_dropped_no_customer, 1u);
  EXPECT_EQ(t.cancelled_rows, 3u);
  EXPECT_EQ(t.customers_dated_after_as_of, 0u);
  EXPECT_FALSE(t.as_of_given);
  EXPECT_EQ(t.as_of_days, days(2010, 12, 7));
  EXPECT_EQ(t.first_date_days, days(2010, 12, 1));
  EXPECT_EQ(t.last_date_days, days(2010, 12, 6));
  ASSERT_EQ(t.customer_ids, (std::vector<std::string>{"A1", "B2", "C3"}));
  ASSERT_EQ(t.values.size(), 3u * 6u);
  const std::vector<double> expected = {2, 2, 22.5, 6, 12.5, 0.1,   //
                                        4, 1, 9,    4, 12,   0.25,  //
                                        3, 0, -10,  3, 0,    0};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_DOUBLE_EQ(t.values[i], expected[i]) << "customer " << i / 6 << " column " << i % 6;
  }
  EXPECT_EQ(to_csv(t),
            "customer_id,recency_days,frequency,monetary,tenure_days,avg_order_value,return_rate\n"
            "A1,2,2,22.5,6,12.5,0.1\n"
            "B2,4,1,9,4,12,0.25\n"
            "C3,3,0,-10,3,0,0\n");
}

TEST_F(RfmTest, ExplicitAsOfInAnyAcceptedForm) {
  const std::string path = write("t.csv", std::string(kHeader) + kMixed);
  for (const char* as_of : {"2011-01-01", "1/1/11", "1/1/2011 00:00"}) {
    RfmOptions o;
    o.as_of = as_of;
    const RfmTable t = compute_rfm(path, o);
    EXPECT_TRUE(t.as_of_given);
    EXPECT_EQ(t.as_of_days, days(2011, 1, 1)) << as_of;
    // A1: last purchase 2010-12-05 (27 days to 2011-01-01), first 2010-12-01 (31 days).
    EXPECT_EQ(t.value(0, kRecency), 27);
    EXPECT_EQ(t.value(0, kTenure), 31);
    EXPECT_EQ(t.value(1, kRecency), 29);
    EXPECT_EQ(t.value(2, kTenure), 28);
  }
  // With --date-format dmy the as-of value is read day first too; ISO is accepted whatever the
  // format. The file's 1/12/10 is 1 December 2010.
  const std::string dmy = write("dmy.csv",
                                "InvoiceNo,InvoiceDate,Quantity,UnitPrice,CustomerID\n"
                                "1,1/12/10 8:26,1,1,a\n");
  RfmOptions o;
  o.date_format = DateFormat::kDmy;
  o.as_of = "2011-01-01";
  EXPECT_EQ(compute_rfm(dmy, o).value(0, kRecency), 31);
  o.as_of = "2/1/11";
  EXPECT_EQ(compute_rfm(dmy, o).value(0, kRecency), 32);
  o.as_of.clear();
  EXPECT_EQ(compute_rfm(dmy, o).as_of_days, days(2010, 12, 2));
}

TEST_F(RfmTest, AsOfBeforeTheDataGivesNegativeRecency) {
  const std::string path = write("t.csv", std::string(kHeader) + kMixed);
  RfmOptions o;
  o.as_of = "2010-12-04";
  const RfmTable t = compute_rfm(path, o);
  EXPECT_EQ(t.value(0, kRecency), -1);  // A1 bought on 12-05
  EXPECT_EQ(t.value(1, kRecency), 1);
  EXPECT_EQ(t.value(2, kRecency), 0);
  EXPECT_EQ(t.customers_dated_after_as_of, 1u);
}

TEST_F(RfmTest, AmountColumnAndLeapDay) {
  // amount mode: a negative amount or a C invoice is a return; quantity/price are not read
  // (there are none). x: kept 100 + 50 + 25 = 175 over O1, O2; O3 returns 30: monetary 145,
  // aov 87.5, return rate 30 / 175. CO5 (C prefix, negative) is y's only row.
  // as-of 2012-03-01: x bought 2012-02-28 (tenure 2 across the leap day) and 2012-03-01
  // (recency 0); y returned on 2011-12-31: 61 days (1 + 31 + 29).
  const std::string path = write("a.csv",
                                 "order,customer,day,total\n"
                                 "O1,x,2012-02-28,100\n"
                                 "O2,x,2/29/12 10:00,50\n"
                                 "O2,x,2012-03-01 09:00,25\n"
                                 "O3,x,2012-03-01,-30\n"
                                 "CO5,y,2011-12-31 23:59,-40\n");
  RfmOptions o;
  o.customer_column = "customer";
  o.invoice_column = "order";
  o.date_column = "day";
  o.amount_column = "total";
  o.as_of = "2012-03-01";
  const RfmTable t = compute_rfm(path, o);
  ASSERT_EQ(t.customer_ids, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(t.cancelled_rows, 2u);
  EXPECT_EQ(t.value(0, kRecency), 0);
  EXPECT_EQ(t.value(0, kFrequency), 2);
  EXPECT_DOUBLE_EQ(t.value(0, kMonetary), 145);
  EXPECT_EQ(t.value(0, kTenure), 2);
  EXPECT_DOUBLE_EQ(t.value(0, kAov), 87.5);
  EXPECT_DOUBLE_EQ(t.value(0, kReturnRate), 30.0 / 175.0);
  EXPECT_EQ(t.value(1, kRecency), 61);
  EXPECT_EQ(t.value(1, kFrequency), 0);
  EXPECT_DOUBLE_EQ(t.value(1, kMonetary), -40);
  EXPECT_EQ(t.value(1, kAov), 0);
  EXPECT_EQ(t.value(1, kReturnRate), 0);
  // Default as-of: the day after 2012-03-01.
  o.as_of.clear();
  EXPECT_EQ(compute_rfm(path, o).as_of_days, days(2012, 3, 2));
}

TEST_F(RfmTest, DistinctInvoicesDoNotDependOnRowOrder) {
  // Interleaved customers and invoices: 1 and 2 each appear twice for "a", apart; the same
  // invoice number for another customer counts for that customer too.
  const std::string path = write("o.csv",
                                 "InvoiceNo,InvoiceDate,Quantity,UnitPrice,CustomerID\n"
                                 "1,2011-01-01,1,1,a\n"
                                 "2,2011-01-02,1,1,a\n"
                                 "1,2011-01-01,1,1,b\n"
                                 "1,2011-01-01,1,1,a\n"
                                 "3,2011-01-03,1,1,b\n"
                                 "2,2011-01-02,1,1,a\n"
                                 "C2,2011-01-02,-1,1,a\n");
  const RfmTable t = compute_rfm(path, RfmOptions{});
  ASSERT_EQ(t.customer_ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t.value(0, kFrequency), 2);
  EXPECT_EQ(t.value(1, kFrequency), 2);
  EXPECT_DOUBLE_EQ(t.value(0, kMonetary), 3);
  EXPECT_DOUBLE_EQ(t.value(0, kAov), 2);
  EXPECT_DOUBLE_EQ(t.value(0, kReturnRate), 0.25);
}

TEST_F(RfmTest, ManyCustomersAndInvoices) {
  // Enough keys to grow the interning tables several times; customer i has i % 7 + 1 invoices of
  // two lines each, written in two passes so that no invoice's lines are adjacent.
  std::string csv = "InvoiceNo,InvoiceDate,Quantity,UnitPrice,CustomerID\n";
  constexpr int kCustomers = 5000;
  for (int pass = 0; pass < 2; ++pass)
    for (int i = 0; i < kCustomers; ++i)
      for (int j = 0; j <= i % 7; ++j)
        csv += "inv" + std::to_string(j) + ",2011-01-0" + std::to_string(j + 1) + ",1,2,cust" +
               std::to_string(i) + "\n";
  const RfmTable t = compute_rfm(write("m.csv", csv), RfmOptions{});
  ASSERT_EQ(t.customers(), static_cast<std::size_t>(kCustomers));
  for (int i = 0; i < kCustomers; ++i) {
    ASSERT_EQ(t.customer_ids[i], "cust" + std::to_string(i));
    const int invoices = i % 7 + 1;
    ASSERT_EQ(t.value(i, kFrequency), invoices) << i;
    ASSERT_EQ(t.value(i, kMonetary), 4.0 * invoices) << i;
    ASSERT_EQ(t.value(i, kRecency), 7 - invoices + 1) << i;  // as-of 2011-01-08
    ASSERT_EQ(t.value(i, kTenure), 7) << i;
  }
}

TEST_F(RfmTest, CustomerIdsAreVerbatimAndQuotedOnOutput) {
  const std::string path = write("q.csv",
                                 "InvoiceNo,InvoiceDate,Quantity,UnitPrice,CustomerID\n"
                                 "1,2011-01-01,1,0.1,17850.0\n"
                                 "2,2011-01-01,1,0.2,\"Smith, J\"\n"
                                 "3,2011-01-01,1,0.3,\"say \"\"hi\"\"\"\n"
                                 "4,2011-01-01,1,0.4, \t\n"
                                 "5,2011-01-01,1,0.5, 17850.0\n");
  const RfmTable t = compute_rfm(path, RfmOptions{});
  EXPECT_EQ(t.rows_dropped_no_customer, 1u);  // only blanks
  ASSERT_EQ(t.customer_ids,
            (std::vector<std::string>{"17850.0", "Smith, J", "say \"hi\"", " 17850.0"}));
  EXPECT_EQ(to_csv(t),
            "customer_id,recency_days,frequency,monetary,tenure_days,avg_order_value,return_rate\n"
            "17850.0,1,1,0.1,1,0.1,0\n"
            "\"Smith, J\",1,1,0.2,1,0.2,0\n"
            "\"say \"\"hi\"\"\",1,1,0.3,1,0.3,0\n"
            " 17850.0,1,1,0.5,1,0.5,0\n");
}

TEST_F(RfmTest, CompensatedSumsCancelExactly) {
  // A bought-and-returned line nets to exactly 0 (never "-0"); 0.1 + 0.2 - 0.3 is 2^-54 in naive
  // double arithmetic, while the exact sum of the three doubles, which the compensated sum
  // returns, is 2^-55.
  const std::string path = write("s.csv",
                                 "InvoiceNo,InvoiceDate,Quantity,UnitPrice,CustomerID\n"
                                 "1,2011-01-01,1,19.99,a\n"
                                 "C2,2011-01-01,-1,19.99,a\n"
                                 "3,2011-01-01,0,-5,b\n"
                                 "4,2011-01-01,1,0.1,c\n"
                                 "5,2011-01-01,1,0.2,c\n"
                                 "C6,2011-01-01,-1,0.3,c\n");
  const RfmTable t = compute_rfm(path, RfmOptions{});
  EXPECT_EQ(t.value(0, kMonetary), 0.0);
  EXPECT_FALSE(std::signbit(t.value(0, kMonetary)));
  EXPECT_EQ(t.value(0, kReturnRate), 1.0);
  EXPECT_FALSE(std::signbit(t.value(1, kMonetary)));  // 0 x -5
  EXPECT_EQ(t.value(2, kMonetary), std::ldexp(1.0, -55));
  EXPECT_EQ(to_csv(t).find("-0"), std::string::npos);
}

// The bundled UCI sample. Reference values computed once by hand with pandas:
//   df = pd.read_csv('data/online_retail_sample.csv', dtype=str, keep_default_na=False)
//   df = df[df.CustomerID != '']; df['amount'] = Quantity * UnitPrice (as float)
//   cancelled = InvoiceNo.str.startswith('C') | (Quantity < 0)
//   per customer: amount.sum(), kept InvoiceNo.nunique(), kept amount.sum(), -cancelled sum
// which gave 999 rows, 1 without CustomerID, 10 cancelled, 48 customers, all on 2010-12-01;
// 17850: monetary 1499.34, 10 invoices; 13047: 366.63, 3 invoices; 15311: monetary 445.33,
// kept 449.98, returned 4.65; 17548: only returns, -141.48; 14527: only a return, -27.5.
TEST(RfmRetailSample, MatchesPandas) {
  const RfmTable t = compute_rfm(kDataDir + "/online_retail_sample.csv", RfmOptions{});
  EXPECT_EQ(t.rows_read, 999u);
  EXPECT_EQ(t.rows_dropped_no_customer, 1u);
  EXPECT_EQ(t.cancelled_rows, 10u);
  EXPECT_EQ(t.customers(), 48u);
  EXPECT_EQ(format_date_days(t.as_of_days), "2010-12-02");
  EXPECT_EQ(t.customer_ids[0], "17850");
  EXPECT_EQ(t.customer_ids[1], "13047");
  const double kTol = 1e-9;
  const std::size_t a = row_of(t, "17850");
  EXPECT_EQ(t.value(a, kRecency), 1);
  EXPECT_EQ(t.value(a, kTenure), 1);
  EXPECT_EQ(t.value(a, kFrequency), 10);
  EXPECT_NEAR(t.value(a, kMonetary), 1499.34, kTol);
  EXPECT_NEAR(t.value(a, kAov), 149.934, kTol);
  EXPECT_EQ(t.value(a, kReturnRate), 0);
  const std::size_t b = row_of(t, "13047");
  EXPECT_EQ(t.value(b, kFrequency), 3);
  EXPECT_NEAR(t.value(b, kMonetary), 366.63, kTol);
  EXPECT_NEAR(t.value(b, kAov), 122.21, kTol);
  const std::size_t c = row_of(t, "15311");
  EXPECT_EQ(t.value(c, kFrequency), 1);
  EXPECT_NEAR(t.value(c, kMonetary), 445.33, kTol);
  EXPECT_NEAR(t.value(c, kAov), 449.98, kTol);
  EXPECT_NEAR(t.value(c, kReturnRate), 4.65 / 449.98, kTol);
  const std::size_t d = row_of(t, "17548");
  EXPECT_EQ(t.value(d, kFrequency), 0);
  EXPECT_NEAR(t.value(d, kMonetary), -141.48, kTol);
  EXPECT_EQ(t.value(d, kAov), 0);
  EXPECT_EQ(t.value(d, kReturnRate), 0);
  EXPECT_EQ(t.value(d, kRecency), 1);  // dated by its returns
  const std::size_t e = row_of(t, "14527");
  EXPECT_NEAR(t.value(e, kMonetary), -27.5, kTol);
}

// ---- errors -----------------------------------------------------------------------------------

TEST_F(RfmTest, NonNumericQuantityNamesRowAndColumn) {
  const std::string path = write("bad.csv", std::string(kHeader) +
                                                "1,A,x,2,12/1/10 8:26,2.5,A1,UK\n"
                                                "2,A,\"multi\nline\",2x,12/1/10 8:26,2.5,A1,UK\n"
                                                "3,A,x,2,12/1/10 8:26,2.5,A1,UK\n"
                                                "4,A,x,2,12/1/10 8:26,,A1,UK\n");
  const ParseError e = expect_parse_error(path, RfmOptions{});
  EXPECT_EQ(e.row(), 2u);
  EXPECT_EQ(e.line(), 3u);
  EXPECT_EQ(e.column(), "Quantity");
  EXPECT_NE(std::string(e.what()).find("not a number: '2x'"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();

  const std::string empty =
      write("empty_price.csv", std::string(kHeader) + "4,A,x,2,12/1/10 8:26,,A1,UK\n");
  const ParseError e2 = expect_parse_error(empty, RfmOptions{});
  EXPECT_EQ(e2.row(), 1u);
  EXPECT_EQ(e2.column(), "UnitPrice");
  EXPECT_NE(std::string(e2.what()).find("empty value"), std::string::npos) << e2.what();

  const std::string inf = write("inf.csv", std::string(kHeader) + "4,A,x,inf,12/1/10,1,A1,UK\n");
  EXPECT_NE(std::string(expect_parse_error(inf, RfmOptions{}).what()).find("non-finite"),
            std::string::npos);
}

TEST_F(RfmTest, NonNumericAmount) {
  const std::string path = write("a.csv",
                                 "InvoiceNo,InvoiceDate,CustomerID,total\n"
                                 "1,2011-01-01,a,12\n"
                                 "2,2011-01-01,a,twelve\n");
  RfmOptions o;
  o.amount_column = "total";
  const ParseError e = expect_parse_error(path, o);
  EXPECT_EQ(e.row(), 2u);
  EXPECT_EQ(e.column(), "total");
}

TEST_F(RfmTest, BadDateQuotesValueAndFormat) {
  const std::string path = write("d.csv", std::string(kHeader) +
                                              "1,A,x,2,12/1/10 8:26,2.5,A1,UK\n"
                                              "2,A,x,2,yesterday,2.5,A1,UK\n");
  const ParseError e = expect_parse_error(path, RfmOptions{});
  EXPECT_EQ(e.row(), 2u);
  EXPECT_EQ(e.column(), "InvoiceDate");
  const std::string what = e.what();
  EXPECT_NE(what.find("'yesterday'"), std::string::npos) << what;
  EXPECT_NE(what.find("auto"), std::string::npos) << what;

  const std::string invalid_day =
      write("d2.csv", std::string(kHeader) + "1,A,x,2,2/30/10 8:26,2.5,A1,UK\n");
  RfmOptions o;
  o.date_format = DateFormat::kMdy;
  const std::string what2 = expect_parse_error(invalid_day, o).what();
  EXPECT_NE(what2.find("'2/30/10 8:26'"), std::string::npos) << what2;
  EXPECT_NE(what2.find("mdy"), std::string::npos) << what2;
}

TEST_F(RfmTest, UnknownColumnListsTheAvailableOnes) {
  const std::string path = write("t.csv", std::string(kHeader) + kMixed);
  RfmOptions o;
  o.customer_column = "Customer";
  const std::string what = expect_parse_error(path, o).what();
  EXPECT_NE(what.find("unknown customer column"), std::string::npos) << what;
  EXPECT_NE(what.find("available columns: InvoiceNo, StockCode, Description, Quantity, "
                      "InvoiceDate, UnitPrice, CustomerID, Country"),
            std::string::npos)
      << what;
  RfmOptions p;
  p.amount_column = "Amount";
  EXPECT_NE(std::string(expect_parse_error(path, p).what()).find("unknown amount column"),
            std::string::npos);
  // Reported from the header alone, before any data row.
  const std::string header_only = write("h.csv", kHeader);
  EXPECT_NE(std::string(expect_parse_error(header_only, o).what()).find("unknown"),
            std::string::npos);
}

TEST_F(RfmTest, DuplicateColumnName) {
  const std::string path = write("dup.csv",
                                 "InvoiceNo,InvoiceDate,Quantity,UnitPrice,CustomerID,Quantity\n"
                                 "1,2011-01-01,1,1,a,2\n");
  EXPECT_NE(std::string(expect_parse_error(path, RfmOptions{}).what()).find("duplicate"),
            std::string::npos);
}

TEST_F(RfmTest, NoCustomers) {
  const std::string path = write("n.csv", std::string(kHeader) +
                                              "1,A,x,2,12/1/10 8:26,2.5,,UK\n"
                                              "2,A,x,bad,not a date,2.5,,UK\n");
  const ParseError e = expect_parse_error(path, RfmOptions{});
  EXPECT_EQ(e.column(), "CustomerID");
  EXPECT_NE(std::string(e.what()).find("no row has a customer id (all 2 rows"), std::string::npos)
      << e.what();
}

TEST_F(RfmTest, EmptyFileHeaderOnlyAndMissingFile) {
  EXPECT_THROW(compute_rfm(write("e.csv", ""), RfmOptions{}), ParseError);
  const std::string what = expect_parse_error(write("h.csv", kHeader), RfmOptions{}).what();
  EXPECT_NE(what.find("no data rows"), std::string::npos) << what;
  EXPECT_THROW(compute_rfm((dir_ / "missing.csv").string(), RfmOptions{}), IoError);
}

TEST_F(RfmTest, EmptyInvoice) {
  const std::string path = write("i.csv", std::string(kHeader) + ",A,x,2,12/1/10 8:26,2.5,A1,UK\n");
  const ParseError e = expect_parse_error(path, RfmOptions{});
  EXPECT_EQ(e.column(), "InvoiceNo");
  EXPECT_EQ(e.row(), 1u);
}

TEST_F(RfmTest, UnreadableAsOfIsAnInvalidArgumentBeforeReading) {
  RfmOptions o;
  o.as_of = "next week";
  try {
    compute_rfm((dir_ / "missing.csv").string(), o);
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'next week'"), std::string::npos) << e.what();
  }
  o.as_of = "2/30/11";
  EXPECT_THROW(compute_rfm(write("t.csv", std::string(kHeader) + kMixed), o), InvalidArgument);
}

}  // namespace
