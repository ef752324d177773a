// Per-customer trends: aggregation by period (zeros filled), the fit, and errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "segcore/error.hpp"
#include "segcore/trends.hpp"

namespace segcore {
namespace {

std::string write_file(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "segcore_test_trends";
  std::filesystem::create_directories(dir);
  const auto path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

std::size_t find(const TrendTable& t, const std::string& id) {
  for (std::size_t c = 0; c < t.customer_ids.size(); ++c)
    if (t.customer_ids[c] == id) return c;
  ADD_FAILURE() << "no customer " << id;
  return 0;
}

TEST(Trends, MonthlyLineWithGapsAndSingleMonthCustomers) {
  // a: 10, 20, 30 in Jan-Mar 2011 (two invoices in February): level 30, slope 10, r2 1.
  // b: 40 in Jan only, then nothing to March: spend 40, 0, 0 -> slope -20, level 0 - 20/3 ... fit.
  // c: only in March: one period.
  const auto p = write_file("t.csv",
                            "InvoiceNo,InvoiceDate,Quantity,UnitPrice,CustomerID\n"
                            "1,1/5/11 10:00,1,10,a\n"
                            "2,2/1/11 9:00,1,15,a\n"
                            "3,2/20/11 9:00,5,1,a\n"
                            "4,3/3/11 9:00,3,10,a\n"
                            "5,1/9/11 9:00,4,10,b\n"
                            "6,3/30/11 9:00,1,7,c\n"
                            "7,3/30/11 9:00,1,7,\n");
  TrendOptions o;
  const TrendTable t = customer_trends(p, o);
  ASSERT_EQ(t.customer_ids.size(), 3u);
  EXPECT_EQ(t.rows_dropped_no_customer, 1u);
  EXPECT_EQ(t.last_period, "2011-03");
  EXPECT_EQ(t.backend.rfind("cpu (", 0), 0u) << t.backend;  // the default device
  const std::size_t a = find(t, "a"), b = find(t, "b"), c = find(t, "c");
  EXPECT_EQ(t.periods[a], 3);
  EXPECT_NEAR(t.level[a], 30, 1e-12);
  EXPECT_NEAR(t.slope[a], 10, 1e-12);
  EXPECT_NEAR(t.r2[a], 1, 1e-12);
  EXPECT_EQ(t.status[a], LstsqStatus::kOk);
  EXPECT_NEAR(t.total[a], 60, 1e-12);
  // b: y = (40, 0, 0) at t = (-2, -1, 0): slope = -20, level = 40/3 - 20 = -6.67 (mean 40/3,
  // mean t = -1).
  EXPECT_NEAR(t.slope[b], -20, 1e-12);
  EXPECT_NEAR(t.level[b], 40.0 / 3.0 - 20.0, 1e-12);
  EXPECT_EQ(t.periods[c], 1);
  EXPECT_NEAR(t.level[c], 7, 1e-12);
  EXPECT_NEAR(t.slope[c], 0, 1e-12);
  EXPECT_NE(t.status[c], LstsqStatus::kOk);
}

TEST(Trends, QuadraticAndWeeklyPeriods) {
  // Spend 1, 4, 9, 16 in four consecutive ISO weeks (Mondays 2024-01-01 ... 2024-01-22),
  // t = -3..0: spend = (t + 4)^2 = 16 + 8t + t^2.
  const auto p = write_file("w.csv",
                            "cust,day,amount\n"
                            "x,2024-01-01,1\n"
                            "x,2024-01-09,4\n"
                            "x,2024-01-21,9\n"  // a Sunday: still the third week
                            "x,2024-01-22,16\n");
  TrendOptions o;
  o.customer_column = "cust";
  o.date_column = "day";
  o.amount_column = "amount";
  o.period = TrendPeriod::kWeek;
  o.degree = 2;
  const TrendTable t = customer_trends(p, o);
  ASSERT_EQ(t.customer_ids.size(), 1u);
  EXPECT_EQ(t.periods[0], 4);
  EXPECT_NEAR(t.level[0], 16, 1e-10);
  EXPECT_NEAR(t.slope[0], 8, 1e-10);
  EXPECT_NEAR(t.curvature[0], 1, 1e-10);
  std::ostringstream out;
  write_trends_csv(t, out);
  EXPECT_EQ(out.str().substr(0, out.str().find('\n')),
            "customer_id,periods,total,level,slope,curvature,r2,status");
}

TEST(Trends, ErrorsNameTheFileRowAndColumn) {
  const auto bad_date =
      write_file("bd.csv", "CustomerID,InvoiceDate,Quantity,UnitPrice\n1,2/30/11,1,1\n");
  try {
    customer_trends(bad_date, {});
    ADD_FAILURE() << "no exception";
  } catch (const ParseError& e) {
    EXPECT_EQ(e.row(), 1u);
    EXPECT_EQ(e.column(), "InvoiceDate");
  }
  const auto bad_num =
      write_file("bn.csv", "CustomerID,InvoiceDate,Quantity,UnitPrice\n1,2/3/11,x,1\n");
  EXPECT_THROW(customer_trends(bad_num, {}), ParseError);
  TrendOptions o;
  o.customer_column = "nope";
  EXPECT_THROW(customer_trends(bad_num, o), ParseError);
  o = {};
  o.degree = 3;
  EXPECT_THROW(customer_trends(bad_num, o), InvalidArgument);
  EXPECT_THROW(parse_trend_period("day"), InvalidArgument);
}

TEST(Trends, BundledRetailSampleIsOneMonth) {
  TrendOptions o;
  const TrendTable t =
      customer_trends(std::string(SEGCORE_TEST_DATA_DIR) + "/online_retail_sample.csv", o);
  EXPECT_EQ(t.last_period, "2010-12");
  for (std::size_t c = 0; c < t.customer_ids.size(); ++c) {
    EXPECT_EQ(t.periods[c], 1);
    EXPECT_NEAR(t.level[c], t.total[c], 1e-9 * (1 + std::abs(t.total[c])));
  }
}

}  // namespace
}  // namespace segcore
