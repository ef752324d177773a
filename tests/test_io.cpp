// Tests for segcore/io.hpp: CSV and .npy input, number formatting, atomic output files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "segcore/error.hpp"
#include "segcore/io.hpp"

namespace fs = std::filesystem;
using segcore::InvalidArgument;
using segcore::IoError;
using segcore::ParseError;
using segcore::io::Dataset;
using segcore::io::TableOptions;

namespace {

const std::string kDataDir = SEGCORE_TEST_DATA_DIR;

// A fresh directory per test, removed afterwards.
class IoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("segcore_test_io_" + std::to_string(::getpid()) + "_" +
                                        info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::string write(const std::string& name, const std::string& content) const {
    const std::string p = path(name);
    std::ofstream out(p, std::ios::binary);
    out << content;
    return p;
  }

  std::vector<std::string> dir_entries(const fs::path& d) const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(d)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_;
};

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TableOptions cols(std::vector<std::string> c) {
  TableOptions o;
  o.columns = std::move(c);
  return o;
}

// Runs f, expects a ParseError and returns it.
template <typename F>
std::optional<ParseError> parse_error(F&& f) {
  try {
    f();
  } catch (const ParseError& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ParseError, got another exception: " << e.what();
    return std::nullopt;
  }
  ADD_FAILURE() << "expected ParseError, nothing was thrown";
  return std::nullopt;
}

// Runs f, expects exception E and returns its message.
template <typename E, typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "nothing was thrown";
  return "";
}

#define EXPECT_CONTAINS(haystack, needle)                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "'" << (haystack) << "' does not contain '" << (needle) << "'"

// Checks a ParseError's file, row, line, column and message text.
void expect_parse_error(const std::optional<ParseError>& e, const std::string& file,
                        std::uint64_t row, std::uint64_t line, const std::string& column,
                        const std::string& text) {
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->file(), file);
  EXPECT_CONTAINS(e->what(), file);
  EXPECT_EQ(e->row(), row) << e->what();
  EXPECT_EQ(e->line(), line) << e->what();
  EXPECT_EQ(e->column(), column) << e->what();
  if (row > 0) {
    EXPECT_CONTAINS(e->what(), "row " + std::to_string(row));
  }
  if (line > 0) {
    EXPECT_CONTAINS(e->what(), "line " + std::to_string(line));
  }
  if (!column.empty()) {
    EXPECT_CONTAINS(e->what(), "'" + column + "'");
  }
  EXPECT_CONTAINS(e->what(), text);
}

// ================================ CSV ==========================================================

using CsvTest = IoTest;

TEST_F(CsvTest, ReadsNumericTable) {
  const auto p = write("a.csv", "a,b,c\n1,2,3\n4.5,-5e2,6\n");
  const Dataset ds = segcore::io::read_csv(p, {});
  EXPECT_EQ(ds.source, p);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(ds.rows, 2u);
  ASSERT_EQ(ds.cols(), 3u);
  EXPECT_EQ(ds.values, (std::vector<double>{1, 2, 3, 4.5, -500, 6}));
  EXPECT_TRUE(ds.weights.empty());
  EXPECT_FALSE(ds.has_ids);
  EXPECT_EQ(ds.id(0), "0");
  EXPECT_EQ(ds.id(1), "1");
}

TEST_F(CsvTest, HeaderIsReadWithoutTheRows) {
  const auto p =
      write("h.csv", "\xEF\xBB\xBF\"id\", amount ,\"a,b\"\n1,2\n");  // ragged row 1 unread
  EXPECT_EQ(segcore::io::read_csv_header(p), (std::vector<std::string>{"id", "amount", "a,b"}));
  const auto empty = write("e.csv", "");
  EXPECT_THROW(segcore::io::read_csv_header(empty), ParseError);
}

TEST_F(CsvTest, QuotedCommasQuotesAndNewlines) {
  const auto p = write("q.csv",
                       "name,x,\"y\"\n"
                       "\"Smith, John\",1,2\n"
                       "\"say \"\"hi\"\"\",3,4\n"
                       "\"two\nlines\",5,\"6\"\n"
                       "\"\",7,8\n");
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> records;
  std::vector<std::uint64_t> rows, lines;
  segcore::io::for_each_csv_record(
      p, header,
      [&](const std::vector<std::string_view>& f, std::uint64_t row, std::uint64_t line) {
        records.emplace_back(f.begin(), f.end());
        rows.push_back(row);
        lines.push_back(line);
      });
  EXPECT_EQ(header, (std::vector<std::string>{"name", "x", "y"}));
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0], (std::vector<std::string>{"Smith, John", "1", "2"}));
  EXPECT_EQ(records[1], (std::vector<std::string>{"say \"hi\"", "3", "4"}));
  EXPECT_EQ(records[2], (std::vector<std::string>{"two\nlines", "5", "6"}));
  EXPECT_EQ(records[3], (std::vector<std::string>{"", "7", "8"}));
  EXPECT_EQ(rows, (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(lines, (std::vector<std::uint64_t>{2, 3, 4, 6}));

  TableOptions o;
  o.id_column = "name";
  const Dataset ds = segcore::io::read_csv(p, o);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(ds.values, (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_TRUE(ds.has_ids);
  EXPECT_EQ(ds.id(0), "Smith, John");
  EXPECT_EQ(ds.id(1), "say \"hi\"");
  EXPECT_EQ(ds.id(2), "two\nlines");
  EXPECT_EQ(ds.id(3), "");
  EXPECT_EQ(ds.id_offsets.size(), 5u);
}

TEST_F(CsvTest, LineNumbersFollowQuotedNewlines) {
  const auto p = write("l.csv", "id,x\n\"a\nb\nc\",1\nd,oops\n");
  TableOptions o;
  o.id_column = "id";
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, o); }), p, 2, 5, "x",
                     "not a number: 'oops'");
}

