// segcore: output helpers: shortest round-trip number formatting, CSV field quoting, and files that
// appear atomically (written under a temporary name, renamed into place on commit).
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "segcore/error.hpp"
#include "segcore/io.hpp"

namespace segcore::io {
namespace {

std::string errno_text(int err) { return std::generic_category().message(err); }

std::atomic<unsigned long> g_tmp_counter{0};

}  // namespace

std::string format_double(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  return std::string(buf, res.ptr);
}

void append_csv_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (const char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

// ---- AtomicFile -------------------------------------------------------------------------------

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  const std::filesystem::path target(path_);
  const std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..") {
    throw InvalidArgument("output path '" + path_ + "' does not name a file");
  }
  const std::string tmp_name = "." + name + ".tmp." + std::to_string(::getpid()) + "." +
                               std::to_string(g_tmp_counter.fetch_add(1) + 1);
  tmp_path_ = (target.parent_path() / tmp_name).string();
  errno = 0;
  out_.open(tmp_path_, std::ios::out | std::ios::binary | std::ios::trunc);
  if (!out_.is_open()) {
    const int err = errno;
    throw IoError("cannot open '" + path_ + "' for writing (temporary file '" + tmp_path_ +
                  "'): " + (err != 0 ? errno_text(err) : std::string("open failed")));
  }
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  try {
    out_.close();
  } catch (...) {  // the caller may have enabled stream exceptions
  }
  std::error_code ec;
  std::filesystem::remove(tmp_path_, ec);
}

void AtomicFile::commit() {
  if (committed_) return;
  out_.flush();
  if (!out_) throw IoError("error writing '" + path_ + "' (disk full or I/O error?)");
  out_.close();
  if (out_.fail()) throw IoError("error closing '" + path_ + "' (disk full or I/O error?)");
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    throw IoError("cannot rename '" + tmp_path_ + "' to '" + path_ + "': " + errno_text(err));
  }
  committed_ = true;
}

// ---- OutputSet --------------------------------------------------------------------------------

namespace {

// Creates `dir` when it does not exist; returns whether it did. IoError when it exists and is
// not a directory or cannot be created.
bool ensure_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) {
      throw IoError("cannot write output into '" + dir + "': it exists and is not a directory");
    }
    return false;
  }
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create directory '" + dir + "': " + ec.message());
  return true;
}

}  // namespace

OutputSet::OutputSet(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) dir_ = ".";
}

OutputSet::~OutputSet() {
  if (committed_) return;
  files_.clear();  // each removes its temporary file
  if (created_dir_) {
    std::error_code ec;
    std::filesystem::remove(dir_, ec);  // only succeeds when it is empty
  }
}

std::ostream& OutputSet::add(const std::string& name) {
  if (committed_) throw InvalidArgument("OutputSet('" + dir_ + "'): add() after commit()");
  const std::string path = (std::filesystem::path(dir_) / name).string();
  for (const auto& f : files_) {
    if (f->path() == path) throw InvalidArgument("output file '" + path + "' is added twice");
  }
  if (!created_dir_ && ensure_directory(dir_)) created_dir_ = true;
  files_.push_back(std::make_unique<AtomicFile>(path));
  return files_.back()->stream();
}

void OutputSet::commit() {
  if (committed_) return;
  if (ensure_directory(dir_)) created_dir_ = true;
  // Check every file for write errors before any of them is renamed into place.
  for (const auto& f : files_) {
    f->stream().flush();
    if (!f->stream()) throw IoError("error writing '" + f->path() + "' (disk full or I/O error?)");
  }
  for (const auto& f : files_) f->commit();
  committed_ = true;
}

}  // namespace segcore::io
