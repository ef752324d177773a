// segcore: small, self-contained SVG charts for reports (no scripts, external fonts or links).
//
// Every function returns one complete <svg> element with xmlns, width, height and a viewBox, and
// style="max-width:100%;height:auto", so it can be written to a .svg file or inlined in HTML
// and scales down with its container. No element carries an id, so several charts can share a
// page. Text uses the generic sans-serif family; hovering a point or bar shows its value (<title>).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace segcore::svg {

/// text with &, <, >, " and ' replaced by entities, and the control characters XML 1.0 forbids
/// dropped: safe as element content and inside attribute values.
std::string escape(std::string_view text);

/// The i-th colour ("#rrggbb") of a categorical, colour-blind friendly palette (Okabe & Ito's
/// eight colours); cycles for i >= 8.
std::string color(std::size_t i);

struct Series {
  std::string name;
  std::vector<double> x, y;  ///< same length; points with a non-finite coordinate are skipped
};

/// Line chart with axes, nice ticks, axis labels, legend (when > 1 series); mark_x (NaN = none)
/// draws a vertical dashed marker. Series i is drawn in color(i), with a dot at each point.
/// Throws InvalidArgument when a series' x and y differ in length or width/height are too small.
std::string line_chart(const std::string& title, const std::string& x_label,
                       const std::string& y_label, const std::vector<Series>& series, double mark_x,
                       int width = 520, int height = 320);

/// Horizontal bars, one per label, value printed at the bar end with printf-style value_format
/// (e.g. "%.1f%%"); bar i uses color(i) when colored, else one colour. The height follows from
/// the number of bars. Bars start at 0 (negative values extend left). Throws InvalidArgument when
/// the sizes differ or value_format is not exactly one floating-point conversion (%f %e %g %a,
/// with flags, width and precision) plus text and %%.
std::string bar_chart(const std::string& title, const std::vector<std::string>& labels,
                      const std::vector<double>& values, const std::string& value_format,
                      bool colored = true, int width = 520);

/// Points coloured by group (color(group)), legend with group_names. x, y, group: same length;
/// every point is drawn, so callers sample large sets. A negative group is drawn grey and a
/// group without a name is left out of the legend.
std::string scatter(const std::string& title, const std::vector<double>& x,
                    const std::vector<double>& y, const std::vector<std::int32_t>& group,
                    const std::vector<std::string>& group_names, const std::string& x_label,
                    const std::string& y_label, int width = 520, int height = 420);

/// Dendrogram from scipy's linkage format: m - 1 rows {a, b, distance, size}; leaves 0..m-1,
/// merge i creates cluster m + i. Leaf labels drawn under the leaves (coloured with
/// color(leaf)), merge heights on the y axis. Leaves are ordered as scipy's dendrogram orders
/// them (a before b at every merge). leaf_labels: m names, or empty for 0..m-1. Throws
/// InvalidArgument for a malformed linkage (a child that does not exist yet or is used twice, a
/// negative or non-finite distance) or a wrong number of labels.
std::string dendrogram(const std::string& title, const std::vector<std::array<double, 4>>& linkage,
                       const std::vector<std::string>& leaf_labels, int width = 520,
                       int height = 320);

/// Several charts made by this module (each an <svg> with a "0 0 W H" viewBox) in one picture:
/// `columns` per row, each cell as large as the largest chart, with an optional title above.
std::string grid(const std::vector<std::string>& charts, int columns,
                 const std::string& title = "");

}  // namespace segcore::svg
