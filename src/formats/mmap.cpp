#include "formats/mmap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace hearth {

mapped_file::mapped_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    fail(e == ENOENT ? error_kind::not_found : error_kind::io, "cannot open {}: {}", path, std::strerror(e));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    fail(error_kind::io, "cannot stat {}: {}", path, std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail(error_kind::io, "{} is a directory, not a file", path);
  }
  size_ = (size_t)st.st_size;
  if (size_ == 0) {
    ::close(fd);
    data_ = nullptr;
    return;
  }
  void* p = S_ISREG(st.st_mode) ? mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  if (p != MAP_FAILED) {
    data_ = static_cast<const uint8_t*>(p);
    mapped_ = true;
  } else {
    // Not mappable (a pipe, an odd filesystem): read it.
    fallback_.resize(size_);
    size_t got = 0;
    while (got < size_) {
      ssize_t r = ::read(fd, fallback_.data() + got, size_ - got);
      if (r <= 0) {
        const int e = errno;
        ::close(fd);
        fail(error_kind::io, "cannot read {}: {}", path, r == 0 ? "unexpected end of file" : std::strerror(e));
      }
      got += (size_t)r;
    }
    data_ = fallback_.data();
  }
  ::close(fd);
}

mapped_file::~mapped_file() {
  if (mapped_) munmap(const_cast<uint8_t*>(data_), size_);
}

void mapped_file::prefetch(size_t offset, size_t len) const {
  if (!mapped_ || offset >= size_) return;
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const size_t start = offset / page * page;
  const size_t end = std::min(size_, offset + len);
  madvise(const_cast<uint8_t*>(data_) + start, end - start, MADV_WILLNEED);
}

}  // namespace hearth
