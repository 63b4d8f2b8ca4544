#include "formats/gguf.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace hearth::gguf {

namespace {
constexpr uint32_t k_magic = 0x46554747;  // "GGUF" little-endian
constexpr int k_max_array_depth = 8;      // nested arrays deeper than this are rejected
constexpr uint64_t k_max_string = 1ull << 30;

size_t scalar_size(value_type t) {
  switch (t) {
    case value_type::u8: case value_type::i8: case value_type::boolean: return 1;
    case value_type::u16: case value_type::i16: return 2;
    case value_type::u32: case value_type::i32: case value_type::f32: return 4;
    case value_type::u64: case value_type::i64: case value_type::f64: return 8;
    default: return 0;
  }
}

bool valid_type(uint32_t t) { return t <= (uint32_t)value_type::f64; }

template <typename T> T load(const uint8_t* p) { T v; std::memcpy(&v, p, sizeof v); return v; }

// A float as an integer without undefined behaviour: truncated, saturated at the int64 range, NaN
// as 0 (a fuzzer found 1.9e22 in an f32 field).
int64_t float_to_i64(double f) {
  if (std::isnan(f)) return 0;
  if (f >= 9.2233720368547758e18) return INT64_MAX;
  if (f <= -9.2233720368547758e18) return INT64_MIN;
  return (int64_t)f;
}

// Reads the numeric scalar of type t at p into the three views of value.
void decode_scalar(value_type t, const uint8_t* p, uint64_t& u, int64_t& i, double& f) {
  switch (t) {
    case value_type::u8: u = load<uint8_t>(p); i = (int64_t)u; f = (double)u; break;
    case value_type::i8: i = load<int8_t>(p); u = (uint64_t)i; f = (double)i; break;
    case value_type::u16: u = load<uint16_t>(p); i = (int64_t)u; f = (double)u; break;
    case value_type::i16: i = load<int16_t>(p); u = (uint64_t)i; f = (double)i; break;
    case value_type::u32: u = load<uint32_t>(p); i = (int64_t)u; f = (double)u; break;
    case value_type::i32: i = load<int32_t>(p); u = (uint64_t)i; f = (double)i; break;
    case value_type::u64: u = load<uint64_t>(p); i = (int64_t)u; f = (double)u; break;
    case value_type::i64: i = load<int64_t>(p); u = (uint64_t)i; f = (double)i; break;
    case value_type::f32: f = load<float>(p); i = float_to_i64(f); u = (uint64_t)i; break;
    case value_type::f64: f = load<double>(p); i = float_to_i64(f); u = (uint64_t)i; break;
    case value_type::boolean: u = load<uint8_t>(p) != 0; i = (int64_t)u; f = (double)u; break;
    default: break;
  }
}
}  // namespace

const char* value_type_name(value_type t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  return valid_type((uint32_t)t) ? names[(uint32_t)t] : "?";
}
bool is_integer(value_type t) {
  switch (t) {
    case value_type::u8: case value_type::i8: case value_type::u16: case value_type::i16:
    case value_type::u32: case value_type::i32: case value_type::u64: case value_type::i64: return true;
    default: return false;
  }
}
bool is_float(value_type t) { return t == value_type::f32 || t == value_type::f64; }

// ---------------------------------------------------------------------------------------------
// value

value value::scalar(value_type t, uint64_t u, int64_t i, double f) {
  value x;
  x.type_ = t;
  x.u_ = u;
  x.i_ = i;
  x.f_ = f;
  return x;
}

value value::string_array(std::vector<std::string> v) {
  value x;
  x.type_ = value_type::array;
  x.elem_ = value_type::string;
  x.strings_ = std::move(v);
  return x;
}

template <typename T> value value::numeric_array(value_type elem, const std::vector<T>& v) {
  if (scalar_size(elem) != sizeof(T)) fail("gguf: array element type {} does not match {}-byte values", value_type_name(elem), sizeof(T));
  value x;
  x.type_ = value_type::array;
  x.elem_ = elem;
  x.raw_.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(x.raw_.data(), v.data(), x.raw_.size());
  return x;
}
template value value::numeric_array<int32_t>(value_type, const std::vector<int32_t>&);
template value value::numeric_array<uint32_t>(value_type, const std::vector<uint32_t>&);
template value value::numeric_array<float>(value_type, const std::vector<float>&);
template value value::numeric_array<int8_t>(value_type, const std::vector<int8_t>&);
template value value::numeric_array<uint8_t>(value_type, const std::vector<uint8_t>&);
template value value::numeric_array<int64_t>(value_type, const std::vector<int64_t>&);
template value value::numeric_array<double>(value_type, const std::vector<double>&);