TEST_F(CsvTest, CrlfLineEnds) {
  const auto p = write("crlf.csv", "a,b\r\n1,2\r\n\"3\r\n\",4\r\n5,6\r\n");
  std::vector<std::string> header;
  std::vector<std::string> first;
  segcore::io::for_each_csv_record(
      p, header, [&](const std::vector<std::string_view>& f, std::uint64_t, std::uint64_t) {
        first.emplace_back(f[0]);
      });
  EXPECT_EQ(header, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(first, (std::vector<std::string>{"1", "3\r\n", "5"}));
  const Dataset ds = segcore::io::read_csv(p, cols({"b"}));
  EXPECT_EQ(ds.values, (std::vector<double>{2, 4, 6}));
}

TEST_F(CsvTest, Utf8ByteOrderMark) {
  const auto p = write("bom.csv",
                       "\xEF\xBB\xBF"
                       "a,b\n1,2\n");
  const Dataset ds = segcore::io::read_csv(p, cols({"a"}));
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"a"}));
  EXPECT_EQ(ds.values, (std::vector<double>{1}));
}

TEST_F(CsvTest, NoTrailingNewline) {
  const auto p = write("nt.csv", "a,b\n1,2\n3,4");
  const Dataset ds = segcore::io::read_csv(p, {});
  EXPECT_EQ(ds.rows, 2u);
  EXPECT_EQ(ds.values, (std::vector<double>{1, 2, 3, 4}));
  const auto q = write("ntq.csv", "a,b\n1,\"2\"");
  EXPECT_EQ(segcore::io::read_csv(q, {}).values, (std::vector<double>{1, 2}));
  const auto r = write("ntcr.csv", "a,b\r\n1,2\r");
  EXPECT_EQ(segcore::io::read_csv(r, {}).values, (std::vector<double>{1, 2}));
}

TEST_F(CsvTest, TrailingBlankLinesIgnored) {
  const auto p = write("tb.csv", "a,b\n1,2\n\n\r\n\n");
  const Dataset ds = segcore::io::read_csv(p, {});
  EXPECT_EQ(ds.rows, 1u);
  EXPECT_EQ(ds.values, (std::vector<double>{1, 2}));
}

TEST_F(CsvTest, BlankLineInTheMiddleIsARaggedRow) {
  const auto p = write("bm.csv", "a,b\n1,2\n\n3,4\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, {}); }), p, 2, 3, "",
                     "expected 2 fields, found 1");
}

TEST_F(CsvTest, ColumnSelectionByNameAndOrder) {
  const auto p = write("sel.csv", "a,b,c,d\n1,2,3,4\n5,6,7,8\n");
  const Dataset ds = segcore::io::read_csv(p, cols({"c", "a"}));
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(ds.values, (std::vector<double>{3, 1, 7, 5}));
}

TEST_F(CsvTest, OnlySelectedColumnsAreConverted) {
  const auto p = write("only.csv", "a,text,b\n1,hello,2\n3,,4\n");
  const Dataset ds = segcore::io::read_csv(p, cols({"a", "b"}));
  EXPECT_EQ(ds.values, (std::vector<double>{1, 2, 3, 4}));
}

TEST_F(CsvTest, SpacesAroundNumbersAndLeadingPlus) {
  const auto p = write("sp.csv", "a , b\n  1.5\t, +2\n\" -3 \",+.5e1\n");
  const Dataset ds = segcore::io::read_csv(p, cols({"a", "b"}));  // header names are trimmed
  EXPECT_EQ(ds.values, (std::vector<double>{1.5, 2, -3, 5}));
}

TEST_F(CsvTest, TinyNumbersUnderflowLikeStrtod) {
  const auto p = write("tiny.csv", "a\n1e-400\n4.9e-324\n");
  const Dataset ds = segcore::io::read_csv(p, {});
  ASSERT_EQ(ds.rows, 2u);
  EXPECT_EQ(ds.values[0], 0.0);
  EXPECT_EQ(ds.values[1], std::numeric_limits<double>::denorm_min());
}

TEST_F(CsvTest, NumbersMatchStrtodExactly) {
  // Many shapes of decimal text (short and long mantissas, exponents, signs) must read back
  // exactly as strtod reads them.
  std::mt19937_64 rng(42);
  std::vector<std::string> texts = {"0",
                                    "-0",
                                    "9007199254740992",
                                    "9007199254740993",
                                    "1e22",
                                    "1e23",
                                    "1e-22",
                                    "1e-23",
                                    "0.1",
                                    "-.5",
                                    "5.",
                                    "1E+5",
                                    "123456789012345678",
                                    "1234567890123456789",
                                    "12345678901234567890",
                                    "0.000000000000000000000001",
                                    "2.2250738585072014e-308",
                                    "1.7976931348623157e308"};
  char buf[64];
  for (int i = 0; i < 20000; ++i) {
    const double v =
        std::ldexp(static_cast<double>(rng() >> 11), static_cast<int>(rng() % 80) - 60);
    const int prec = static_cast<int>(rng() % 20);
    switch (rng() % 4) {
      case 0:
        std::snprintf(buf, sizeof buf, "%.*f", prec % 8, (rng() & 1) ? v : -v);
        break;
      case 1:
        std::snprintf(buf, sizeof buf, "%.*e", prec, v);
        break;
      case 2:
        std::snprintf(buf, sizeof buf, "%.*g", prec + 1, -v);
        break;
      default:
        std::snprintf(buf, sizeof buf, "%llu",
                      static_cast<unsigned long long>(rng() >> (rng() % 64)));
        break;
    }
    texts.emplace_back(buf);
  }
  std::string text = "x\n";
  for (const auto& t : texts) text += t + "\n";
  const Dataset ds = segcore::io::read_csv(write("nums.csv", text), {});
  ASSERT_EQ(ds.rows, texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const double want = std::strtod(texts[i].c_str(), nullptr);
    ASSERT_EQ(std::memcmp(&ds.values[i], &want, sizeof want), 0)
        << texts[i] << " read as " << ds.values[i];
  }
}

