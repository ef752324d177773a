// Synthetic customer bases and transaction logs. Every customer draws from its own random stream,
// keyed by (seed, customer index), so a chunk of customers can be generated anywhere, in any
// order, on any number of threads, and the file is still the same bytes.
#include "segcore/generate.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string_view>
#include <thread>

#include "parallel.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"

namespace segcore {
namespace {

using detail::mix64;

constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr int kLastDay = kGenerateWindowDays - 1;
constexpr std::int64_t kReturnScale = 10000;  // return_rate is kept in 1/10000
constexpr std::uint64_t kFirstInvoice = 536365;
constexpr double kGuestInvoiceShare = 0.005;
// Salts that split one customer's key into independent streams: the customer's features must not
// depend on how many draws its transactions take, and cancellations are decided by counter so
// that the numbering pass can count them without drawing the invoices.
constexpr std::uint64_t kSeedSalt = 0x5e6c0fe5e6c0fe01ULL;
constexpr std::uint64_t kTransactionSalt = 0x7a11ab1e7a11ab1eULL;
constexpr std::uint64_t kCancelSalt = 0xcace11edcace11edULL;
constexpr std::uint64_t kCatalogSalt = 0xca7a1065ca7a1065ULL;
constexpr std::uint64_t kVariantKey = 0x0a1e5e6e0a1e5e6eULL;

// Rows per chunk: large enough to amortise a task, small enough that a wave of chunks in flight
// costs a few MiB. Fixed, so that nothing but the options decides the output.
constexpr std::size_t kCustomerChunk = std::size_t{1} << 15;
constexpr std::size_t kTransactionChunk = std::size_t{1} << 11;

// ---- random draws ---------------------------------------------------------------------------

// log Gamma(x) for x >= 1 without the global signgam that std::lgamma may write (a data race
// between threads); the Stirling series numpy uses for its Poisson sampler.
double log_gamma(double x) {
  static constexpr double a[10] = {
      8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04, -5.952380952380952e-04,
      8.417508417508418e-04, -1.917526917526918e-03, 6.410256410256410e-03, -2.955065359477124e-02,
      1.796443723688307e-01, -1.39243221690590e+00};
  if (x == 1.0 || x == 2.0) return 0.0;
  const int n = x < 7.0 ? static_cast<int>(7 - x) : 0;
  double x0 = x + n;
  const double x2 = 1.0 / (x0 * x0);
  double gl0 = a[9];
  for (int k = 8; k >= 0; --k) gl0 = gl0 * x2 + a[k];
  double gl = gl0 / x0 + 0.5 * std::log(kTwoPi) + (x0 - 0.5) * std::log(x0) - x0;
  for (int k = 1; k <= n; ++k) {
    gl -= std::log(x0 - 1.0);
    x0 -= 1.0;
  }
  return gl;
}

// The draws of one customer's stream. Samplers are the textbook ones (Box-Muller, Marsaglia-Tsang
// gamma, Hormann's PTRS Poisson); what matters here is that each is a fixed function of the
// stream, not that it matches another library's numbers.
class Draws {
 public:
  explicit Draws(std::uint64_t key) : rng_(key) {}

  double uniform() { return rng_.uniform(); }
  // In (0, 1): safe under log().
  double open_uniform() { return (static_cast<double>(rng_.next() >> 11) + 0.5) * 0x1.0p-53; }
  // Integer in [0, n).
  std::uint64_t below(std::uint64_t n) {
    return std::min<std::uint64_t>(static_cast<std::uint64_t>(uniform() * static_cast<double>(n)),
                                   n - 1);
  }

  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(open_uniform()));
    const double t = kTwoPi * uniform();
    spare_ = r * std::sin(t);
    has_spare_ = true;
    return r * std::cos(t);
  }

  // Gamma(shape, scale 1).
  double gamma(double shape) {
    if (shape < 1.0) return gamma(shape + 1.0) * std::pow(open_uniform(), 1.0 / shape);
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      const double x = normal();
      double v = 1.0 + c * x;
      if (v <= 0.0) continue;
      v = v * v * v;
      const double u = open_uniform();
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
      if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }

  double gamma_with_mean(double shape, double mean) { return gamma(shape) * (mean / shape); }

