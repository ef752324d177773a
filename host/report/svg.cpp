// Small SVG charts written as text: axes with "nice" ticks (1, 2 or 5 times a power of ten),
// sizes estimated from character counts (no font metrics are available, so widths are
// generous), and nothing that needs a network, a script or an id.
#include "segcore/svg.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "segcore/error.hpp"

namespace segcore::svg {
namespace {

constexpr double kCharWidth = 0.6;  // average advance of a sans-serif glyph, in font sizes
constexpr const char* kText = "#222";
constexpr const char* kMuted = "#555";
constexpr const char* kGrid = "#e6e6e6";

/// A coordinate or length: at most two decimals, no trailing zeros.
std::string num(double v) {
  if (!std::isfinite(v)) v = 0.0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

/// A value for a tooltip.
std::string value_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

double text_width(std::string_view s, double font_size) {
  std::size_t glyphs = 0;
  for (const char c : s) glyphs += (static_cast<unsigned char>(c) & 0xC0) != 0x80;  // UTF-8
  return static_cast<double>(glyphs) * font_size * kCharWidth;
}

/// s cut to at most `max_glyphs` characters (UTF-8 aware), with an ellipsis when cut.
std::string truncate(const std::string& s, std::size_t max_glyphs) {
  std::size_t glyphs = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (glyphs == max_glyphs) return s.substr(0, i) + "\xE2\x80\xA6";
    ++glyphs;
  }
  return s;
}

std::string open_svg(int width, int height, const std::string& title) {
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) +
                    "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " +
                    std::to_string(width) + " " + std::to_string(height) +
                    "\" style=\"max-width:100%;height:auto\" font-family=\"sans-serif\" "
                    "role=\"img\" aria-label=\"" +
                    escape(title) + "\">";
  out += "<title>" + escape(title) + "</title>";
  out += "<rect width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height) +
         "\" fill=\"#ffffff\"/>";
  return out;
}

std::string text(double x, double y, const std::string& content, double size,
                 const char* anchor = "start", const std::string& fill = kText,
                 const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) +
         "\" text-anchor=\"" + anchor + "\" fill=\"" + fill + "\"" +
         (extra.empty() ? "" : " " + extra) + ">" + escape(content) + "</text>";
}

std::string line(double x1, double y1, double x2, double y2, const char* stroke, double width = 1.0,
                 const std::string& extra = "") {
  return "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
         num(y2) + "\" stroke=\"" + stroke + "\" stroke-width=\"" + num(width) + "\"" +
         (extra.empty() ? "" : " " + extra) + "/>";
}

/// 1, 2, 5 or 10 times a power of ten near `x` (Heckbert's "nice numbers").
double nice_number(double x, bool round) {
  const double e = std::floor(std::log10(x));
  const double p = std::pow(10.0, e);
  const double f = x / p;
  double nf;
  if (round)
    nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  else
    nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nf * p;
}

/// An axis over the data range [lo, hi], widened to whole tick steps.
struct Axis {
  double lo = 0, hi = 1, step = 0.2;
  std::vector<double> ticks;
  double scale = 1;         // 1, 1e3, 1e6 or 1e9: tick labels in k, M, G
  const char* suffix = "";  //
  int decimals = 0;

  std::string label(double v) const {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v / scale);
    std::string s = buf;
    if (s.find_first_not_of("-0.") == std::string::npos) return "0";  // not "-0" or "0k"
    return s + suffix;
  }
  double widest_label(double font_size) const {
    double w = 0;
    for (const double t : ticks) w = std::max(w, text_width(label(t), font_size));
    return w;
  }
};