value value::array_of_arrays(std::vector<value> v) {
  value x;
  x.type_ = value_type::array;
  x.elem_ = value_type::array;
  x.items_ = std::move(v);
  return x;
}

uint64_t value::as_u64() const {
  if (!is_number()) fail("gguf: expected a number, found {}", value_type_name(type_));
  if (is_integer(type_) && !(type_ == value_type::u64) && i_ < 0) fail("gguf: expected a non-negative number, found {}", i_);
  return u_;
}
int64_t value::as_i64() const {
  if (!is_number()) fail("gguf: expected a number, found {}", value_type_name(type_));
  if (type_ == value_type::u64 && u_ > (uint64_t)std::numeric_limits<int64_t>::max()) fail("gguf: value {} too large", u_);
  return i_;
}
double value::as_f64() const {
  if (!is_number()) fail("gguf: expected a number, found {}", value_type_name(type_));
  return f_;
}
bool value::as_bool() const {
  if (!is_number()) fail("gguf: expected a bool, found {}", value_type_name(type_));
  return u_ != 0;
}
const std::string& value::as_string() const {
  if (type_ != value_type::string) fail("gguf: expected a string, found {}", value_type_name(type_));
  return s_;
}

size_t value::size() const {
  if (type_ != value_type::array) return 0;
  if (elem_ == value_type::string) return strings_.size();
  if (elem_ == value_type::array) return items_.size();
  return raw_.size() / scalar_size(elem_);
}

int64_t value::int_at(size_t i) const {
  if (type_ != value_type::array || !(is_integer(elem_) || is_float(elem_) || elem_ == value_type::boolean))
    fail("gguf: expected a numeric array");
  if (i >= size()) fail("gguf: array index {} out of range ({} items)", i, size());
  uint64_t u = 0; int64_t s = 0; double f = 0;
  decode_scalar(elem_, raw_.data() + i * scalar_size(elem_), u, s, f);
  return s;
}
double value::float_at(size_t i) const {
  if (type_ != value_type::array || !(is_integer(elem_) || is_float(elem_) || elem_ == value_type::boolean))
    fail("gguf: expected a numeric array");
  if (i >= size()) fail("gguf: array index {} out of range ({} items)", i, size());
  uint64_t u = 0; int64_t s = 0; double f = 0;
  decode_scalar(elem_, raw_.data() + i * scalar_size(elem_), u, s, f);
  return f;
}
const std::string& value::string_at(size_t i) const {
  if (type_ != value_type::array || elem_ != value_type::string) fail("gguf: expected a string array");
  if (i >= strings_.size()) fail("gguf: array index {} out of range ({} items)", i, strings_.size());
  return strings_[i];
}
const value& value::array_at(size_t i) const {
  if (type_ != value_type::array || elem_ != value_type::array) fail("gguf: expected an array of arrays");
  if (i >= items_.size()) fail("gguf: array index {} out of range ({} items)", i, items_.size());
  return items_[i];
}

std::string value::to_string(size_t max_items) const {
  switch (type_) {
    case value_type::string: return fmt::format("\"{}\"", s_.size() > 60 ? s_.substr(0, 57) + "..." : s_);
    case value_type::boolean: return u_ ? "true" : "false";
    case value_type::f32: case value_type::f64: return fmt::format("{}", f_);
    case value_type::u64: return fmt::format("{}", u_);
    case value_type::array: {
      std::string out = fmt::format("{}[{}]{{", value_type_name(elem_), size());
      const size_t n = std::min(size(), max_items);
      for (size_t i = 0; i < n; ++i) {
        if (i) out += ", ";
        if (elem_ == value_type::string) out += fmt::format("\"{}\"", strings_[i]);
        else if (elem_ == value_type::array) out += items_[i].to_string(max_items);
        else if (is_float(elem_)) out += fmt::format("{}", float_at(i));
        else out += fmt::format("{}", int_at(i));
      }
      if (size() > n) out += ", ...";
      return out + "}";
    }
    default: return fmt::format("{}", i_);
  }
}