  double beta(double a, double b) {
    const double x = gamma(a);
    const double y = gamma(b);
    return x / (x + y);
  }

  std::uint64_t poisson(double lambda) {
    if (lambda <= 0.0) return 0;
    if (lambda < 10.0) {
      // Multiplication method: a handful of uniforms at these rates.
      const double limit = std::exp(-lambda);
      std::uint64_t k = 0;
      double p = uniform();
      while (p > limit) {
        ++k;
        p *= uniform();
      }
      return k;
    }
    const double slam = std::sqrt(lambda);
    const double loglam = std::log(lambda);
    const double b = 0.931 + 2.53 * slam;
    const double a = -0.059 + 0.02483 * b;
    const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    const double vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const double u = uniform() - 0.5;
      const double v = uniform();
      const double us = 0.5 - std::fabs(u);
      const double k = std::floor((2 * a / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return static_cast<std::uint64_t>(k);
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <=
          -lambda + k * loglam - log_gamma(k + 1)) {
        return static_cast<std::uint64_t>(k);
      }
    }
  }

 private:
  detail::Rng rng_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// ---- the customers --------------------------------------------------------------------------

// The drawn features, in the integer units they are written in (days, orders, cents, 1/10000).
struct Customer {
  int segment = 0;
  std::int64_t recency = 0;
  std::int64_t frequency = 1;
  std::int64_t tenure = 0;
  std::int64_t order_value_cents = 0;
  std::int64_t monetary_cents = 0;
  std::int64_t return_rate = 0;  // in 1/kReturnScale
};

class Population {
 public:
  explicit Population(const GenerateOptions& options)
      : segments_(synthetic_segments(options.segments)), key_(mix64(options.seed ^ kSeedSalt)) {
    double sum = 0;
    for (const auto& s : segments_) {
      sum += s.share;
      cumulative_.push_back(sum);
    }
    cumulative_.back() = 2.0;  // a uniform draw always lands in some segment
  }

  // The key of customer i's streams, mixed from (seed, i) as detail::counter_uniform mixes its
  // (key, counter): any customer's stream can be started without the ones before it.
  std::uint64_t customer_key(std::uint64_t i) const { return mix64(key_ ^ mix64(i)); }

  Customer draw(std::uint64_t i) const {
    Draws g(customer_key(i));
    Customer c;
    const double u = g.uniform();
    while (u >= cumulative_[static_cast<std::size_t>(c.segment)]) ++c.segment;
    const SyntheticSegment& s = segments_[static_cast<std::size_t>(c.segment)];

    // Truncated by redrawing so that old segments do not pile up on the window's first day; the
    // cap after 64 tries only guards against a pathological profile.
    double recency = g.gamma_with_mean(s.recency_shape, s.recency_mean);
    for (int tries = 0; recency >= kGenerateWindowDays && tries < 64; ++tries) {
      recency = g.gamma_with_mean(s.recency_shape, s.recency_mean);
    }
    c.recency = std::min<std::int64_t>(static_cast<std::int64_t>(recency), kLastDay);

    const double gap = std::round(g.gamma_with_mean(s.tenure_shape, s.tenure_mean));
    const double rate = g.gamma_with_mean(s.order_dispersion, s.extra_orders) *
                        (0.5 + 0.5 * gap / std::max(s.tenure_mean, 1e-9));
    c.frequency = 1 + static_cast<std::int64_t>(g.poisson(rate));
    c.tenure = c.frequency == 1
                   ? c.recency
                   : std::min<std::int64_t>(c.recency + static_cast<std::int64_t>(gap), kLastDay);

    const double value =
        std::exp(std::log(s.order_value_median) + s.order_value_sigma * g.normal());
    c.order_value_cents = std::max<std::int64_t>(std::llround(value * 100.0), 100);
    c.return_rate = std::min<std::int64_t>(
        std::llround(g.beta(s.return_alpha, s.return_beta) * kReturnScale), kReturnScale - 1);
    c.monetary_cents =
        std::llround(static_cast<double>(c.frequency) * static_cast<double>(c.order_value_cents) *
                     (1.0 - static_cast<double>(c.return_rate) / kReturnScale));
    return c;
  }