TEST_F(CsvTest, MallCustomersDefaultColumns) {
  const std::string p = kDataDir + "/mall_customers.csv";
  const Dataset ds = segcore::io::read_csv(p, {});
  EXPECT_EQ(ds.feature_names,
            (std::vector<std::string>{"age", "annual_income_thousands", "spending_score"}));
  EXPECT_EQ(ds.rows, 200u);
  ASSERT_EQ(ds.values.size(), 600u);
  EXPECT_EQ(ds.values[0], 19);
  EXPECT_EQ(ds.values[1], 15);
  EXPECT_EQ(ds.values[2], 39);
  EXPECT_FALSE(ds.has_ids);
}

TEST_F(CsvTest, IdColumnKeptVerbatim) {
  const std::string p = kDataDir + "/mall_customers.csv";
  TableOptions o;
  o.id_column = "customer_id";
  const Dataset ds = segcore::io::read_csv(p, o);
  ASSERT_TRUE(ds.has_ids);
  EXPECT_EQ(ds.id(0), "0001");
  EXPECT_EQ(ds.id(199), "0200");
  EXPECT_EQ(ds.cols(), 3u);
  EXPECT_THROW((void)ds.id(200), InvalidArgument);
}

TEST_F(CsvTest, IdColumnMayHoldAnyText) {
  const auto p = write("ids.csv", "key,x\n  spaced  ,1\nnan,2\n,3\n");
  TableOptions o;
  o.id_column = "key";
  const Dataset ds = segcore::io::read_csv(p, o);
  EXPECT_EQ(ds.id(0), "  spaced  ");
  EXPECT_EQ(ds.id(1), "nan");
  EXPECT_EQ(ds.id(2), "");
}

TEST_F(CsvTest, WeightColumn) {
  const auto p = write("w.csv", "x,w,y\n1,0.5,2\n3,0,4\n5,2,6\n");
  TableOptions o;
  o.weight_column = "w";
  const Dataset ds = segcore::io::read_csv(p, o);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"x", "y"}));  // weight not a feature
  EXPECT_EQ(ds.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(ds.weights, (std::vector<double>{0.5, 0, 2}));
}

TEST_F(CsvTest, DefaultColumnsSkipIdentifierNames) {
  const auto p = write("idlike.csv",
                       "id,user_id,CustomerID,RowId,paid,ID,score,name\n"
                       "1,2,3,4,5,6,7,bob\n");
  const Dataset ds = segcore::io::read_csv(p, {});
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"paid", "score"}));
  EXPECT_EQ(ds.values, (std::vector<double>{5, 7}));
  // Named explicitly, identifier-like columns can still be features.
  EXPECT_EQ(segcore::io::read_csv(p, cols({"user_id"})).values, (std::vector<double>{2}));
}

TEST_F(CsvTest, DefaultColumnsSkipIdAndWeightColumns) {
  const auto p = write("iw.csv", "key,w,x\n10,1,2\n");
  TableOptions o;
  o.id_column = "key";
  o.weight_column = "w";
  const Dataset ds = segcore::io::read_csv(p, o);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"x"}));
}

TEST_F(CsvTest, DefaultColumnsLaterNonNumericValueIsAnError) {
  const auto p = write("late.csv", "a,b\n1,x\n2,y\nthree,z\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, {}); }), p, 3, 4, "a",
                     "not a number: 'three'");
}

TEST_F(CsvTest, RecordsAcrossBlockBoundaries) {
  // > 8 MiB so the reader refills its buffer mid-record many times.
  std::string text = "id,x,y\n";
  const int n = 400000;
  for (int i = 0; i < n; ++i) {
    text += "\"row ";
    text += std::to_string(i);
    text += (i % 7 == 0) ? "\"\"q\"\"\nline" : ", c";
    text += "\",";
    text += std::to_string(i);
    text += ".25,";
    text += std::to_string(-i);
    text += (i % 3 == 0) ? "\r\n" : "\n";
  }
  const auto p = write("big.csv", text);
  ASSERT_GT(text.size(), std::size_t{8} << 20);
  TableOptions o;
  o.id_column = "id";
  const Dataset ds = segcore::io::read_csv(p, o);
  ASSERT_EQ(ds.rows, static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(ds.values[2 * i], i + 0.25) << i;
    ASSERT_EQ(ds.values[2 * i + 1], -i) << i;
  }
  EXPECT_EQ(ds.id(7), "row 7\"q\"\nline");
  EXPECT_EQ(ds.id(8), "row 8, c");
}