// ---------------------------------------------------------------------------------------------
// reader

class reader_impl {
 public:
  reader_impl(file& f, const uint8_t* data, size_t size) : f_(f), p_(data), size_(size) {}

  void parse() {
    const uint32_t magic = u32("magic");
    if (magic != k_magic) {
      if (size_ >= 4 && std::memcmp(p_, "GGML", 4) == 0) bad("this is a legacy GGML/GGJT file, not GGUF; convert it with llama.cpp's tools");
      bad("not a GGUF file (bad magic)");
    }
    const uint32_t version = u32("version");
    if (version == 0 || (version & 0xffff) == 0) bad("big-endian GGUF files are not supported");
    if (version > 3) bad(fmt::format("unsupported GGUF version {} (supported: 1, 2, 3)", version));
    f_.version_ = version;
    v1_ = version == 1;
    const uint64_t n_tensors = count("tensor count");
    const uint64_t n_kv = count("metadata count");
    // Each key/value takes at least 13 bytes and each tensor info at least 24: bound the counts by
    // what the file could hold before allocating anything for them.
    if (n_kv > remaining() / (v1_ ? 9 : 13)) bad(fmt::format("metadata count {} is larger than the file can hold", n_kv));
    if (n_tensors > remaining() / (v1_ ? 16 : 24)) bad(fmt::format("tensor count {} is larger than the file can hold", n_tensors));

    f_.kv_.reserve(n_kv);
    for (uint64_t k = 0; k < n_kv; ++k) {
      std::string key = str("metadata key");
      if (key.empty()) bad(fmt::format("metadata entry {} has an empty key", k));
      const uint32_t t = u32("value type");
      if (!valid_type(t)) bad(fmt::format("metadata '{}' has invalid type {}", key, t));
      value v = read_value((value_type)t, key, 0);
      if (f_.kv_index_.count(key)) bad(fmt::format("duplicate metadata key '{}'", key));
      f_.kv_index_.emplace(key, f_.kv_.size());
      f_.kv_.emplace_back(std::move(key), std::move(v));
    }

    if (const value* a = f_.find("general.alignment")) {
      if (a->type() != value_type::u32) bad("general.alignment must be a u32");
      const uint64_t al = a->as_u64();
      if (al == 0 || (al & (al - 1)) != 0) bad(fmt::format("general.alignment {} is not a power of two", al));
      f_.alignment_ = al;
    }

    f_.tensors_.reserve(n_tensors);
    for (uint64_t k = 0; k < n_tensors; ++k) {
      tensor_info ti;
      ti.name = str("tensor name");
      if (ti.name.empty()) bad(fmt::format("tensor {} has an empty name", k));
      ti.n_dims = (int)u32("tensor dimension count");
      if (ti.n_dims < 1 || ti.n_dims > 4) bad(fmt::format("tensor '{}' has {} dimensions (1 to 4 allowed)", ti.name, ti.n_dims));
      for (int d = 0; d < ti.n_dims; ++d) {
        const uint64_t n = v1_ ? u32("tensor dimension") : u64("tensor dimension");
        if (n == 0 || n > (uint64_t)std::numeric_limits<int32_t>::max() * 64ull)
          bad(fmt::format("tensor '{}' has invalid dimension {} = {}", ti.name, d, n));
        ti.ne[d] = (int64_t)n;
      }
      const uint32_t type = u32("tensor type");
      const dtype_traits* tr = dtype_info(type);
      if (!tr) bad(fmt::format("tensor '{}' has unknown type id {}", ti.name, type));
      ti.type = (dtype)type;
      ti.offset = u64("tensor offset");
      // Element count and byte size, with overflow checks.
      uint64_t nel = 1;
      for (int d = 0; d < 4; ++d) {
        if (nel > std::numeric_limits<uint64_t>::max() / (uint64_t)ti.ne[d]) bad(fmt::format("tensor '{}' is too large", ti.name));
        nel *= (uint64_t)ti.ne[d];
      }
      if (ti.ne[0] % tr->block_size != 0)
        bad(fmt::format("tensor '{}': row of {} elements is not a multiple of the {} block size {}", ti.name, ti.ne[0], tr->name, tr->block_size));
      const uint64_t blocks = nel / (uint64_t)tr->block_size;
      if (blocks > std::numeric_limits<uint64_t>::max() / tr->type_size) bad(fmt::format("tensor '{}' is too large", ti.name));
      ti.size = blocks * tr->type_size;
      if (f_.tensor_index_.count(ti.name)) bad(fmt::format("duplicate tensor name '{}'", ti.name));
      f_.tensor_index_.emplace(ti.name, f_.tensors_.size());
      f_.tensors_.push_back(std::move(ti));
    }

    // The data section starts at the next multiple of the alignment.
    uint64_t off = pos_;
    if (n_tensors > 0 || off % f_.alignment_ != 0) off = (off + f_.alignment_ - 1) / f_.alignment_ * f_.alignment_;
    if (n_tensors == 0 && off > size_) off = size_;
    f_.data_offset_ = off;
    const uint64_t data_size = size_ >= off ? size_ - off : 0;
    if (n_tensors > 0 && off > size_) bad("file ends before its tensor data section");
    for (const tensor_info& ti : f_.tensors_) {
      if (ti.offset % f_.alignment_ != 0)
        bad(fmt::format("tensor '{}' offset {} is not aligned to {}", ti.name, ti.offset, f_.alignment_));
      if (ti.offset > data_size || ti.size > data_size - ti.offset)
        bad(fmt::format("tensor '{}' ({} bytes at offset {}) extends past the end of the file (truncated?)", ti.name, ti.size, ti.offset));
    }
  }