 private:
  std::vector<SyntheticSegment> segments_;
  std::vector<double> cumulative_;
  std::uint64_t key_;
};

// ---- text -----------------------------------------------------------------------------------

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_padded(std::string& out, std::uint64_t v, int width) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  const int len = static_cast<int>(r.ptr - buf);
  if (len < width) out.append(static_cast<std::size_t>(width - len), '0');
  out.append(buf, r.ptr);
}

// `scaled` / 10^decimals written the shortest way ("12.3", "12", "0.05"): the text reads back
// to the same double as scaled / 10^decimals, which the .npy file holds.
void append_decimal(std::string& out, std::int64_t scaled, int decimals) {
  if (scaled < 0) {
    out.push_back('-');
    scaled = -scaled;
  }
  std::int64_t unit = 1;
  for (int i = 0; i < decimals; ++i) unit *= 10;
  append_int(out, scaled / unit);
  std::int64_t frac = scaled % unit;
  if (frac == 0) return;
  int digits = decimals;
  while (frac % 10 == 0) {
    frac /= 10;
    --digits;
  }
  out.push_back('.');
  append_padded(out, static_cast<std::uint64_t>(frac), digits);
}

int decimal_digits(std::uint64_t v) {
  int d = 1;
  while (v >= 10) {
    v /= 10;
    ++d;
  }
  return d;
}

// ---- chunked, ordered output ----------------------------------------------------------------

// Joins a thread on every way out of a scope (std::thread's destructor would terminate).
struct ThreadJoiner {
  std::thread& thread;
  ~ThreadJoiner() {
    if (thread.joinable()) thread.join();
  }
};

// Builds the chunks' bytes in parallel, a wave of chunks at a time, and writes them in chunk
// order, so the bytes do not depend on the thread count. A writer thread drains one wave while
// the next is built; memory is two waves of chunks, whatever N.
void write_chunks_in_order(std::size_t chunks, int threads, std::ostream& out,
                           const std::function<void(std::size_t, std::string&)>& build) {
  const std::size_t wave = static_cast<std::size_t>(std::max(threads, 1)) * 2;
  std::vector<std::string> building(wave), writing(wave);
  std::thread writer;
  ThreadJoiner joiner{writer};
  for (std::size_t first = 0; first < chunks; first += wave) {
    const std::size_t m = std::min(wave, chunks - first);
    detail::parallel_for(m, threads, [&](std::size_t t) {
      building[t].clear();
      build(first + t, building[t]);
    });
    if (writer.joinable()) writer.join();
    if (!out) return;  // the caller's commit reports the write error
    building.swap(writing);
    writer = std::thread([&out, &writing, m] {
      for (std::size_t t = 0; t < m; ++t) {
        out.write(writing[t].data(), static_cast<std::streamsize>(writing[t].size()));
      }
    });
  }
}

std::size_t chunk_count(std::uint64_t n, std::size_t rows) {
  return static_cast<std::size_t>((n + rows - 1) / rows);
}

// ---- dates ----------------------------------------------------------------------------------

// Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard Hinnant's algorithms).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

CivilDate civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