Axis make_axis(double lo, double hi, int target_ticks, bool integer_steps = false) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo == hi) {
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  Axis a;
  const double range = nice_number(hi - lo, false);
  a.step = nice_number(range / std::max(1, target_ticks - 1), true);
  if (integer_steps) a.step = std::max(a.step, 1.0);
  a.lo = std::floor(lo / a.step + 1e-9) * a.step;
  a.hi = std::ceil(hi / a.step - 1e-9) * a.step;
  const long count = std::lround((a.hi - a.lo) / a.step);
  for (long i = 0; i <= count; ++i) a.ticks.push_back(a.lo + static_cast<double>(i) * a.step);
  const double biggest = std::max(std::abs(a.lo), std::abs(a.hi));
  if (biggest >= 1e9 && a.step >= 1e8) {
    a.scale = 1e9, a.suffix = "G";
  } else if (biggest >= 1e6 && a.step >= 1e5) {
    a.scale = 1e6, a.suffix = "M";
  } else if (biggest >= 1e4 && a.step >= 1e2) {
    a.scale = 1e3, a.suffix = "k";
  }
  a.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(a.step / a.scale) + 1e-9)));
  return a;
}

/// [lo, hi] widened by 3% of its span on each side, so that no point sits on an axis line.
void pad_range(double* lo, double* hi) {
  if (!std::isfinite(*lo) || !std::isfinite(*hi) || *lo == *hi) return;
  const double pad = 0.03 * (*hi - *lo);
  *lo -= pad;
  *hi += pad;
}

/// Text colour for category i: the palette colour, darkened when it is too light to read on
/// white (Okabe-Ito's yellow).
std::string text_color(std::size_t i) {
  const std::string c = color(i);
  const long rgb = std::strtol(c.c_str() + 1, nullptr, 16);
  const int r = (rgb >> 16) & 0xFF, g = (rgb >> 8) & 0xFF, b = rgb & 0xFF;
  if (0.299 * r + 0.587 * g + 0.114 * b < 170) return c;
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r * 6 / 10, g * 6 / 10, b * 6 / 10);
  return buf;
}

/// A plot area and its two axes; maps data to pixels.
struct Frame {
  double left, top, width, height;
  Axis x, y;
  double px(double v) const { return left + (v - x.lo) / (x.hi - x.lo) * width; }
  double py(double v) const { return top + height - (v - y.lo) / (y.hi - y.lo) * height; }
};

/// Grid, axes, tick labels and axis titles of a frame.
std::string draw_frame(const Frame& f, const std::string& x_label, const std::string& y_label) {
  std::string out;
  const double bottom = f.top + f.height, right = f.left + f.width;
  for (const double t : f.y.ticks) {
    const double y = f.py(t);
    out += line(f.left, y, right, y, kGrid);
    out += text(f.left - 6, y + 4, f.y.label(t), 11, "end", kMuted);
  }
  for (const double t : f.x.ticks) {
    const double x = f.px(t);
    out += line(x, bottom, x, bottom + 4, kMuted);
    out += text(x, bottom + 17, f.x.label(t), 11, "middle", kMuted);
  }
  out += line(f.left, bottom, right, bottom, kMuted);
  out += line(f.left, f.top, f.left, bottom, kMuted);
  if (!x_label.empty()) out += text(f.left + f.width / 2, bottom + 34, x_label, 12, "middle");
  if (!y_label.empty()) {
    const double x = f.left - f.y.widest_label(11) - 16, y = f.top + f.height / 2;
    out += text(x, y, y_label, 12, "middle", kText,
                "transform=\"rotate(-90 " + num(x) + " " + num(y) + ")\"");
  }
  return out;
}

/// Legend entries laid out in rows from (x0, y0) within `max_width`; returns the markup and adds
/// the height used to *height.
std::string legend(const std::vector<std::pair<std::string, std::string>>& entries, double x0,
                   double y0, double max_width, double* height) {
  std::string out;
  double x = x0, y = y0;
  const double row = 16;
  for (const auto& [name, colour] : entries) {
    const double w = 14 + text_width(name, 11) + 14;
    if (x > x0 && x + w > x0 + max_width) {
      x = x0;
      y += row;
    }
    out += "<rect x=\"" + num(x) + "\" y=\"" + num(y - 9) +
           "\" width=\"10\" height=\"10\" rx=\"2\" "
           "fill=\"" +
           colour + "\"/>";
    out += text(x + 14, y, name, 11, "start", kText);
    x += w;
  }
  if (!entries.empty()) *height += (y - y0) + row + 4;
  return out;
}