 private:
  [[noreturn]] void bad(const std::string& what) { fail(error_kind::bad_format, "{}: {}", f_.path_, what); }

  uint64_t remaining() const { return size_ - pos_; }
  void need(uint64_t n, const char* what) {
    if (n > remaining()) bad(fmt::format("truncated file: {} at byte {} needs {} bytes, {} left", what, pos_, n, remaining()));
  }
  uint32_t u32(const char* what) { need(4, what); uint32_t v = load<uint32_t>(p_ + pos_); pos_ += 4; return v; }
  uint64_t u64(const char* what) { need(8, what); uint64_t v = load<uint64_t>(p_ + pos_); pos_ += 8; return v; }
  uint64_t count(const char* what) { return v1_ ? u32(what) : u64(what); }
  std::string str(const char* what) {
    const uint64_t n = count(what);
    if (n > k_max_string) bad(fmt::format("{} of length {} is implausibly long", what, n));
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), (size_t)n);
    pos_ += n;
    return s;
  }

  value read_value(value_type t, const std::string& key, int depth) {
    if (t == value_type::string) return value::of_string(str("string value"));
    if (t == value_type::array) {
      if (depth >= k_max_array_depth) bad(fmt::format("metadata '{}' nests arrays deeper than {}", key, k_max_array_depth));
      const uint32_t et = u32("array element type");
      if (!valid_type(et)) bad(fmt::format("metadata '{}' has an array of invalid type {}", key, et));
      const uint64_t n = count("array length");
      value v;
      v.type_ = value_type::array;
      v.elem_ = (value_type)et;
      if (v.elem_ == value_type::string) {
        if (n > remaining() / (v1_ ? 4 : 8)) bad(fmt::format("metadata '{}': string array of {} items exceeds the file", key, n));
        v.strings_.reserve(n);
        for (uint64_t i = 0; i < n; ++i) v.strings_.push_back(str("string array item"));
      } else if (v.elem_ == value_type::array) {
        if (n > remaining() / (v1_ ? 8 : 12)) bad(fmt::format("metadata '{}': array of {} arrays exceeds the file", key, n));
        v.items_.reserve(n);
        // Nested arrays: each item is an (element type, length, items) triple, as llama.cpp writes them.
        for (uint64_t i = 0; i < n; ++i) v.items_.push_back(read_value(value_type::array, key, depth + 1));
      } else {
        const size_t es = scalar_size(v.elem_);
        if (n > remaining() / es) bad(fmt::format("metadata '{}': array of {} {} exceeds the file", key, n, value_type_name(v.elem_)));
        v.raw_.assign(p_ + pos_, p_ + pos_ + n * es);
        pos_ += n * es;
      }
      return v;
    }
    const size_t es = scalar_size(t);
    need(es, "scalar value");
    uint64_t u = 0; int64_t i = 0; double f = 0;
    decode_scalar(t, p_ + pos_, u, i, f);
    pos_ += es;
    return value::scalar(t, u, i, f);
  }

  file& f_;
  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
  bool v1_ = false;
};