// YYYY-MM-DD (a real calendar date, years 1000-9999) to days since 1970-01-01.
std::int64_t parse_end_date(const std::string& text) {
  auto bad = [&text] {
    return InvalidArgument("end date '" + text + "' is not a date of the form YYYY-MM-DD");
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') throw bad();
  auto number = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') throw bad();
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  const int y = number(0, 4), m = number(5, 2), d = number(8, 2);
  if (y < 1000 || m < 1 || m > 12 || d < 1) throw bad();
  const std::int64_t days = days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  const CivilDate back = civil_from_days(days);
  if (back.month != static_cast<unsigned>(m) || back.day != static_cast<unsigned>(d)) throw bad();
  return days;
}

// "m/d/yy H:MM", the UCI Online Retail form.
void append_invoice_date(std::string& out, const CivilDate& date, int minute_of_day) {
  append_uint(out, date.month);
  out.push_back('/');
  append_uint(out, date.day);
  out.push_back('/');
  append_padded(out, static_cast<std::uint64_t>(((date.year % 100) + 100) % 100), 2);
  out.push_back(' ');
  append_uint(out, static_cast<std::uint64_t>(minute_of_day / 60));
  out.push_back(':');
  append_padded(out, static_cast<std::uint64_t>(minute_of_day % 60), 2);
}

// ---- the transaction log --------------------------------------------------------------------

struct Product {
  std::string code;         // StockCode
  std::string description;  // already quoted for CSV where it needs to be
  std::int64_t price_cents;
};

// A gift-shop catalogue in the style of the UCI data. A few descriptions hold a comma or a
// double quote, so that readers of the log meet RFC 4180 quoting.
std::vector<Product> make_catalog(std::uint64_t seed) {
  static constexpr std::array<const char*, 14> kColours = {
      "WHITE", "RED",  "PINK",   "BLUE", "GREEN",   "IVORY", "CREAM",
      "BLACK", "GOLD", "SILVER", "PINK", "VINTAGE", "RETRO", "ASSORTED COLOUR"};
  static constexpr std::array<const char*, 14> kMotifs = {
      "HEART",  "SPOTTY",   "PAISLEY",    "REGENCY", "CHRISTMAS", "BIRD", "FLORAL",
      "STRIPE", "POLKADOT", "UNION JACK", "ROSE",    "LOVE",      "OWL",  "DOILY"};
  static constexpr std::array<const char*, 20> kItems = {
      "T-LIGHT HOLDER",   "LANTERN",       "CAKE STAND",  "TEA CUP AND SAUCER",
      "LUNCH BAG",        "JUMBO BAG",     "CHALKBOARD",  "COAT HANGER",
      "HOT WATER BOTTLE", "PHOTO FRAME",   "BUNTING",     "DOORMAT",
      "NAPKINS",          "TISSUES",       "MUG",         "PLATE",
      "CANDLE",           "CUSHION COVER", "ALARM CLOCK", "STORAGE TIN"};
  constexpr std::size_t kProducts = 3000;
  Draws g(mix64(seed ^ kCatalogSalt));
  std::vector<Product> catalog(kProducts);
  for (std::size_t p = 0; p < kProducts; ++p) {
    Product& product = catalog[p];
    product.code = std::to_string(10002 + 29 * p);
    if (g.uniform() < 0.2) product.code.push_back(static_cast<char>('A' + g.below(6)));
    const std::string colour = kColours[g.below(kColours.size())];
    const std::string motif = kMotifs[g.below(kMotifs.size())];
    const std::string item = kItems[g.below(kItems.size())];
    const double kind = g.uniform();
    std::string text;
    if (kind < 0.06) {
      text = item + ", " + colour + " " + motif;
    } else if (kind < 0.08) {
      text = colour + " " + motif + " FRAME " + std::to_string(4 + g.below(8)) + "\" SINGLE";
    } else if (kind < 0.20) {
      text = "SET OF " + std::to_string(2 + g.below(5)) + " " + motif + " " + item;
    } else {
      text = colour + " " + motif + " " + item;
    }
    io::append_csv_field(product.description, text);
    const double price = std::exp(std::log(2.1) + 0.8 * g.normal());
    product.price_cents = std::max<std::int64_t>(std::llround(price * 100.0), 10);
  }
  return catalog;
}

struct Country {
  const char* name;
  double cumulative;
};

// Roughly the UCI mix: mostly the United Kingdom.
constexpr std::array<Country, 12> kCountries = {{{"United Kingdom", 0.89},
                                                 {"Germany", 0.915},
                                                 {"France", 0.937},
                                                 {"EIRE", 0.955},
                                                 {"Spain", 0.963},
                                                 {"Netherlands", 0.971},
                                                 {"Belgium", 0.978},
                                                 {"Switzerland", 0.984},
                                                 {"Portugal", 0.989},
                                                 {"Australia", 0.993},
                                                 {"Channel Islands", 0.997},
                                                 {"Norway", 2.0}}};

// Per-task scratch of TransactionWriter::append().
struct TransactionScratch {
  std::vector<std::int64_t> offsets;
  struct Line {
    const Product* product;
    std::int64_t quantity;
  } lines[5] = {};
};

class TransactionWriter {
 public:
  TransactionWriter(const GenerateOptions& options, const Population& population)
      : population_(population),
        catalog_(make_catalog(options.seed)),
        end_day_(parse_end_date(options.end_date)),
        id_width_(decimal_digits(options.customers)) {}

  // Invoice numbers customer i uses: one per order and one per cancellation.
  std::uint64_t invoices_of(std::uint64_t i) const {
    const Customer c = population_.draw(i);
    return static_cast<std::uint64_t>(c.frequency) + cancellations(i, c);
  }

  // Appends customer i's rows, numbering its invoices from `*invoice`; returns the row count.
  std::uint64_t append(std::uint64_t i, std::uint64_t* invoice, TransactionScratch& scratch,
                       std::string& out) const {
    const Customer c = population_.draw(i);
    const std::uint64_t key = population_.customer_key(i);
    Draws g(mix64(key ^ kTransactionSalt));
    const std::uint64_t cancel_key = key ^ kCancelSalt;

    std::string customer_id;
    append_padded(customer_id, i + 1, id_width_);
    const double pick = g.uniform();
    std::size_t country = 0;
    while (pick >= kCountries[country].cumulative) ++country;
    const char* country_name = kCountries[country].name;

    // Days before the end date: the first order opens the tenure, the last closes it at the
    // recency, and the others fall between them.
    const auto orders = static_cast<std::size_t>(c.frequency);
    std::vector<std::int64_t>& offsets = scratch.offsets;
    auto& line_of = scratch.lines;
    offsets.assign(orders, c.recency);
    offsets[0] = c.tenure;
    for (std::size_t j = 1; j + 1 < orders; ++j) {
      offsets[j] = c.recency + static_cast<std::int64_t>(
                                   g.below(static_cast<std::uint64_t>(c.tenure - c.recency + 1)));
    }
    std::sort(offsets.begin(), offsets.end(), std::greater<>());

    const double order_value = static_cast<double>(c.order_value_cents);
    const double return_rate = static_cast<double>(c.return_rate) / kReturnScale;
    std::uint64_t rows = 0;
    int previous_minute = -1;
    for (std::size_t j = 0; j < orders; ++j) {
      const CivilDate date = civil_from_days(end_day_ - offsets[j]);
      // Orders on one day keep their order in time too.
      int minute = 8 * 60 + static_cast<int>(g.below(11 * 60));
      if (j > 0 && offsets[j] == offsets[j - 1]) {
        minute = std::min(std::max(minute, previous_minute + 1), 23 * 60 + 59);
      }
      previous_minute = minute;
      const bool guest = g.uniform() < kGuestInvoiceShare;
      const std::string_view id = guest ? std::string_view() : std::string_view(customer_id);

      // The invoice is worth about the customer's average order value, split over its lines.
      const double value = order_value * std::exp(0.35 * g.normal() - 0.06125);
      const std::size_t lines = 1 + static_cast<std::size_t>(g.below(5));
      double weights[5];
      double weight_sum = 0;
      for (std::size_t l = 0; l < lines; ++l) weight_sum += weights[l] = 0.5 + g.uniform();
      for (std::size_t l = 0; l < lines; ++l) {
        // Cubing the uniform makes a few products the best sellers, as in real catalogues.
        const double u = g.uniform();
        const Product& p = catalog_[std::min<std::size_t>(
            static_cast<std::size_t>(u * u * u * static_cast<double>(catalog_.size())),
            catalog_.size() - 1)];
        const std::int64_t quantity = std::max<std::int64_t>(
            1, std::llround(value * weights[l] / weight_sum / static_cast<double>(p.price_cents)));
        line_of[l] = {&p, quantity};
      }
      const std::string number = std::to_string((*invoice)++);
      for (std::size_t l = 0; l < lines; ++l) {
        append_row(out, number, line_of[l].product, line_of[l].quantity, date, minute, id,
                   country_name);
      }
      rows += lines;
      if (detail::counter_uniform(cancel_key, j) < return_rate) {
        const std::string cancelled = "C" + std::to_string((*invoice)++);
        const int later = std::min(minute + 1 + static_cast<int>(g.below(180)), 23 * 60 + 59);
        for (std::size_t l = 0; l < lines; ++l) {
          append_row(out, cancelled, line_of[l].product, -line_of[l].quantity, date, later, id,
                     country_name);
        }
        rows += lines;
      }
    }
    return rows;
  }

 private:
  std::uint64_t cancellations(std::uint64_t i, const Customer& c) const {
    const std::uint64_t cancel_key = population_.customer_key(i) ^ kCancelSalt;
    const double return_rate = static_cast<double>(c.return_rate) / kReturnScale;
    std::uint64_t n = 0;
    for (std::int64_t j = 0; j < c.frequency; ++j) {
      n += detail::counter_uniform(cancel_key, static_cast<std::uint64_t>(j)) < return_rate;
    }
    return n;
  }

  void append_row(std::string& out, std::string_view invoice, const Product* p,
                  std::int64_t quantity, const CivilDate& date, int minute, std::string_view id,
                  const char* country) const {
    out.append(invoice);
    out.push_back(',');
    out.append(p->code);
    out.push_back(',');
    out.append(p->description);
    out.push_back(',');
    append_int(out, quantity);
    out.push_back(',');
    append_invoice_date(out, date, minute);
    out.push_back(',');
    append_decimal(out, p->price_cents, 2);
    out.push_back(',');
    out.append(id);
    out.push_back(',');
    out.append(country);
    out.push_back('\n');
  }

  const Population& population_;
  std::vector<Product> catalog_;
  std::int64_t end_day_;
  int id_width_;
};

std::string join_header(const std::vector<std::string>& columns) {
  std::string text;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (c) text.push_back(',');
    io::append_csv_field(text, columns[c]);
  }
  text.push_back('\n');
  return text;
}