void check_size(int width, int height, const char* what) {
  if (width < 160 || height < 120)
    throw InvalidArgument(std::string(what) +
                          ": width and height must be at least 160 x 120 (got " +
                          std::to_string(width) + " x " + std::to_string(height) + ")");
}

void data_range(const std::vector<double>& v, double* lo, double* hi) {
  for (const double e : v)
    if (std::isfinite(e)) *lo = std::min(*lo, e), *hi = std::max(*hi, e);
}

/// True when `format` holds exactly one floating-point conversion (flags, width, precision and
/// an optional 'l' allowed) besides literal text and "%%": anything else could read arguments
/// that are not there.
bool valid_value_format(const std::string& format) {
  int conversions = 0;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') continue;
    if (++i < format.size() && format[i] == '%') continue;
    while (i < format.size() && std::string_view("-+ #0").find(format[i]) != std::string::npos) ++i;
    while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) ++i;
    if (i < format.size() && format[i] == '.') {
      ++i;
      while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) ++i;
    }
    if (i < format.size() && format[i] == 'l') ++i;
    if (i >= format.size() || std::string_view("fFeEgGaA").find(format[i]) == std::string::npos)
      return false;
    ++conversions;
  }
  return conversions == 1;
}

}  // namespace

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // XML 1.0 allows no control characters but tab, LF and CR, not even as references.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out += c;
    }
  }
  return out;
}

std::string color(std::size_t i) {
  // Okabe & Ito (2008), "Color Universal Design". Yellow goes last: it is the hardest to see on
  // white, and charts rarely need eight categories.
  static const char* const kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                         "#CC79A7", "#56B4E9", "#000000", "#F0E442"};
  return kPalette[i % 8];
}

std::string line_chart(const std::string& title, const std::string& x_label,
                       const std::string& y_label, const std::vector<Series>& series, double mark_x,
                       int width, int height) {
  check_size(width, height, "line_chart");
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  bool integer_x = true;
  for (const Series& s : series) {
    if (s.x.size() != s.y.size())
      throw InvalidArgument("line_chart: series '" + s.name + "' has " +
                            std::to_string(s.x.size()) + " x and " + std::to_string(s.y.size()) +
                            " y values");
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
      integer_x = integer_x && s.x[i] == std::round(s.x[i]);
    }
  }
  if (std::isfinite(mark_x)) x_lo = std::min(x_lo, mark_x), x_hi = std::max(x_hi, mark_x);

  std::string out = open_svg(width, height, title);
  out += text(width / 2.0, 22, title, 14, "middle", kText, "font-weight=\"bold\"");
  double top = 36;
  if (series.size() > 1) {
    std::vector<std::pair<std::string, std::string>> entries;
    for (std::size_t i = 0; i < series.size(); ++i) entries.push_back({series[i].name, color(i)});
    out += legend(entries, 16, top + 4, width - 32, &top);
  }
  Frame f;
  pad_range(&y_lo, &y_hi);
  f.x = make_axis(x_lo, x_hi, 6, integer_x);
  f.y = make_axis(y_lo, y_hi, 5);
  f.left = std::max(44.0, f.y.widest_label(11) + (y_label.empty() ? 14 : 32));
  f.top = top + 6;
  f.width = width - f.left - 18;
  f.height = height - f.top - (x_label.empty() ? 30 : 46);
  out += draw_frame(f, x_label, y_label);

  if (std::isfinite(mark_x))
    out += line(f.px(mark_x), f.top, f.px(mark_x), f.top + f.height, kMuted, 1.5,
                "stroke-dasharray=\"5 4\"");
  for (std::size_t si = 0; si < series.size(); ++si) {
    const Series& s = series[si];
    const std::string colour = color(si);
    // A non-finite point breaks the line rather than joining its neighbours.
    std::string points;
    const auto flush = [&] {
      if (points.find(' ') != std::string::npos)
        out += "<polyline fill=\"none\" stroke=\"" + colour +
               "\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"" + points + "\"/>";
      points.clear();
    };
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        flush();
        continue;
      }
      if (!points.empty()) points += ' ';
      points += num(f.px(s.x[i])) + "," + num(f.py(s.y[i]));
    }
    flush();
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      out += "<circle cx=\"" + num(f.px(s.x[i])) + "\" cy=\"" + num(f.py(s.y[i])) +
             "\" r=\"3\" fill=\"" + colour + "\"><title>" +
             escape((s.name.empty() ? "" : s.name + ": ") + value_text(s.x[i]) + ", " +
                    value_text(s.y[i])) +
             "</title></circle>";
    }
  }
  return out + "</svg>";
}

