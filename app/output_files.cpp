#include "output_files.hpp"

#include <charconv>
#include <string>

namespace segcore::app {

void write_labels_csv(std::ostream& out, const io::Dataset& data,
                      const std::vector<std::int32_t>& labels,
                      const std::vector<double>* distances) {
  std::string buf = distances ? "id,segment,distance\n" : "id,segment\n";
  constexpr std::size_t kFlushBytes = 1 << 20;
  char num[32];
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (data.has_ids) {
      io::append_csv_field(
          buf, std::string_view(data.id_chars)
                   .substr(data.id_offsets[i], data.id_offsets[i + 1] - data.id_offsets[i]));
    } else {
      buf.append(num, std::to_chars(num, num + sizeof num, i).ptr);
    }
    buf += ',';
    buf.append(num, std::to_chars(num, num + sizeof num, labels[i]).ptr);
    if (distances) {
      buf += ',';
      buf += io::format_double((*distances)[i]);
    }
    buf += '\n';
    if (buf.size() >= kFlushBytes) {
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
}

}  // namespace segcore::app