void append_le_double(std::string& out, double v) {
  std::uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  char bytes[8];
  for (int b = 0; b < 8; ++b) bytes[b] = static_cast<char>((bits >> (8 * b)) & 0xFF);
  out.append(bytes, 8);
}

void customer_values(const Customer& c, double* row) {
  row[0] = static_cast<double>(c.recency);
  row[1] = static_cast<double>(c.frequency);
  row[2] = static_cast<double>(c.monetary_cents) / 100.0;
  row[3] = static_cast<double>(c.tenure);
  row[4] = static_cast<double>(c.order_value_cents) / 100.0;
  row[5] = static_cast<double>(c.return_rate) / kReturnScale;
}

bool has_npy_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return ext == ".npy";
}

}  // namespace

// ---- public API -----------------------------------------------------------------------------

std::vector<SyntheticSegment> synthetic_segments(int k) {
  if (k < 1)
    throw InvalidArgument("the number of segments must be at least 1 (got " + std::to_string(k) +
                          ")");
  // name, share, recency shape/mean, extra orders/dispersion, order value median/sigma,
  // return alpha/beta, tenure shape/mean. Loosely shaped on the UCI Online Retail customers
  // (median order ~300, median frequency 2, most customers lapsed).
  static const SyntheticSegment kBase[6] = {
      {"champions", 0.10, 1.0, 10, 16.0, 2.0, 420, 0.65, 1.0, 45, 2.0, 260},
      {"loyal", 0.18, 1.5, 30, 7.0, 2.5, 280, 0.55, 1.0, 30, 2.0, 220},
      {"big_spenders", 0.07, 1.2, 40, 2.5, 1.5, 1600, 0.85, 1.2, 22, 1.5, 160},
      {"new", 0.15, 1.5, 18, 0.5, 1.0, 200, 0.65, 1.0, 28, 1.0, 20},
      {"at_risk", 0.20, 3.0, 140, 3.0, 1.5, 260, 0.65, 1.5, 12, 2.0, 120},
      {"lost", 0.30, 5.0, 250, 0.4, 0.8, 160, 0.75, 1.2, 10, 1.5, 60},
  };
  std::vector<SyntheticSegment> segments;
  for (int j = 0; j < k; ++j) {
    SyntheticSegment s = kBase[j % 6];
    if (j >= 6) {
      // A variant: its scales moved by fixed factors in [0.5, 2] drawn from the segment number,
      // so a given k always describes the same segments.
      auto factor = [j](std::uint64_t p) {
        return std::exp2(
            2.0 * detail::counter_uniform(kVariantKey, 8 * static_cast<std::uint64_t>(j) + p) -
            1.0);
      };
      s.name += "_" + std::to_string(j / 6 + 1);
      s.share *= factor(0) / (j / 6 + 1);
      s.recency_mean = std::min(s.recency_mean * factor(1), 300.0);
      s.extra_orders *= factor(2);
      s.order_value_median *= factor(3);
      s.tenure_mean *= factor(4);
    }
    segments.push_back(s);
  }
  double total = 0;
  for (const auto& s : segments) total += s.share;
  for (auto& s : segments) s.share /= total;
  return segments;
}