std::string bar_chart(const std::string& title, const std::vector<std::string>& labels,
                      const std::vector<double>& values, const std::string& value_format,
                      bool colored, int width) {
  if (labels.size() != values.size())
    throw InvalidArgument("bar_chart: " + std::to_string(labels.size()) + " labels but " +
                          std::to_string(values.size()) + " values");
  if (!valid_value_format(value_format))
    throw InvalidArgument("bar_chart: value_format '" + value_format +
                          "' must hold exactly one floating-point conversion such as %.1f");
  const double row = 26, top = 38, bottom = 14;
  const int height = static_cast<int>(top + row * static_cast<double>(labels.size()) + bottom);
  check_size(width, std::max(height, 120), "bar_chart");

  std::vector<std::string> shown(labels.size()), printed(values.size());
  double label_w = 0, value_w = 0;
  const std::size_t max_glyphs =
      static_cast<std::size_t>(std::max(4.0, 0.4 * width / (12 * kCharWidth)));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    shown[i] = truncate(labels[i], max_glyphs);
    label_w = std::max(label_w, text_width(shown[i], 12));
    if (std::isfinite(values[i])) {
      char buf[128];
      std::snprintf(buf, sizeof buf, value_format.c_str(), values[i]);
      printed[i] = buf;
    } else {
      printed[i] = "n/a";
    }
    value_w = std::max(value_w, text_width(printed[i], 11));
  }
  double lo = 0, hi = 0;
  data_range(values, &lo, &hi);
  if (lo == hi) hi = 1;
  const double left = 12 + label_w + 10;
  // Room for the printed value beyond the longest bar on either side.
  const double pad_right = hi > 0 ? value_w + 10 : 6, pad_left = lo < 0 ? value_w + 10 : 0;
  const double plot_left = left + pad_left,
               plot_w = std::max(20.0, width - plot_left - pad_right - 8);
  const auto px = [&](double v) { return plot_left + (v - lo) / (hi - lo) * plot_w; };

  std::string out = open_svg(width, height, title);
  out += text(width / 2.0, 22, title, 14, "middle", kText, "font-weight=\"bold\"");
  const double zero = px(0.0);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double y = top + row * static_cast<double>(i);
    const std::string full = labels[i] + ": " + printed[i];
    out += text(left - 8, y + row / 2 + 4, shown[i], 12, "end", kText);
    if (std::isfinite(values[i])) {
      const double x0 = std::min(zero, px(values[i])), x1 = std::max(zero, px(values[i]));
      out += "<rect x=\"" + num(x0) + "\" y=\"" + num(y + 4) + "\" width=\"" +
             num(std::max(x1 - x0, 0.5)) + "\" height=\"" + num(row - 8) + "\" fill=\"" +
             (colored ? color(i) : color(0)) + "\"><title>" + escape(full) + "</title></rect>";
      if (values[i] >= 0)
        out += text(x1 + 5, y + row / 2 + 4, printed[i], 11, "start", kMuted);
      else
        out += text(x0 - 5, y + row / 2 + 4, printed[i], 11, "end", kMuted);
    } else {
      out += text(zero + 5, y + row / 2 + 4, printed[i], 11, "start", kMuted);
    }
  }
  out += line(zero, top, zero, top + row * static_cast<double>(values.size()), kMuted);
  return out + "</svg>";
}