TEST_F(CsvTest, TokensSplitAtTheBlockBoundary) {
  // The reader fills an 8 MiB buffer first; place each delicate token (a doubled quote, CRLF, a
  // closing quote, a quoted newline) on and around that boundary. Correct for any block size.
  constexpr std::size_t kBoundary = std::size_t{8} << 20;
  struct Case {
    std::string record;    // id,x record
    std::size_t critical;  // index of the byte to place near the boundary
    std::string id;        // expected id
  };
  const Case cases[] = {
      {"\"q\"\"q\",2\r\n", 2, "q\"q"},
      {"r,2\r\n", 3, "r"},
      {"\"x\",2\n", 2, "x"},
      {"\"a\nb\",2\n", 2, "a\nb"},
  };
  const std::string header = "id,x\n";
  for (const auto& c : cases) {
    for (int delta = -1; delta <= 0; ++delta) {
      const std::size_t prefix = kBoundary + static_cast<std::size_t>(delta + 2) - 2 - c.critical;
      const std::size_t filler = prefix - header.size();
      const std::size_t lines = filler / 4 - 1;  // "a,1\n" lines, then one longer line
      std::string text = header;
      text.reserve(prefix + 64);
      for (std::size_t i = 0; i < lines; ++i) text += "a,1\n";
      text += std::string(filler - 4 * lines - 3, 'b') + ",1\n";
      ASSERT_EQ(text.size(), prefix);
      text += c.record + "last,3";
      const auto p = write("boundary.csv", text);
      TableOptions o;
      o.id_column = "id";
      const Dataset ds = segcore::io::read_csv(p, o);
      ASSERT_EQ(ds.rows, lines + 3) << c.record << " " << delta;
      EXPECT_EQ(ds.id(lines + 1), c.id) << delta;
      EXPECT_EQ(ds.id(lines + 2), "last") << delta;
      EXPECT_EQ(ds.values[lines + 1], 2) << delta;
      EXPECT_EQ(ds.values[lines + 2], 3) << delta;
    }
  }
}

TEST_F(CsvTest, RecordLongerThanTheBuffer) {
  const std::string huge(9u << 20, 'z');  // one 9 MiB field
  const auto p = write("huge.csv", "id,x\nsmall,1\n\"" + huge + "\",2\nlast,3\n");
  TableOptions o;
  o.id_column = "id";
  const Dataset ds = segcore::io::read_csv(p, o);
  ASSERT_EQ(ds.rows, 3u);
  EXPECT_EQ(ds.id(1).size(), huge.size());
  EXPECT_EQ(ds.id(2), "last");
  EXPECT_EQ(ds.values, (std::vector<double>{1, 2, 3}));
}

TEST_F(CsvTest, ReadTableDispatchesOnExtension) {
  const auto p = write("t.csv", "a\n1\n");
  EXPECT_EQ(segcore::io::read_table(p, {}).values, (std::vector<double>{1}));
  const double v[2] = {1, 2};
  const auto q = path("t.NPY");
  segcore::io::write_npy(q, v, 2, 1, true);
  EXPECT_EQ(segcore::io::read_table(q, {}).values, (std::vector<double>{1, 2}));
}

// ---- CSV errors -------------------------------------------------------------------------------

TEST_F(CsvTest, MissingFileIsIoError) {
  const auto p = path("does_not_exist.csv");
  const auto m = error_message<IoError>([&] { segcore::io::read_csv(p, {}); });
  EXPECT_CONTAINS(m, p);
  EXPECT_CONTAINS(m, "cannot open");
  std::vector<std::string> header;
  EXPECT_THROW(segcore::io::for_each_csv_record(p, header, [](auto&&...) {}), IoError);
}

TEST_F(CsvTest, DirectoryIsIoError) {
  const auto m = error_message<IoError>([&] { segcore::io::read_csv(dir_.string(), {}); });
  EXPECT_CONTAINS(m, dir_.string());
  EXPECT_CONTAINS(m, "cannot open");
}

TEST_F(CsvTest, EmptyFile) {
  for (const std::string content : {"", "\xEF\xBB\xBF", "\n\n", "\r\n"}) {
    const auto p = write("empty.csv", content);
    expect_parse_error(parse_error([&] { segcore::io::read_csv(p, {}); }), p, 0, 0, "",
                       "file is empty");
  }
}

TEST_F(CsvTest, HeaderOnly) {
  for (const std::string content : {"a,b", "a,b\n", "a,b\r\n\r\n"}) {
    const auto p = write("header.csv", content);
    expect_parse_error(parse_error([&] { segcore::io::read_csv(p, {}); }), p, 0, 0, "",
                       "no data rows");
  }
}

TEST_F(CsvTest, RaggedRow) {
  const auto p = write("rag.csv", "a,b,c\n1,2,3\n4,5\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, {}); }), p, 2, 3, "",
                     "expected 3 fields, found 2");
  const auto q = write("rag2.csv", "a,b\n\"x\ny\",2\n1,2,3\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(q, cols({"b"})); }), q, 2, 4, "",
                     "expected 2 fields, found 3");
  std::vector<std::string> header;
  expect_parse_error(
      parse_error([&] { segcore::io::for_each_csv_record(p, header, [](auto&&...) {}); }), p, 2, 3,
      "", "expected 3 fields, found 2");
}

TEST_F(CsvTest, UnknownColumnListsAvailableColumns) {
  const auto p = write("u.csv", "alpha,beta\n1,2\n");
  expect_parse_error(parse_error([&] {
                       segcore::io::read_csv(p, cols({"alpha", "gamma"}));
                     }),
                     p, 0, 0, "gamma", "available columns: alpha, beta");
  TableOptions o;
  o.id_column = "nope";
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, o); }), p, 0, 0, "nope",
                     "unknown id column");
  TableOptions w;
  w.weight_column = "wt";
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, w); }), p, 0, 0, "wt",
                     "unknown weight column");
}

TEST_F(CsvTest, DuplicateHeaderNameAmongSelectedColumns) {
  const auto p = write("dup.csv", "a,b,a\n1,2,3\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, cols({"a"})); }), p, 0, 1, "a",
                     "duplicate header name");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, {}); }), p, 0, 1, "a",
                     "duplicate header name");
  // A duplicate that is not used does no harm.
  EXPECT_EQ(segcore::io::read_csv(p, cols({"b"})).values, (std::vector<double>{2}));
}