std::vector<std::string> customer_columns(bool with_truth) {
  std::vector<std::string> columns = {"customer_id", "recency_days",    "frequency",  "monetary",
                                      "tenure_days", "avg_order_value", "return_rate"};
  if (with_truth) columns.push_back("true_segment");
  return columns;
}

std::vector<std::string> transaction_columns() {
  return {"InvoiceNo",   "StockCode", "Description", "Quantity",
          "InvoiceDate", "UnitPrice", "CustomerID",  "Country"};
}

std::string synthetic_customer_id(std::uint64_t index, std::uint64_t customers) {
  std::string id = "C";
  append_padded(id, index + 1, decimal_digits(customers));
  return id;
}

void validate_generate_options(const GenerateOptions& options) {
  if (options.customers < 1) throw InvalidArgument("the number of customers must be at least 1");
  if (options.segments < 1) {
    throw InvalidArgument("the number of segments must be at least 1 (got " +
                          std::to_string(options.segments) + ")");
  }
  (void)parse_end_date(options.end_date);
  if (options.with_truth && options.transactions) {
    throw InvalidArgument(
        "the true segment column belongs to the customer base, not to a transaction log");
  }
}

std::vector<double> generate_customers(const GenerateOptions& options, std::uint64_t first,
                                       std::size_t count, std::vector<int>* truth) {
  validate_generate_options(options);
  if (first > options.customers || count > options.customers - first) {
    throw InvalidArgument("customers [" + std::to_string(first) + ", " +
                          std::to_string(first + count) + ") are not among the " +
                          std::to_string(options.customers) + " customers");
  }
  const Population population(options);
  constexpr std::size_t d = 6;
  std::vector<double> values(count * d);
  if (truth) truth->assign(count, 0);
  const std::size_t chunks = chunk_count(count, kCustomerChunk);
  detail::parallel_for(chunks, detail::resolve_threads(options.threads), [&](std::size_t ch) {
    const std::size_t end = std::min(count, (ch + 1) * kCustomerChunk);
    for (std::size_t r = ch * kCustomerChunk; r < end; ++r) {
      const Customer c = population.draw(first + r);
      customer_values(c, &values[r * d]);
      if (truth) (*truth)[r] = c.segment;
    }
  });
  return values;
}