std::string scatter(const std::string& title, const std::vector<double>& x,
                    const std::vector<double>& y, const std::vector<std::int32_t>& group,
                    const std::vector<std::string>& group_names, const std::string& x_label,
                    const std::string& y_label, int width, int height) {
  check_size(width, height, "scatter");
  if (x.size() != y.size() || x.size() != group.size())
    throw InvalidArgument("scatter: x, y and group differ in length (" + std::to_string(x.size()) +
                          ", " + std::to_string(y.size()) + ", " + std::to_string(group.size()) +
                          ")");
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    x_lo = std::min(x_lo, x[i]), x_hi = std::max(x_hi, x[i]);
    y_lo = std::min(y_lo, y[i]), y_hi = std::max(y_hi, y[i]);
  }
  std::string out = open_svg(width, height, title);
  out += text(width / 2.0, 22, title, 14, "middle", kText, "font-weight=\"bold\"");
  double top = 36;
  std::vector<std::pair<std::string, std::string>> entries;
  for (std::size_t g = 0; g < group_names.size(); ++g)
    if (!group_names[g].empty()) entries.push_back({group_names[g], color(g)});
  out += legend(entries, 16, top + 4, width - 32, &top);

  pad_range(&x_lo, &x_hi);
  pad_range(&y_lo, &y_hi);
  Frame f;
  f.x = make_axis(x_lo, x_hi, 6);
  f.y = make_axis(y_lo, y_hi, 6);
  f.left = std::max(44.0, f.y.widest_label(11) + (y_label.empty() ? 14 : 32));
  f.top = top + 6;
  f.width = width - f.left - 18;
  f.height = std::max(40.0, height - f.top - (x_label.empty() ? 30 : 46));
  out += draw_frame(f, x_label, y_label);
  // One group per <g>, so the fill is written once per group rather than per point.
  std::int32_t max_group = -1;
  for (const std::int32_t g : group) max_group = std::max(max_group, g);
  for (std::int32_t g = -1; g <= max_group; ++g) {
    std::string points;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if ((group[i] < 0 ? -1 : group[i]) != g || !std::isfinite(x[i]) || !std::isfinite(y[i]))
        continue;
      points += "<circle cx=\"" + num(f.px(x[i])) + "\" cy=\"" + num(f.py(y[i])) + "\" r=\"2.5\"/>";
    }
    if (points.empty()) continue;
    out += "<g fill=\"" + (g < 0 ? std::string("#999999") : color(static_cast<std::size_t>(g))) +
           "\" fill-opacity=\"0.75\">" + points + "</g>";
  }
  return out + "</svg>";
}

