#include "hub/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace hearth::hub {

sha256::sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
    fail("cannot initialise SHA-256 (libcrypto)");
}
sha256::~sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void sha256::update(const void* data, size_t n) {
  if (n && EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n) != 1) fail("SHA-256 update failed");
}

std::string sha256::finish_hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len) != 1) fail("SHA-256 final failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string sha256_hex(const void* data, size_t n) {
  sha256 h;
  h.update(data, n);
  return h.finish_hex();
}

std::string sha256_file(const std::string& path, uint64_t n_bytes, const std::function<void(uint64_t)>& on_progress,
                        const std::atomic<int>* stop) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(error_kind::io, "cannot open {} to verify it: {}", path, std::strerror(errno));
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  sha256 h;
  std::vector<unsigned char> buf(4 << 20);
  uint64_t done = 0;
  while (done < n_bytes) {
    if (stop && stop->load()) {
      ::close(fd);
      fail(error_kind::cancelled, "verification of {} stopped", path);
    }
    const size_t want = (size_t)std::min<uint64_t>(buf.size(), n_bytes - done);
    ssize_t r = ::read(fd, buf.data(), want);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int e = errno;
      ::close(fd);
      fail(error_kind::io, "cannot read {}: {}", path, std::strerror(e));
    }
    if (r == 0) break;
    h.update(buf.data(), (size_t)r);
    done += (uint64_t)r;
    if (on_progress) on_progress(done);
  }
  ::close(fd);
  if (n_bytes != UINT64_MAX && done != n_bytes)
    fail(error_kind::io, "{} is shorter than expected ({} of {} bytes)", path, done, n_bytes);
  return h.finish_hex();
}

}  // namespace hearth::hub
