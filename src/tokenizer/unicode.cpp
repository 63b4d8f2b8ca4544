#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace hearth::tok {

namespace {
struct cpt_flag_range { uint32_t first; uint16_t flags; };
struct cpt_run { uint32_t first, last, value; };
#include "tokenizer/unicode_tables.inc"

template <size_t N> uint32_t lookup_run(const cpt_run (&table)[N], uint32_t cpt) {
  auto it = std::upper_bound(std::begin(table), std::end(table), cpt,
                             [](uint32_t c, const cpt_run& r) { return c < r.first; });
  if (it == std::begin(table)) return cpt;
  --it;
  return cpt <= it->last ? it->value : cpt;
}

struct byte_maps {
  std::array<std::string, 256> to_utf8;
  std::array<int, 512> from_cpt;  // every mapped codepoint is below 0x200
  byte_maps() {
    from_cpt.fill(-1);
    // Printable Latin-1 bytes keep their codepoint; the others are moved to 0x100 and up, in order.
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const uint32_t cpt = printable ? (uint32_t)b : 0x100 + next++;
      to_utf8[b] = cpt_to_utf8(cpt);
      from_cpt[cpt] = b;
    }
  }
};
const byte_maps& maps() {
  static const byte_maps m;
  return m;
}
}  // namespace

uint16_t cpt_flags(uint32_t cpt) {
  if (cpt >= 0x110000) return 0;
  auto it = std::upper_bound(std::begin(k_flag_ranges), std::end(k_flag_ranges), cpt,
                             [](uint32_t c, const cpt_flag_range& r) { return c < r.first; });
  return (it - 1)->flags;
}

uint32_t cpt_tolower(uint32_t cpt) {
  if (cpt < 0x80) return (cpt >= 'A' && cpt <= 'Z') ? cpt + 32 : cpt;
  return lookup_run(k_lowercase, cpt);
}

uint32_t cpt_strip_accent(uint32_t cpt) { return cpt < 0xC0 ? cpt : lookup_run(k_nfd_first, cpt); }

uint32_t utf8_decode_lenient(std::string_view s, size_t& offset) {
  const auto b = [&](size_t i) { return (uint8_t)s[offset + i]; };
  const auto cont = [&](size_t i) { return offset + i < s.size() && (b(i) & 0xC0) == 0x80; };
  const uint8_t c = b(0);
  if (!(c & 0x80)) {
    offset += 1;
    return c;
  }
  if ((c & 0x40) && !(c & 0x20) && cont(1)) {
    const uint32_t r = ((c & 0x1Fu) << 6) | (b(1) & 0x3Fu);
    offset += 2;
    return r;
  }
  if ((c & 0x60) == 0x60 && !(c & 0x10) && cont(1) && cont(2)) {
    const uint32_t r = ((c & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
    offset += 3;
    return r;
  }
  if ((c & 0x70) == 0x70 && !(c & 0x08) && cont(1) && cont(2) && cont(3)) {
    const uint32_t r = ((c & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
    offset += 4;
    return r;
  }
  offset += 1;
  return k_replacement_cpt;
}

std::vector<uint32_t> utf8_to_cpts_lenient(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t off = 0; off < s.size();) out.push_back(utf8_decode_lenient(s, off));
  return out;
}

void append_utf8(std::string& out, uint32_t cpt) {
  if (cpt < 0x80) {
    out.push_back((char)cpt);
  } else if (cpt < 0x800) {
    out.push_back((char)(0xC0 | (cpt >> 6)));
    out.push_back((char)(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x10000) {
    out.push_back((char)(0xE0 | (cpt >> 12)));
    out.push_back((char)(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back((char)(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x110000) {
    out.push_back((char)(0xF0 | (cpt >> 18)));
    out.push_back((char)(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back((char)(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back((char)(0x80 | (cpt & 0x3F)));
  } else {
    append_utf8(out, k_replacement_cpt);
  }
}

std::string cpt_to_utf8(uint32_t cpt) {
  std::string s;
  append_utf8(s, cpt);
  return s;
}

namespace {
// Length of the strictly valid sequence at s[i]: > 0 when complete, 0 when invalid, and
// -(bytes seen) when the input ends inside a sequence that could still become valid.
int strict_sequence(std::string_view s, size_t i) {
  const uint8_t c = (uint8_t)s[i];
  if (c < 0x80) return 1;
  int n;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
  else return 0;
  for (int k = 1; k < n; ++k) {
    if (i + k >= s.size()) return -k;
    const uint8_t x = (uint8_t)s[i + k];
    const uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (x < l || x > h) return 0;
  }
  return n;
}
}  // namespace

bool utf8_is_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if ((uint8_t)s[i] < 0x80) { ++i; continue; }
    const int n = strict_sequence(s, i);
    if (n <= 0) return false;
    i += n;
  }
  return true;
}

size_t utf8_valid_prefix(std::string_view s, bool* incomplete_tail) {
  if (incomplete_tail) *incomplete_tail = false;
  size_t i = 0;
  while (i < s.size()) {
    const int n = strict_sequence(s, i);
    if (n < 0 && incomplete_tail) *incomplete_tail = true;
    if (n <= 0) break;
    i += n;
  }
  return i;
}

std::string utf8_sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const int n = strict_sequence(s, i);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    // A maximal subpart: the lead byte plus the continuation bytes that were still acceptable.
    const size_t skip = n < 0 ? (size_t)-n : 1;
    size_t k = 1;
    if (n == 0) {
      // Count how many bytes formed a valid prefix before the offending byte.
      for (; k < 4 && i + k < s.size(); ++k) {
        std::string_view probe = s.substr(i, k + 1);
        if (strict_sequence(probe, 0) == 0) break;
      }
    }
    out += "\xEF\xBF\xBD";
    i += n < 0 ? skip : k;
  }
  return out;
}

const std::string& byte_to_unicode_utf8(uint8_t byte) { return maps().to_utf8[byte]; }

int unicode_to_byte(uint32_t cpt) { return cpt < 512 ? maps().from_cpt[cpt] : -1; }

}  // namespace hearth::tok