std::unique_ptr<file> file::open(const std::string& path) {
  auto map = std::make_unique<mapped_file>(path);
  auto f = std::unique_ptr<file>(new file());
  f->path_ = path;
  f->base_ = map->data();
  f->size_ = map->size();
  f->map_ = std::move(map);
  reader_impl(*f, f->base_, f->size_).parse();
  return f;
}

std::unique_ptr<file> file::parse(const uint8_t* data, size_t size, std::string name) {
  auto f = std::unique_ptr<file>(new file());
  f->path_ = std::move(name);
  f->base_ = data;
  f->size_ = size;
  reader_impl(*f, data, size).parse();
  return f;
}

const value* file::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const tensor_info* file::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

uint64_t file::tensor_data_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors_) n += t.size;
  return n;
}

namespace {
const value& require_key(const file& f, std::string_view key) {
  const value* v = f.find(key);
  if (!v) fail(error_kind::bad_format, "{}: missing metadata key '{}'", f.path(), key);
  return *v;
}
template <typename F> auto typed(const file& f, std::string_view key, F get) {
  try {
    return get(require_key(f, key));
  } catch (const error& e) {
    if (e.kind() == error_kind::bad_format) throw;
    fail(error_kind::bad_format, "{}: metadata '{}': {}", f.path(), key, e.what());
  }
}
}  // namespace

std::string file::get_string(std::string_view key) const { return typed(*this, key, [](const value& v) { return v.as_string(); }); }
int64_t file::get_int(std::string_view key) const { return typed(*this, key, [](const value& v) { return v.as_i64(); }); }
double file::get_float(std::string_view key) const { return typed(*this, key, [](const value& v) { return v.as_f64(); }); }
bool file::get_bool(std::string_view key) const { return typed(*this, key, [](const value& v) { return v.as_bool(); }); }
std::string file::get_string(std::string_view key, const std::string& fb) const { return has(key) ? get_string(key) : fb; }
int64_t file::get_int(std::string_view key, int64_t fb) const { return has(key) ? get_int(key) : fb; }
double file::get_float(std::string_view key, double fb) const { return has(key) ? get_float(key) : fb; }
bool file::get_bool(std::string_view key, bool fb) const { return has(key) ? get_bool(key) : fb; }

// ---------------------------------------------------------------------------------------------
// writer

void writer::set(const std::string& key, value v) {
  for (auto& kv : kv_)
    if (kv.first == key) { kv.second = std::move(v); return; }
  kv_.emplace_back(key, std::move(v));
}

void writer::copy_metadata(const file& src, std::string_view prefix) {
  for (const auto& [k, v] : src.metadata()) {
    if (!prefix.empty() && k.compare(0, prefix.size(), prefix) != 0) continue;
    bool present = false;
    for (auto& kv : kv_) present |= kv.first == k;
    if (!present) kv_.emplace_back(k, v);
  }
}

void writer::add_tensor(const std::string& name, dtype type, std::initializer_list<int64_t> ne, const void* data) {
  add_tensor(name, type, ne.begin(), (int)ne.size(), data);
}

void writer::add_tensor(const std::string& name, dtype type, const int64_t* ne, int n_dims, const void* data) {
  add_tensor_info(name, type, ne, n_dims);
  const auto* b = static_cast<const uint8_t*>(data);
  tensors_.back().bytes.assign(b, b + tensors_.back().info.size);
}

void writer::add_tensor_info(const std::string& name, dtype type, const int64_t* ne, int n_dims) {
  if (n_dims < 1 || n_dims > 4) fail("gguf writer: tensor '{}' has {} dimensions", name, n_dims);
  pending p;
  p.info.name = name;
  p.info.type = type;
  p.info.n_dims = n_dims;
  for (int i = 0; i < n_dims; ++i) p.info.ne[i] = ne[i];
  if (p.info.ne[0] % block_size(type) != 0) fail("gguf writer: tensor '{}' row not a multiple of the block size", name);
  p.info.size = row_bytes(type, p.info.ne[0]) * (uint64_t)(p.info.ne[1] * p.info.ne[2] * p.info.ne[3]);
  tensors_.push_back(std::move(p));
}