std::uint64_t write_customers_csv(const GenerateOptions& options, std::ostream& out) {
  validate_generate_options(options);
  const Population population(options);
  const std::uint64_t n = options.customers;
  const int width = decimal_digits(n);
  out << join_header(customer_columns(options.with_truth));
  write_chunks_in_order(chunk_count(n, kCustomerChunk), detail::resolve_threads(options.threads),
                        out, [&](std::size_t ch, std::string& text) {
                          const std::uint64_t begin = ch * std::uint64_t{kCustomerChunk};
                          const std::uint64_t end = std::min(n, begin + kCustomerChunk);
                          text.reserve((end - begin) * 64);
                          for (std::uint64_t i = begin; i < end; ++i) {
                            const Customer c = population.draw(i);
                            text.push_back('C');
                            append_padded(text, i + 1, width);
                            text.push_back(',');
                            append_int(text, c.recency);
                            text.push_back(',');
                            append_int(text, c.frequency);
                            text.push_back(',');
                            append_decimal(text, c.monetary_cents, 2);
                            text.push_back(',');
                            append_int(text, c.tenure);
                            text.push_back(',');
                            append_decimal(text, c.order_value_cents, 2);
                            text.push_back(',');
                            append_decimal(text, c.return_rate, 4);
                            if (options.with_truth) {
                              text.push_back(',');
                              append_int(text, c.segment);
                            }
                            text.push_back('\n');
                          }
                        });
  return n;
}