std::string dendrogram(const std::string& title, const std::vector<std::array<double, 4>>& linkage,
                       const std::vector<std::string>& leaf_labels, int width, int height) {
  check_size(width, height, "dendrogram");
  const std::size_t m = linkage.size() + 1;
  if (!leaf_labels.empty() && leaf_labels.size() != m)
    throw InvalidArgument("dendrogram: " + std::to_string(linkage.size()) + " merges need " +
                          std::to_string(m) + " leaf labels (got " +
                          std::to_string(leaf_labels.size()) + ")");
  std::vector<std::size_t> left(m - 1), right(m - 1);
  std::vector<bool> used(2 * m - 1, false);
  double max_height = 0;
  for (std::size_t i = 0; i + 1 < m; ++i) {
    const auto& r = linkage[i];
    const auto child = [&](double v) {
      if (!(v >= 0) || v != std::floor(v) || v >= static_cast<double>(m + i))
        throw InvalidArgument("dendrogram: merge " + std::to_string(i) + " joins cluster " +
                              value_text(v) + ", which does not exist yet");
      const std::size_t c = static_cast<std::size_t>(v);
      if (used[c])
        throw InvalidArgument("dendrogram: cluster " + std::to_string(c) + " is merged twice");
      used[c] = true;
      return c;
    };
    left[i] = child(r[0]);
    right[i] = child(r[1]);
    if (!std::isfinite(r[2]) || r[2] < 0)
      throw InvalidArgument("dendrogram: merge " + std::to_string(i) + " has distance " +
                            value_text(r[2]));
    max_height = std::max(max_height, r[2]);
  }
  // Leaf order: depth first from the root, a before b, as scipy draws it (iterative, because a
  // chain-like tree is as deep as it has leaves).
  std::vector<std::size_t> order, stack = {2 * m - 2};
  while (!stack.empty()) {
    const std::size_t node = stack.back();
    stack.pop_back();
    if (node < m) {
      order.push_back(node);
    } else {
      stack.push_back(right[node - m]);
      stack.push_back(left[node - m]);
    }
  }
  std::vector<std::string> names(m);
  for (std::size_t i = 0; i < m; ++i)
    names[i] = truncate(leaf_labels.empty() ? std::to_string(i) : leaf_labels[i], 24);

  Axis y = make_axis(0, max_height > 0 ? max_height : 1, 5);
  y.lo = 0;
  double plot_left = std::max(44.0, y.widest_label(11) + 32);
  double plot_w = width - plot_left - 16;
  double spacing = plot_w / static_cast<double>(m);
  double label_w = 0;
  for (const auto& s : names) label_w = std::max(label_w, text_width(s, 11));
  // Labels that do not fit side by side are turned 45 degrees, cut to what fits under the plot
  // (at most 35% of the height), with the plot moved right so the first one stays inside.
  const bool rotate = label_w > spacing - 4;
  if (rotate) {
    const double max_w = (height * 0.35 - 12) / 0.71;
    if (label_w > max_w) {
      const std::size_t glyphs = static_cast<std::size_t>(std::max(3.0, max_w / (11 * kCharWidth)));
      label_w = 0;
      for (auto& s : names) {
        s = truncate(s, glyphs - 1);
        label_w = std::max(label_w, text_width(s, 11));
      }
    }
    const double needed = 0.71 * label_w + 8 - spacing / 2;
    if (needed > plot_left) {
      plot_left = std::min(needed, width * 0.4);
      plot_w = width - plot_left - 16;
      spacing = plot_w / static_cast<double>(m);
    }
  }
  const double label_h = rotate ? 0.71 * label_w + 12 : 14;
  Frame f;
  f.x.lo = 0, f.x.hi = 1;
  f.y = y;
  f.left = plot_left;
  f.top = 44;
  f.width = plot_w;
  f.height = std::max(40.0, height - f.top - label_h - 18);

  std::string out = open_svg(width, height, title);
  out += text(width / 2.0, 22, title, 14, "middle", kText, "font-weight=\"bold\"");
  const double bottom = f.top + f.height;
  for (const double t : y.ticks) {
    out += line(f.left, f.py(t), f.left + f.width, f.py(t), kGrid);
    out += text(f.left - 6, f.py(t) + 4, y.label(t), 11, "end", kMuted);
  }
  out += line(f.left, f.top, f.left, bottom, kMuted);
  {
    const double x = f.left - y.widest_label(11) - 16, yc = f.top + f.height / 2;
    out += text(x, yc, "merge distance", 12, "middle", kText,
                "transform=\"rotate(-90 " + num(x) + " " + num(yc) + ")\"");
  }
  std::vector<double> node_x(2 * m - 1), node_h(2 * m - 1, 0.0);
  for (std::size_t pos = 0; pos < m; ++pos)
    node_x[order[pos]] = f.left + (static_cast<double>(pos) + 0.5) * spacing;
  std::string links;
  for (std::size_t i = 0; i + 1 < m; ++i) {
    const std::size_t a = left[i], b = right[i], node = m + i;
    node_x[node] = (node_x[a] + node_x[b]) / 2;
    node_h[node] = linkage[i][2];
    links += "<path d=\"M" + num(node_x[a]) + " " + num(f.py(node_h[a])) + "V" +
             num(f.py(node_h[node])) + "H" + num(node_x[b]) + "V" + num(f.py(node_h[b])) +
             "\"><title>" +
             escape("merge at " + value_text(node_h[node]) + ", " + value_text(linkage[i][3]) +
                    " items") +
             "</title></path>";
  }
  out += "<g fill=\"none\" stroke=\"#444444\" stroke-width=\"1.5\">" + links + "</g>";
  for (std::size_t leaf = 0; leaf < m; ++leaf) {
    const double x = node_x[leaf];
    out += "<circle cx=\"" + num(x) + "\" cy=\"" + num(bottom) + "\" r=\"3.5\" fill=\"" +
           color(leaf) + "\"/>";
    if (rotate)
      out += text(x + 3, bottom + 14, names[leaf], 11, "end", text_color(leaf),
                  "transform=\"rotate(-45 " + num(x + 3) + " " + num(bottom + 14) + ")\"");
    else
      out += text(x, bottom + 18, names[leaf], 11, "middle", text_color(leaf));
  }
  return out + "</svg>";
}