namespace {
struct out_buf {
  std::vector<uint8_t> b;
  template <typename T> void put(T v) {
    const size_t at = b.size();
    b.resize(at + sizeof v);
    std::memcpy(b.data() + at, &v, sizeof v);
  }
  void str(const std::string& s) { put<uint64_t>(s.size()); b.insert(b.end(), s.begin(), s.end()); }
  void val(const value& v) {
    switch (v.type()) {
      case value_type::string: str(v.as_string()); break;
      case value_type::array:
        put<uint32_t>((uint32_t)v.elem_type());
        put<uint64_t>(v.size());
        if (v.elem_type() == value_type::string) for (const auto& s : v.strings()) str(s);
        else if (v.elem_type() == value_type::array) for (size_t i = 0; i < v.size(); ++i) val(v.array_at(i));
        else b.insert(b.end(), v.raw().begin(), v.raw().end());
        break;
      case value_type::u8: put<uint8_t>((uint8_t)v.as_u64()); break;
      case value_type::i8: put<int8_t>((int8_t)v.as_i64()); break;
      case value_type::u16: put<uint16_t>((uint16_t)v.as_u64()); break;
      case value_type::i16: put<int16_t>((int16_t)v.as_i64()); break;
      case value_type::u32: put<uint32_t>((uint32_t)v.as_u64()); break;
      case value_type::i32: put<int32_t>((int32_t)v.as_i64()); break;
      case value_type::u64: put<uint64_t>(v.as_u64()); break;
      case value_type::i64: put<int64_t>(v.as_i64()); break;
      case value_type::f32: put<float>((float)v.as_f64()); break;
      case value_type::f64: put<double>(v.as_f64()); break;
      case value_type::boolean: put<uint8_t>(v.as_bool() ? 1 : 0); break;
    }
  }
};
}  // namespace

writer::file_layout writer::layout() const {
  out_buf o;
  o.put<uint32_t>(k_magic);
  o.put<uint32_t>(3);
  o.put<uint64_t>(tensors_.size());
  bool has_alignment = false;
  for (const auto& kv : kv_) has_alignment |= kv.first == "general.alignment";
  o.put<uint64_t>(kv_.size() + (alignment_ != 32 && !has_alignment ? 1 : 0));
  for (const auto& [k, v] : kv_) {
    o.str(k);
    o.put<uint32_t>((uint32_t)v.type());
    o.val(v);
  }
  if (alignment_ != 32 && !has_alignment) {
    o.str("general.alignment");
    o.put<uint32_t>((uint32_t)value_type::u32);
    o.put<uint32_t>(alignment_);
  }
  file_layout l;
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    o.str(t.info.name);
    o.put<uint32_t>((uint32_t)t.info.n_dims);
    for (int d = 0; d < t.info.n_dims; ++d) o.put<uint64_t>((uint64_t)t.info.ne[d]);
    o.put<uint32_t>((uint32_t)t.info.type);
    o.put<uint64_t>(offset);
    l.offsets.push_back(offset);
    l.data_bytes = offset + t.info.size;
    offset += (t.info.size + alignment_ - 1) / alignment_ * alignment_;
  }
  const size_t data_start = (o.b.size() + alignment_ - 1) / alignment_ * alignment_;
  o.b.resize(data_start, 0);
  l.header = std::move(o.b);
  return l;
}

std::vector<uint8_t> writer::to_bytes() const {
  file_layout l = layout();
  std::vector<uint8_t> b = std::move(l.header);
  const size_t data_start = b.size();
  b.resize(data_start + l.data_bytes, 0);
  for (size_t i = 0; i < tensors_.size(); ++i)
    std::copy(tensors_[i].bytes.begin(), tensors_[i].bytes.end(), b.begin() + (ptrdiff_t)(data_start + l.offsets[i]));
  return b;
}

void writer::write(const std::string& path) const {
  const std::vector<uint8_t> bytes = to_bytes();
  write_file_atomic(path, bytes.data(), bytes.size());
}

void write_file_atomic(const std::string& path, const uint8_t* data, size_t size) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(error_kind::io, "cannot create {}: {}", tmp, std::strerror(errno));
  size_t done = 0;
  while (done < size) {
    ssize_t w = ::write(fd, data + done, size - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(error_kind::io, "cannot write {}: {}", tmp, std::strerror(e));
    }
    done += (size_t)w;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail(error_kind::io, "cannot flush {}: {}", tmp, std::strerror(e));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail(error_kind::io, "cannot rename {} to {}: {}", tmp, path, std::strerror(e));
  }
}

}  // namespace hearth::gguf