std::uint64_t write_customers_npy(const GenerateOptions& options, std::ostream& out) {
  validate_generate_options(options);
  const Population population(options);
  const std::uint64_t n = options.customers;
  const std::size_t d = options.with_truth ? 7 : 6;
  // Version 1.0 header, padded so that the data starts at a multiple of 64 bytes (as numpy and
  // io::write_npy do); written here rather than through io::write_npy so that the matrix never
  // has to be in memory at once.
  std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(n) +
                     ", " + std::to_string(d) + "), }";
  const std::size_t total = (10 + dict.size() + 1 + 63) / 64 * 64;
  const std::size_t header_len = total - 10;
  dict.append(header_len - dict.size() - 1, ' ');
  dict.push_back('\n');
  const char preamble[10] = {'\x93',
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             static_cast<char>(header_len & 0xFF),
                             static_cast<char>((header_len >> 8) & 0xFF)};
  out.write(preamble, sizeof preamble);
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  write_chunks_in_order(chunk_count(n, kCustomerChunk), detail::resolve_threads(options.threads),
                        out, [&](std::size_t ch, std::string& bytes) {
                          const std::uint64_t begin = ch * std::uint64_t{kCustomerChunk};
                          const std::uint64_t end = std::min(n, begin + kCustomerChunk);
                          bytes.reserve((end - begin) * d * 8);
                          double row[6];
                          for (std::uint64_t i = begin; i < end; ++i) {
                            const Customer c = population.draw(i);
                            customer_values(c, row);
                            for (double v : row) append_le_double(bytes, v);
                            if (options.with_truth) {
                              append_le_double(bytes, static_cast<double>(c.segment));
                            }
                          }
                        });
  return n;
}

std::uint64_t write_transactions_csv(const GenerateOptions& options, std::ostream& out) {
  validate_generate_options(options);
  const Population population(options);
  const std::uint64_t n = options.customers;
  const int threads = detail::resolve_threads(options.threads);
  const std::size_t chunks = chunk_count(n, kTransactionChunk);
  const TransactionWriter writer(options, population);

  // First pass: how many invoice numbers each chunk uses, so that every chunk knows where its
  // numbering starts before any of them is written.
  std::vector<std::uint64_t> first_invoice(chunks + 1, 0);
  detail::parallel_for(chunks, threads, [&](std::size_t ch) {
    const std::uint64_t begin = ch * std::uint64_t{kTransactionChunk};
    const std::uint64_t end = std::min(n, begin + kTransactionChunk);
    std::uint64_t used = 0;
    for (std::uint64_t i = begin; i < end; ++i) used += writer.invoices_of(i);
    first_invoice[ch + 1] = used;
  });
  first_invoice[0] = kFirstInvoice;
  for (std::size_t ch = 0; ch < chunks; ++ch) first_invoice[ch + 1] += first_invoice[ch];

  std::vector<std::uint64_t> rows(chunks, 0);
  out << join_header(transaction_columns());
  write_chunks_in_order(chunks, threads, out, [&](std::size_t ch, std::string& text) {
    TransactionScratch scratch;
    const std::uint64_t begin = ch * std::uint64_t{kTransactionChunk};
    const std::uint64_t end = std::min(n, begin + kTransactionChunk);
    std::uint64_t invoice = first_invoice[ch];
    text.reserve((end - begin) * 1024);
    for (std::uint64_t i = begin; i < end; ++i)
      rows[ch] += writer.append(i, &invoice, scratch, text);
  });
  std::uint64_t total = 0;
  for (const std::uint64_t r : rows) total += r;
  return total;
}

GenerateResult generate_file(const GenerateOptions& options, const std::string& path) {
  validate_generate_options(options);
  GenerateResult result;
  result.npy = has_npy_extension(path);
  if (result.npy && options.transactions) {
    throw InvalidArgument("a transaction log is written as CSV only, not as .npy ('" + path + "')");
  }
  io::AtomicFile file(path);
  if (options.transactions) {
    result.rows = write_transactions_csv(options, file.stream());
    result.columns = transaction_columns().size();
  } else if (result.npy) {
    result.rows = write_customers_npy(options, file.stream());
    result.columns = options.with_truth ? 7 : 6;
  } else {
    result.rows = write_customers_csv(options, file.stream());
    result.columns = customer_columns(options.with_truth).size();
  }
  file.commit();
  return result;
}

}  // namespace segcore