TEST_F(CsvTest, ColumnSelectedTwiceIsInvalidArgument) {
  const auto p = write("twice.csv", "a,b\n1,2\n");
  const auto m = error_message<InvalidArgument>([&] {
    segcore::io::read_csv(p, cols({"a", "b", "a"}));
  });
  EXPECT_CONTAINS(m, "'a'");
  EXPECT_CONTAINS(m, p);
}

TEST_F(CsvTest, EmptyValue) {
  const auto p = write("ev.csv", "a,b\n1,2\n3,\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, {}); }), p, 2, 3, "b",
                     "empty value");
  const auto q = write("ev2.csv", "a,b\n1,2\n3, \t\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(q, {}); }), q, 2, 3, "b",
                     "empty value");
  const auto r = write("ev3.csv", "a,b\n1,2\n\"\",4\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(r, {}); }), r, 2, 3, "a",
                     "empty value");
}

TEST_F(CsvTest, NonNumericValue) {
  const auto p = write("nn.csv", "a,b\n1,2\n3,abc\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, {}); }), p, 2, 3, "b",
                     "not a number: 'abc'");
  for (const std::string bad : {"1.2.3", "0x10", "+-1", "+", "1,5", "12abc", "- 1"}) {
    const auto q = write("nn2.csv", "a\n\"" + bad + "\"\n");
    expect_parse_error(parse_error([&] { segcore::io::read_csv(q, cols({"a"})); }), q, 1, 2, "a",
                       "not a number: '" + bad + "'");
  }
}

TEST_F(CsvTest, NonFiniteValue) {
  for (const std::string bad : {"nan", "NaN", "inf", "-inf", "Infinity", "+inf", "1e999"}) {
    const auto p = write("nf.csv", "a,b\n1,2\n3," + bad + "\n");
    const auto e = parse_error([&] { segcore::io::read_csv(p, {}); });
    expect_parse_error(e, p, 2, 3, "b", "non-finite value '" + bad + "'");
  }
}

TEST_F(CsvTest, NegativeWeight) {
  const auto p = write("nw.csv", "x,w\n1,1\n2,-0.5\n");
  TableOptions o;
  o.weight_column = "w";
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, o); }), p, 2, 3, "w",
                     "negative weight '-0.5'");
}

TEST_F(CsvTest, NonNumericWeight) {
  const auto p = write("nnw.csv", "x,w\n1,heavy\n");
  TableOptions o;
  o.weight_column = "w";
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, o); }), p, 1, 2, "w",
                     "not a number: 'heavy'");
}

TEST_F(CsvTest, AllWeightsZero) {
  const auto p = write("zw.csv", "x,w\n1,0\n2,0.0\n3,-0\n");
  TableOptions o;
  o.weight_column = "w";
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, o); }), p, 0, 0, "w",
                     "all weights are zero");
}

TEST_F(CsvTest, UnterminatedQuotedField) {
  const auto p = write("uq.csv", "a,b\n1,2\n3,\"4\n5,6\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, {}); }), p, 2, 3, "b",
                     "unterminated quoted field");
}

TEST_F(CsvTest, StrayQuotes) {
  const auto p = write("sq.csv", "a,b\n1,2\n3,4\"5\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, {}); }), p, 2, 3, "b",
                     "quote character inside an unquoted field");
  const auto q = write("sq2.csv", "a,b\n\"1\"x,2\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(q, {}); }), q, 1, 2, "a",
                     "after a closing quote");
}

TEST_F(CsvTest, NoNumericFeatureColumns) {
  const auto p = write("nofeat.csv", "name,city,customer_id\nbob,paris,7\n");
  expect_parse_error(parse_error([&] { segcore::io::read_csv(p, {}); }), p, 0, 0, "",
                     "no numeric feature columns");
}

// ================================ .npy =========================================================

using NpyTest = IoTest;

// A hand-made .npy file: version, header dict, raw data bytes.
std::string npy_bytes(int major, const std::string& dict, const std::string& data) {
  std::string h = dict;
  const std::size_t pre = major == 1 ? 10 : 12;
  while ((pre + h.size() + 1) % 64 != 0) h.push_back(' ');
  h.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  const std::size_t len = h.size();
  out.push_back(static_cast<char>(len & 0xFF));
  out.push_back(static_cast<char>((len >> 8) & 0xFF));
  if (major != 1) {
    out.push_back(0);
    out.push_back(0);
  }
  return out + h + data;
}

template <typename T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

TEST_F(NpyTest, RoundTripFloat64) {
  const std::vector<double> v = {0.1, -2.5, 1e-300, 123456789.123, -0.0, 7, 8, 9, 1e300};
  const auto p = path("f64.npy");
  segcore::io::write_npy(p, v.data(), 3, 3, true);
  const Dataset ds = segcore::io::read_npy(p, {});
  EXPECT_EQ(ds.rows, 3u);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"x0", "x1", "x2"}));
  EXPECT_EQ(ds.values, v);
  EXPECT_FALSE(ds.has_ids);
  EXPECT_TRUE(ds.weights.empty());
  EXPECT_EQ(dir_entries(dir_), (std::vector<std::string>{"f64.npy"}));  // no temp left behind
}

TEST_F(NpyTest, RoundTripFloat32) {
  const std::vector<double> v = {0.5, -1.25, 3, 0.1, 1e10, -7};
  const auto p = path("f32.npy");
  segcore::io::write_npy(p, v.data(), 2, 3, false);
  EXPECT_EQ((fs::file_size(p) - 6 * 4) % 64, 0u);  // float32 data after an aligned header
  const Dataset ds = segcore::io::read_npy(p, {});
  ASSERT_EQ(ds.values.size(), v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(ds.values[i], static_cast<double>(static_cast<float>(v[i])));
  }
}

