#include <fstream>
#include <nlohmann/json.hpp>

#include "segcore/error.hpp"
#include "segcore/pipeline.hpp"

namespace segcore {
namespace {

constexpr const char* kFormat = "segcore-kmeans-model";
constexpr int kFormatVersion = 1;

nlohmann::json matrix_json(const std::vector<double>& m, std::size_t rows, std::size_t cols) {
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t i = 0; i < rows; ++i)
    out.push_back(std::vector<double>(m.begin() + i * cols, m.begin() + (i + 1) * cols));
  return out;
}

std::vector<double> matrix_from(const nlohmann::json& j, std::size_t rows, std::size_t cols,
                                const std::string& what) {
  if (!j.is_array() || j.size() != rows)
    throw InvalidArgument(what + " must have " + std::to_string(rows) + " rows");
  std::vector<double> out;
  out.reserve(rows * cols);
  for (const auto& row : j) {
    if (!row.is_array() || row.size() != cols)
      throw InvalidArgument(what + " rows must have " + std::to_string(cols) + " values");
    for (const auto& v : row) out.push_back(v.get<double>());
  }
  return out;
}

}  // namespace

void write_model_json(const KMeansModel& m, std::ostream& out) {
  const std::size_t d = m.features.size();
  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kFormatVersion;
  j["segcore_version"] = m.segcore_version;
  j["features"] = m.features;
  j["k"] = m.k;
  j["scaler"] = {{"scaling", scaling_name(m.scaler.scaling)},
                 {"log1p", m.scaler.log1p},
                 {"mean", m.scaler.mean},
                 {"scale", m.scaler.scale}};
  j["centroids"] = matrix_json(m.centroids, m.k, d);
  j["centroids_scaled"] = matrix_json(m.centroids_scaled, m.k, d);
  j["inertia"] = m.inertia;
  j["params"] = {{"dtype", m.dtype},
                 {"init", m.init},
                 {"n_init", m.n_init},
                 {"max_iter", m.max_iter},
                 {"tol", m.tol},
                 {"seed", m.seed},
                 {"id_column", m.id_column},
                 {"weight_column", m.weight_column}};
  out << j.dump(2) << "\n";
}

KMeansModel read_model_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open model file");
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    if (j.value("format", "") != kFormat)
      throw InvalidArgument("not a segcore K-means model (\"format\" is not \"" +
                            std::string(kFormat) + "\")");
    if (j.at("version").get<int>() != kFormatVersion)
      throw InvalidArgument("unsupported model version " + j.at("version").dump());
    KMeansModel m;
    m.segcore_version = j.value("segcore_version", "");
    m.features = j.at("features").get<std::vector<std::string>>();
    m.k = j.at("k").get<std::size_t>();
    const std::size_t d = m.features.size();
    if (d == 0 || m.k == 0) throw InvalidArgument("model has no features or no centroids");
    const auto& s = j.at("scaler");
    m.scaler.scaling = parse_scaling(s.at("scaling").get<std::string>());
    m.scaler.log1p = s.at("log1p").get<std::vector<bool>>();
    m.scaler.mean = s.at("mean").get<std::vector<double>>();
    m.scaler.scale = s.at("scale").get<std::vector<double>>();
    if (m.scaler.log1p.size() != d || m.scaler.mean.size() != d || m.scaler.scale.size() != d)
      throw InvalidArgument("scaler must have one entry per feature");
    m.centroids = matrix_from(j.at("centroids"), m.k, d, "centroids");
    m.centroids_scaled = matrix_from(j.at("centroids_scaled"), m.k, d, "centroids_scaled");
    m.inertia = j.value("inertia", 0.0);
    const auto& p = j.at("params");
    m.dtype = p.value("dtype", "float64");
    m.init = p.value("init", "");
    m.n_init = p.value("n_init", 1);
    m.max_iter = p.value("max_iter", 300);
    m.tol = p.value("tol", 1e-4);
    m.seed = p.value("seed", std::uint64_t{0});
    m.id_column = p.value("id_column", "");
    m.weight_column = p.value("weight_column", "");
    return m;
  } catch (const nlohmann::json::exception& e) {
    throw ParseError(path, 0, 0, "", std::string("malformed model: ") + e.what());
  } catch (const InvalidArgument& e) {
    throw ParseError(path, 0, 0, "", std::string("malformed model: ") + e.what());
  }
}

}  // namespace segcore
