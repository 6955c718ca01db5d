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

void write_file_atomically(const std::string& path, std::string_view text) {
  namespace fs = std::filesystem;
  auto fail = [&](const std::string& why) { throw std::runtime_error(fmt::format("cannot write '{}': {}", path, why)); };
  if (path.empty()) fail("empty file name");
  const fs::path target(path);
  if (std::error_code ec; fs::is_directory(target, ec)) fail("it is a directory");
  const fs::path tmp =
      target.parent_path() / fmt::format(".{}.tmp.{}", target.filename().string(), static_cast<long>(getpid()));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail(std::strerror(errno));
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(std::strerror(e));
    }
    p += n;
    left -= static_cast<size_t>(n);
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