TEST_F(NpyTest, WrittenHeaderIsAlignedVersion1) {
  const std::vector<double> v(12, 1.0);
  const auto p = path("h.npy");
  segcore::io::write_npy(p, v.data(), 4, 3, true);
  const std::string b = slurp(p);
  ASSERT_GE(b.size(), 10u);
  EXPECT_EQ(b.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(b[6], 1);
  EXPECT_EQ(b[7], 0);
  const std::size_t len = static_cast<unsigned char>(b[8]) |
                          (static_cast<std::size_t>(static_cast<unsigned char>(b[9])) << 8);
  EXPECT_EQ((10 + len) % 64, 0u);
  EXPECT_EQ(b.size(), 10 + len + 12 * 8);
  const std::string header = b.substr(10, len);
  EXPECT_CONTAINS(header, "'descr': '<f8'");
  EXPECT_CONTAINS(header, "'fortran_order': False");
  EXPECT_CONTAINS(header, "'shape': (4, 3)");
  EXPECT_EQ(header.back(), '\n');
}

TEST_F(NpyTest, FortranOrder) {
  // [[1, 2, 3], [4, 5, 6]] stored column by column.
  const std::vector<double> colmajor = {1, 4, 2, 5, 3, 6};
  const auto p = write("f.npy", npy_bytes(1,
                                          "{'descr': '<f8', 'fortran_order': True, "
                                          "'shape': (2, 3), }",
                                          raw_bytes(colmajor)));
  const Dataset ds = segcore::io::read_npy(p, {});
  EXPECT_EQ(ds.rows, 2u);
  EXPECT_EQ(ds.cols(), 3u);
  EXPECT_EQ(ds.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(segcore::io::read_npy(p, cols({"x2", "x0"})).values, (std::vector<double>{3, 1, 6, 4}));

  const std::vector<float> colmajor32 = {1, 4, 2, 5, 3, 6};
  const auto q = write("f32.npy", npy_bytes(1,
                                            "{'fortran_order': True, 'shape': (2, 3), "
                                            "'descr': '<f4'}",
                                            raw_bytes(colmajor32)));
  EXPECT_EQ(segcore::io::read_npy(q, {}).values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST_F(NpyTest, Versions2And3) {
  const std::vector<double> v = {1, 2, 3, 4};
  for (int major : {2, 3}) {
    const auto p = write("v.npy", npy_bytes(major,
                                            "{\"descr\": \"<f8\", \"fortran_order\": False, "
                                            "\"shape\": (2, 2)}",
                                            raw_bytes(v)));
    EXPECT_EQ(segcore::io::read_npy(p, {}).values, v);
  }
}

TEST_F(NpyTest, OneDimensionalIsOneColumn) {
  const std::vector<double> v = {1, 2, 3};
  const auto p = write("1d.npy", npy_bytes(1,
                                           "{'descr': '<f8', 'fortran_order': False, "
                                           "'shape': (3,), }",
                                           raw_bytes(v)));
  const Dataset ds = segcore::io::read_npy(p, {});
  EXPECT_EQ(ds.rows, 3u);
  EXPECT_EQ(ds.cols(), 1u);
  EXPECT_EQ(ds.values, v);
}

TEST_F(NpyTest, ColumnSelection) {
  const std::vector<double> v = {1, 2, 3, 4, 5, 6};
  const auto p = path("sel.npy");
  segcore::io::write_npy(p, v.data(), 2, 3, true);
  const Dataset ds = segcore::io::read_npy(p, cols({"x2", "x1"}));
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"x2", "x1"}));
  EXPECT_EQ(ds.values, (std::vector<double>{3, 2, 6, 5}));
  for (const std::string bad : {"x3", "x01", "y0", "x", "x-1"}) {
    expect_parse_error(parse_error([&] { segcore::io::read_npy(p, cols({bad})); }), p, 0, 0, bad,
                       "available columns: x0 .. x2");
  }
  EXPECT_THROW(segcore::io::read_npy(p, cols({"x1", "x1"})), InvalidArgument);
}

TEST_F(NpyTest, IdAndWeightColumnsNotSupported) {
  const double v[1] = {1};
  const auto p = path("iw.npy");
  segcore::io::write_npy(p, v, 1, 1, true);
  TableOptions o;
  o.id_column = "x0";
  EXPECT_CONTAINS(error_message<InvalidArgument>([&] { segcore::io::read_npy(p, o); }),
                  "not supported for .npy input");
  TableOptions w;
  w.weight_column = "x0";
  EXPECT_CONTAINS(error_message<InvalidArgument>([&] { segcore::io::read_npy(p, w); }),
                  "not supported for .npy input");
}

TEST_F(NpyTest, MissingFileIsIoError) {
  const auto p = path("missing.npy");
  const auto m = error_message<IoError>([&] { segcore::io::read_npy(p, {}); });
  EXPECT_CONTAINS(m, p);
  EXPECT_CONTAINS(m, "cannot open");
}

TEST_F(NpyTest, TruncatedFiles) {
  const std::vector<double> v = {1, 2, 3, 4, 5, 6};
  const std::string good =
      npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", raw_bytes(v));
  for (const std::size_t keep :
       {good.size() - 1, std::size_t{64}, std::size_t{40}, std::size_t{9}}) {
    const auto p = write("trunc.npy", good.substr(0, keep));
    expect_parse_error(parse_error([&] { segcore::io::read_npy(p, {}); }), p, 0, 0, "",
                       "truncated");
  }
  const auto e = write("empty.npy", "");
  expect_parse_error(parse_error([&] { segcore::io::read_npy(e, {}); }), e, 0, 0, "",
                     "file is empty");
}

TEST_F(NpyTest, BadMagicAndVersion) {
  const auto p = write("bad.npy", "a,b\n1,2\n");
  expect_parse_error(parse_error([&] { segcore::io::read_npy(p, {}); }), p, 0, 0, "",
                     "not a .npy file");
  std::string v9 = npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }",
                             std::string(8, '\0'));
  v9[6] = 9;
  const auto q = write("v9.npy", v9);
  expect_parse_error(parse_error([&] { segcore::io::read_npy(q, {}); }), q, 0, 0, "",
                     "unsupported .npy format version 9.0");
}

