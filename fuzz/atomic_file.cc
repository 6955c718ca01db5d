// atomic_file.cc - see atomic_file.h.
#include "fuzz/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

namespace kqsim::fuzz {

namespace {

// Writes all of `text` to fd; 0 or an errno.
int write_all(int fd, std::string_view text) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    p += n;
    left -= static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view text) {
  namespace fs = std::filesystem;
  auto fail = [&](const std::string& why) { throw std::runtime_error(fmt::format("cannot write '{}': {}", path, why)); };
  if (path.empty()) fail("empty file name");
  fs::path target(path);
  std::error_code ec;
  const fs::file_status st = fs::status(target, ec);  // follows symlinks
  if (fs::is_directory(st)) fail("it is a directory");
  if (fs::exists(st) && !fs::is_regular_file(st)) {  // a device, a pipe, a FIFO: write in place
    int fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail(std::strerror(errno));
    int e = write_all(fd, text);
    if (::close(fd) != 0 && e == 0) e = errno;
    if (e != 0) fail(std::strerror(e));
    return;
  }
  if (fs::is_symlink(fs::symlink_status(target, ec))) {  // replace what it points at, keep the link
    fs::path real = fs::weakly_canonical(target, ec);
    if (!ec) target = real;
  }
  const fs::path tmp =
      target.parent_path() / fmt::format(".{}.tmp.{}", target.filename().string(), static_cast<long>(getpid()));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail(std::strerror(errno));
  if (int e = write_all(fd, text); e != 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
    fail(std::strerror(e));
  }
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    fail(std::strerror(e));
  }
  if (::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    fail(std::strerror(e));
  }
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    fail(std::strerror(e));
  }
}

}  // namespace kqsim::fuzz
