// GGUF reader and writer (versions 1, 2 and 3, little-endian). The reader validates every count,
// length, offset and shape against the file before using it, so a truncated or hostile file gives a
// clear error and never a read outside the mapping. Tensor data is memory-mapped, not copied.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "formats/mmap.h"

namespace hearth::gguf {

enum class value_type : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
  u64 = 10, i64 = 11, f64 = 12,
};
const char* value_type_name(value_type t);
bool is_integer(value_type t);
bool is_float(value_type t);

// A metadata value: a scalar, a string, or an array (of scalars, strings or arrays).
class value {
 public:
  value() = default;
  static value of_u32(uint32_t v) { value x; x.type_ = value_type::u32; x.u_ = v; return x; }
  static value of_i32(int32_t v) { value x; x.type_ = value_type::i32; x.i_ = v; return x; }
  static value of_u64(uint64_t v) { value x; x.type_ = value_type::u64; x.u_ = v; return x; }
  static value of_i64(int64_t v) { value x; x.type_ = value_type::i64; x.i_ = v; return x; }
  static value of_f32(float v) { value x; x.type_ = value_type::f32; x.f_ = v; return x; }
  static value of_f64(double v) { value x; x.type_ = value_type::f64; x.f_ = v; return x; }
  static value of_bool(bool v) { value x; x.type_ = value_type::boolean; x.u_ = v; return x; }
  static value of_string(std::string v) { value x; x.type_ = value_type::string; x.s_ = std::move(v); return x; }
  // Scalar of any numeric type (u8 ... f64, bool) from its bit pattern or value.
  static value scalar(value_type t, uint64_t u, int64_t i, double f);
  static value string_array(std::vector<std::string> v);
  template <typename T> static value numeric_array(value_type elem, const std::vector<T>& v);
  static value array_of_arrays(std::vector<value> v);

  value_type type() const { return type_; }
  bool is_array() const { return type_ == value_type::array; }
  bool is_string() const { return type_ == value_type::string; }
  bool is_number() const { return is_integer(type_) || is_float(type_) || type_ == value_type::boolean; }

  // Scalar accessors; they convert between numeric types and throw on a string/array.
  uint64_t as_u64() const;
  int64_t as_i64() const;
  double as_f64() const;
  bool as_bool() const;
  const std::string& as_string() const;

  // Array accessors.
  value_type elem_type() const { return elem_; }
  size_t size() const;  // element count of an array
  int64_t int_at(size_t i) const;
  double float_at(size_t i) const;
  const std::string& string_at(size_t i) const;
  const value& array_at(size_t i) const;
  const std::vector<std::string>& strings() const { return strings_; }
  const std::vector<uint8_t>& raw() const { return raw_; }  // packed little-endian numbers

  std::string to_string(size_t max_items = 8) const;  // for dumps and errors

 private:
  friend class reader_impl;
  value_type type_ = value_type::u8;
  uint64_t u_ = 0;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  value_type elem_ = value_type::u8;
  std::vector<std::string> strings_;
  std::vector<uint8_t> raw_;
  std::vector<value> items_;
};

struct tensor_info {
  std::string name;
  dtype type = dtype::f32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};
  uint64_t offset = 0;  // relative to the start of the data section
  uint64_t size = 0;    // bytes
  int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class file {
 public:
  // Opens and validates a GGUF file; throws hearth::error naming the problem.
  static std::unique_ptr<file> open(const std::string& path);
  // Parses a GGUF image held in memory (fuzzing, tests). The bytes must outlive the file.
  static std::unique_ptr<file> parse(const uint8_t* data, size_t size, std::string name = "<memory>");

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return size_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, value>>& metadata() const { return kv_; }
  const value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Typed getters: the key must exist with a compatible type, else hearth::error.
  std::string get_string(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  // Optional variants return the fallback when the key is absent (but throw on a wrong type).
  std::string get_string(std::string_view key, const std::string& fallback) const;
  int64_t get_int(std::string_view key, int64_t fallback) const;
  double get_float(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;

  const std::vector<tensor_info>& tensors() const { return tensors_; }
  const tensor_info* find_tensor(std::string_view name) const;
  // Pointer to a tensor's bytes inside the mapping.
  const uint8_t* tensor_data(const tensor_info& t) const { return base_ + data_offset_ + t.offset; }
  const uint8_t* base() const { return base_; }
  const mapped_file* mapping() const { return map_.get(); }
  uint64_t tensor_data_bytes() const;  // sum of tensor sizes

 private:
  friend class reader_impl;
  std::string path_;
  std::unique_ptr<mapped_file> map_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, value>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<tensor_info> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Writes GGUF v3 files (used by tests, the synthetic model tool and the hub's metadata rewrites).
// The file is written to a temporary name and renamed into place, so it is never seen half-written.
class writer {
 public:
  void set(const std::string& key, value v);
  void set_string(const std::string& key, std::string v) { set(key, value::of_string(std::move(v))); }
  void set_u32(const std::string& key, uint32_t v) { set(key, value::of_u32(v)); }
  void set_i32(const std::string& key, int32_t v) { set(key, value::of_i32(v)); }
  void set_f32(const std::string& key, float v) { set(key, value::of_f32(v)); }
  void set_bool(const std::string& key, bool v) { set(key, value::of_bool(v)); }
  // Copies every metadata key of another file (e.g. a tokenizer) except those already set.
  void copy_metadata(const file& src, std::string_view prefix = "");
  void set_alignment(uint32_t a) { alignment_ = a; }
  // Adds a tensor; data must hold row_bytes(type, ne[0]) * rows bytes and is copied.
  void add_tensor(const std::string& name, dtype type, std::initializer_list<int64_t> ne, const void* data);
  void add_tensor(const std::string& name, dtype type, const int64_t* ne, int n_dims, const void* data);
  // Declares a tensor without its bytes: to_bytes() and write() store zeros for it, or the caller
  // writes the bytes itself at the offsets layout() gives (multi-GiB files with no copy in memory).
  void add_tensor_info(const std::string& name, dtype type, const int64_t* ne, int n_dims);
  // The file as written: the header (metadata and tensor infos, padded to the alignment), then the
  // data section of data_bytes, where tensor i starts at offsets[i].
  struct file_layout {
    std::vector<uint8_t> header;
    std::vector<uint64_t> offsets;
    uint64_t data_bytes = 0;
  };
  file_layout layout() const;
  // Serialises to bytes (for in-memory tests and fuzz seeds).
  std::vector<uint8_t> to_bytes() const;
  void write(const std::string& path) const;

 private:
  struct pending { tensor_info info; std::vector<uint8_t> bytes; };
  std::vector<std::pair<std::string, value>> kv_;
  std::vector<pending> tensors_;
  uint32_t alignment_ = 32;
};

// Atomically writes bytes to path (temporary file + fsync + rename).
void write_file_atomic(const std::string& path, const uint8_t* data, size_t size);

}  // namespace hearth::gguf