std::string grid(const std::vector<std::string>& charts, int columns, const std::string& title) {
  if (columns < 1) throw InvalidArgument("grid: columns must be at least 1");
  struct Cell {
    double x0, y0, w, h;
    std::string body;
  };
  std::vector<Cell> cells;
  double cell_w = 0, cell_h = 0;
  for (std::size_t i = 0; i < charts.size(); ++i) {
    const std::string& c = charts[i];
    const std::size_t open = c.find("<svg");
    const std::size_t open_end = open == std::string::npos ? open : c.find('>', open);
    const std::size_t close = c.rfind("</svg>");
    const std::size_t vb = c.find("viewBox=\"", open);
    double x0 = 0, y0 = 0, w = 0, h = 0;
    if (open_end == std::string::npos || close == std::string::npos || close < open_end ||
        vb == std::string::npos || vb > open_end ||
        std::sscanf(c.c_str() + vb + 9, "%lf %lf %lf %lf", &x0, &y0, &w, &h) != 4 || w <= 0 ||
        h <= 0)
      throw InvalidArgument("grid: chart " + std::to_string(i) +
                            " is not an <svg> element with a viewBox");
    cells.push_back({x0, y0, w, h, c.substr(open_end + 1, close - open_end - 1)});
    cell_w = std::max(cell_w, w);
    cell_h = std::max(cell_h, h);
  }
  const std::size_t cols = std::min<std::size_t>(static_cast<std::size_t>(columns),
                                                 std::max<std::size_t>(cells.size(), 1));
  const std::size_t rows = (cells.size() + cols - 1) / cols;
  const double head = title.empty() ? 0 : 36;
  const int width = static_cast<int>(std::ceil(cell_w * static_cast<double>(cols)));
  const int height = static_cast<int>(std::ceil(head + cell_h * static_cast<double>(rows)));
  std::string out = open_svg(std::max(width, 1), std::max(height, 1), title);
  if (!title.empty())
    out += text(width / 2.0, 24, title, 16, "middle", kText, "font-weight=\"bold\"");
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const double x = cell_w * static_cast<double>(i % cols);
    const double y = head + cell_h * static_cast<double>(i / cols);
    out += "<svg x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(cells[i].w) +
           "\" height=\"" + num(cells[i].h) + "\" viewBox=\"" + num(cells[i].x0) + " " +
           num(cells[i].y0) + " " + num(cells[i].w) + " " + num(cells[i].h) + "\">" +
           cells[i].body + "</svg>";
  }
  return out + "</svg>";
}

}  // namespace segcore::svg