TEST_F(NpyTest, UnsupportedDtypeIsNamed) {
  for (const std::string dt : {"<i8", ">f8", "|u1", "<f2", "<c16"}) {
    const auto p = write(
        "dt.npy", npy_bytes(1, "{'descr': '" + dt + "', 'fortran_order': False, 'shape': (1, 1), }",
                            std::string(16, '\0')));
    expect_parse_error(parse_error([&] { segcore::io::read_npy(p, {}); }), p, 0, 0, "",
                       "unsupported dtype '" + dt + "'");
  }
  const auto s = write("st.npy", npy_bytes(1,
                                           "{'descr': [('a', '<f8')], 'fortran_order': False, "
                                           "'shape': (1,), }",
                                           std::string(8, '\0')));
  expect_parse_error(parse_error([&] { segcore::io::read_npy(s, {}); }), s, 0, 0, "", "structured");
}

TEST_F(NpyTest, ShapeErrors) {
  const auto p3 = write("3d.npy", npy_bytes(1,
                                            "{'descr': '<f8', 'fortran_order': False, "
                                            "'shape': (1, 1, 1), }",
                                            std::string(8, '\0')));
  expect_parse_error(parse_error([&] { segcore::io::read_npy(p3, {}); }), p3, 0, 0, "",
                     "expected a 2-D array, found shape (1, 1, 1)");
  const auto p0 = write("0.npy", npy_bytes(1,
                                           "{'descr': '<f8', 'fortran_order': False, "
                                           "'shape': (0, 4), }",
                                           ""));
  expect_parse_error(parse_error([&] { segcore::io::read_npy(p0, {}); }), p0, 0, 0, "",
                     "no data rows");
  const auto pm =
      write("m.npy", npy_bytes(1, "{'descr': '<f8', 'shape': (1, 1), }", std::string(8, '\0')));
  expect_parse_error(parse_error([&] { segcore::io::read_npy(pm, {}); }), pm, 0, 0, "",
                     "'fortran_order' is missing");
}

TEST_F(NpyTest, NonFiniteValue) {
  const std::vector<double> v = {1, 2, 3, std::nan(""), 5, 6};
  const auto p = path("nan.npy");
  segcore::io::write_npy(p, v.data(), 3, 2, true);
  expect_parse_error(parse_error([&] { segcore::io::read_npy(p, {}); }), p, 2, 0, "x1",
                     "non-finite value 'nan'");
  // Not selected: no error.
  EXPECT_EQ(segcore::io::read_npy(p, cols({"x0"})).values, (std::vector<double>{1, 3, 5}));
  const std::vector<float> f = {1, -std::numeric_limits<float>::infinity()};
  const auto q = write("inf.npy", npy_bytes(1,
                                            "{'descr': '<f4', 'fortran_order': False, "
                                            "'shape': (1, 2), }",
                                            raw_bytes(f)));
  expect_parse_error(parse_error([&] { segcore::io::read_npy(q, {}); }), q, 1, 0, "x1",
                     "non-finite value '-inf'");
}

// ================================ output =======================================================

using OutputTest = IoTest;

TEST(FormatDouble, ShortestRoundTrip) {
  using segcore::io::format_double;
  EXPECT_EQ(format_double(0.1), "0.1");
  EXPECT_EQ(format_double(1.5), "1.5");
  EXPECT_EQ(format_double(1e-300), "1e-300");
  EXPECT_EQ(format_double(-0.0), "-0");
  EXPECT_EQ(format_double(0.0), "0");
  EXPECT_EQ(format_double(123456789.123), "123456789.123");
  EXPECT_EQ(format_double(1e-7), "1e-07");
  EXPECT_EQ(format_double(3), "3");
  const double values[] = {0.1,
                           1e-300,
                           -0.0,
                           123456789.123,
                           1.0 / 3.0,
                           2.0 / 3.0,
                           6.02214076e23,
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::lowest(),
                           std::numeric_limits<double>::min(),
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::epsilon(),
                           0.30000000000000004};
  for (const double v : values) {
    const std::string s = format_double(v);
    const double back = std::strtod(s.c_str(), nullptr);
    EXPECT_EQ(std::memcmp(&back, &v, sizeof v), 0) << s;
  }
  EXPECT_TRUE(std::signbit(std::strtod(format_double(-0.0).c_str(), nullptr)));
}

TEST(AppendCsvField, QuotesOnlyWhenNeeded) {
  using segcore::io::append_csv_field;
  std::string out;
  append_csv_field(out, "plain text");
  EXPECT_EQ(out, "plain text");
  const std::pair<const char*, const char*> cases[] = {
      {"a,b", "\"a,b\""},
      {"say \"hi\"", "\"say \"\"hi\"\"\""},
      {"two\nlines", "\"two\nlines\""},
      {"cr\r", "\"cr\r\""},
      {"", ""},
  };
  for (const auto& [in, want] : cases) {
    std::string s = "x,";
    append_csv_field(s, in);
    EXPECT_EQ(s, std::string("x,") + want);
  }
}

TEST_F(OutputTest, AppendCsvFieldRoundTripsThroughTheReader) {
  const std::vector<std::string> fields = {"plain", "a,b", "q\"q", "n\nl", "c\r\nr", ""};
  std::string text = "h0,h1,h2,h3,h4,h5\n";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) text += ',';
    segcore::io::append_csv_field(text, fields[i]);
  }
  text += '\n';
  const auto p = write("rt.csv", text);
  std::vector<std::string> header, got;
  segcore::io::for_each_csv_record(
      p, header, [&](const std::vector<std::string_view>& f, std::uint64_t, std::uint64_t) {
        got.assign(f.begin(), f.end());
      });
  EXPECT_EQ(got, fields);
}

TEST_F(OutputTest, AtomicFileCommit) {
  const auto p = path("out.txt");
  {
    segcore::io::AtomicFile f(p);
    EXPECT_EQ(f.path(), p);
    f.stream() << "hello\n";
    EXPECT_FALSE(fs::exists(p));  // not visible before commit
    const auto names = dir_entries(dir_);
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names[0].rfind(".out.txt.tmp.", 0), 0u) << names[0];
    f.commit();
  }
  EXPECT_EQ(slurp(p), "hello\n");
  EXPECT_EQ(dir_entries(dir_), (std::vector<std::string>{"out.txt"}));
}

TEST_F(OutputTest, AtomicFileWithoutCommitLeavesNothing) {
  const auto p = path("out.txt");
  {
    segcore::io::AtomicFile f(p);
    f.stream() << "partial";
  }
  EXPECT_FALSE(fs::exists(p));
  EXPECT_TRUE(dir_entries(dir_).empty());
  // An existing file is left as it was.
  write("out.txt", "old");
  {
    segcore::io::AtomicFile f(p);
    f.stream() << "new";
  }
  EXPECT_EQ(slurp(p), "old");
  EXPECT_EQ(dir_entries(dir_), (std::vector<std::string>{"out.txt"}));
}

TEST_F(OutputTest, AtomicFileReplacesOnCommit) {
  const auto p = write("out.txt", "old");
  segcore::io::AtomicFile f(p);
  f.stream() << "new";
  f.commit();
  EXPECT_EQ(slurp(p), "new");
}

TEST_F(OutputTest, AtomicFileInMissingDirectoryIsIoError) {
  const auto p = path("no/such/dir/out.txt");
  const auto m = error_message<IoError>([&] { segcore::io::AtomicFile f(p); });
  EXPECT_CONTAINS(m, p);
}

TEST_F(OutputTest, AtomicFileWriteErrorIsIoError) {
  // A failed write (simulated: the stream's badbit) must be reported by commit(), with no rename.
  segcore::io::AtomicFile f(path("x.txt"));
  f.stream() << "data";
  f.stream().setstate(std::ios::badbit);
  EXPECT_THROW(f.commit(), IoError);
  EXPECT_FALSE(fs::exists(path("x.txt")));
}

TEST_F(OutputTest, OutputSetCommit) {
  const fs::path out = dir_ / "results" / "run1";
  {
    segcore::io::OutputSet set(out.string());
    EXPECT_EQ(set.dir(), out.string());
    EXPECT_FALSE(fs::exists(out));  // the constructor creates nothing
    set.add("labels.csv") << "a\n1\n";
    set.add("model.json") << "{}";
    EXPECT_TRUE(fs::is_directory(out));
    EXPECT_FALSE(fs::exists(out / "labels.csv"));
    EXPECT_THROW(set.add("labels.csv"), InvalidArgument);
    set.commit();
  }
  EXPECT_EQ(dir_entries(out), (std::vector<std::string>{"labels.csv", "model.json"}));
  EXPECT_EQ(slurp((out / "labels.csv").string()), "a\n1\n");
  EXPECT_EQ(slurp((out / "model.json").string()), "{}");
}

TEST_F(OutputTest, OutputSetRollbackRemovesTheDirectoryItCreated) {
  const fs::path out = dir_ / "fresh";
  {
    segcore::io::OutputSet set(out.string());
    set.add("a.txt") << "1";
    set.add("b.txt") << "2";
    EXPECT_TRUE(fs::is_directory(out));
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(dir_entries(dir_).empty());
}

TEST_F(OutputTest, OutputSetRollbackKeepsAnExistingDirectory) {
  const fs::path out = dir_ / "existing";
  fs::create_directories(out);
  const auto keep = write("existing/a.txt", "old");
  {
    segcore::io::OutputSet set(out.string());
    set.add("a.txt") << "new";
    set.add("b.txt") << "new";
  }
  EXPECT_TRUE(fs::is_directory(out));
  EXPECT_EQ(dir_entries(out), (std::vector<std::string>{"a.txt"}));
  EXPECT_EQ(slurp(keep), "old");
}

TEST_F(OutputTest, OutputSetWithoutFilesCreatesNothingUnlessCommitted) {
  const fs::path out = dir_ / "empty";
  { segcore::io::OutputSet set(out.string()); }
  EXPECT_FALSE(fs::exists(out));
  {
    segcore::io::OutputSet set(out.string());
    set.commit();
  }
  EXPECT_TRUE(fs::is_directory(out));
}

TEST_F(OutputTest, OutputSetDirectoryIsARegularFile) {
  const auto p = write("plainfile", "x");
  segcore::io::OutputSet set(p);
  const auto m = error_message<IoError>([&] { set.add("a.txt"); });
  EXPECT_CONTAINS(m, p);
  EXPECT_CONTAINS(m, "not a directory");
  EXPECT_EQ(slurp(p), "x");
}

}  // namespace
