// Values of the template engine: a small model of the Python objects Jinja2 templates see (None,
// bool, int, float, str and Markup, list/tuple/range, dict and its views, generators, Undefined,
// namespaces, macros, ...), with Python's semantics for printing, equality, ordering and arithmetic.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"

namespace hearth::jinja {

// What went wrong, in Python/Jinja terms (TemplateSyntaxError, UndefinedError, TypeError, ...).
enum class error_kind {
  syntax, template_assertion, undefined, type, value, security, raised, limit, unsupported, runtime,
  zero_division, overflow, index, key, assertion, filter_argument, python_runtime
};
const char* error_kind_name(error_kind k);

// A failure while parsing or rendering a template. what() reads "chat template line N: message".
class template_error : public hearth::error {
 public:
  template_error(error_kind k, const std::string& message, int line);
  error_kind kind() const { return kind_; }
  int line() const { return line_; }
  const std::string& message() const { return message_; }  // without the line prefix

 private:
  error_kind kind_;
  int line_;
  std::string message_;
};

// Thrown below the interpreter without a line; the interpreter adds the line of the node it ran.
struct raw_error {
  error_kind kind = error_kind::runtime;
  std::string message;
};
[[noreturn]] void raise(error_kind k, std::string message);

class value;
class interpreter;
struct call_args;

enum class kind : uint8_t { undefined, none, boolean, integer, floating, string, sequence, dict, iterator, object };
// Sequences share one representation; the tag decides type name, printing and what is allowed.
enum class seq_tag : uint8_t { list, tuple, range, dict_keys, dict_values, dict_items };

struct heap_data : std::enable_shared_from_this<heap_data> {
  virtual ~heap_data() = default;
};

class value {
 public:
  value() = default;  // Undefined with no information
  static value none() { value v; v.k_ = kind::none; return v; }
  static value boolean(bool b) { value v; v.k_ = kind::boolean; v.i_ = b; return v; }
  static value integer(int64_t i) { value v; v.k_ = kind::integer; v.i_ = i; return v; }
  static value floating(double f) { value v; v.k_ = kind::floating; v.f_ = f; return v; }
  static value string(std::string s, bool markup = false);
  static value list(std::vector<value> items) { return sequence(seq_tag::list, std::move(items)); }
  static value tuple(std::vector<value> items) { return sequence(seq_tag::tuple, std::move(items)); }
  static value sequence(seq_tag tag, std::vector<value> items);
  static value range(int64_t start, int64_t stop, int64_t step);
  static value dict();  // empty dict, fill with dict_set
  static value iterator(std::vector<value> items, const char* type_name);
  // A generator whose body raised after producing `items`.
  static value failed_iterator(std::vector<value> items, const char* type_name, raw_error error);
  static value object(std::shared_ptr<heap_data> obj);
  // Undefined values and the message they raise when used (Jinja's Undefined hint/obj/name).
  static value undefined_name(std::string name);
  static value undefined_hint(std::string hint);
  static value undefined_member(const value& obj, const value& name);
  static value unsafe_member(const value& obj, std::string_view attr);

  kind k() const { return k_; }
  bool is_undefined() const { return k_ == kind::undefined; }
  bool is_none() const { return k_ == kind::none; }
  bool is_bool() const { return k_ == kind::boolean; }
  bool is_int() const { return k_ == kind::integer; }       // int, not bool
  bool is_integral() const { return k_ == kind::integer || k_ == kind::boolean; }  // Python isinstance(x, int)
  bool is_float() const { return k_ == kind::floating; }
  bool is_number() const { return is_integral() || is_float(); }
  bool is_string() const { return k_ == kind::string; }
  bool is_markup() const { return k_ == kind::string && markup_; }
  bool is_seq() const { return k_ == kind::sequence; }
  bool is_list() const;
  bool is_tuple() const;
  bool is_dict() const { return k_ == kind::dict; }
  bool is_iterator() const { return k_ == kind::iterator; }
  bool is_object() const { return k_ == kind::object; }

  bool get_bool() const { return i_ != 0; }
  int64_t get_int() const { return i_; }  // int or bool
  double get_float() const { return f_; }
  double to_double() const { return k_ == kind::floating ? f_ : static_cast<double>(i_); }
  const std::string& str() const;  // string value
  struct seq_data& seq() const;
  struct dict_data& dct() const;
  struct iter_data& iter() const;
  struct undef_data* undef() const;  // may be null
  template <typename T> T* as() const { return k_ == kind::object ? dynamic_cast<T*>(ptr_.get()) : nullptr; }
  const heap_data* identity() const { return ptr_.get(); }

  // Nesting depth of containers (1 for scalars); bounded so printing and freeing never overflow.
  int depth() const;

 private:
  kind k_ = kind::undefined;
  bool markup_ = false;
  union {
    int64_t i_ = 0;
    double f_;
  };
  std::shared_ptr<heap_data> ptr_;
};

struct str_data : heap_data {
  std::string s;
};

struct seq_data : heap_data {
  seq_tag tag = seq_tag::list;
  std::vector<value> items;
  int64_t r_start = 0, r_stop = 0, r_step = 1;  // range(...) as written, for printing
  int depth = 1;
  bool group = false;  // groupby's (grouper, list) tuples, which also have those attributes
};

struct dict_data : heap_data {
  std::vector<std::pair<value, value>> items;
  std::unordered_map<std::string, size_t> index;  // string keys -> position in items
  int depth = 1;
  const value* find(const value& key) const;
  const value* find(std::string_view key) const;
  void set(value key, value v);  // insert or replace (keeps first position, like Python)
};

struct iter_data : heap_data {
  std::vector<value> items;
  size_t pos = 0;
  const char* type_name = "generator";
  int depth = 1;
  // Python generators run lazily: an error in the generator body surfaces only when iteration
  // reaches it. Items produced before the error stay consumable.
  bool failed = false;
  raw_error error;
  void fail_if_exhausted() const {
    if (failed && pos >= items.size()) throw error;
  }
};

struct undef_data : heap_data {
  std::string hint;      // explicit message, when set
  std::string name;      // repr of the missing name or key
  std::string obj_desc;  // Jinja's object_type_repr of the container, when there was one
  bool has_obj = false;
  bool name_is_str = true;
  bool security = false;  // sandbox refusal: raises SecurityError
};

// Objects with behaviour: namespaces, loops, macros, builtins, bound methods, cyclers, joiners.
class object_data : public heap_data {
 public:
  virtual const char* type_name() const = 0;
  virtual std::string repr() const;
  // Python getattr; false when the attribute does not exist.
  virtual bool get_attr(std::string_view name, value& out) const { return false; }
  virtual bool callable() const { return false; }
  virtual value call(interpreter& in, call_args& args);
  virtual bool has_len() const { return false; }
  virtual size_t len() const { return 0; }
  virtual bool iterable() const { return false; }
  virtual std::vector<value> items() const { return {}; }
  virtual int depth() const { return 1; }
};

struct call_args {
  std::vector<value> pos;
  std::vector<std::pair<std::string, value>> kw;
  // Removes a keyword argument into out; false when absent.
  bool take(std::string_view name, value& out);
};

// ---- Python semantics on values (ops.cpp) ----
const char* type_name(const value& v);  // Python type(x).__name__
std::string object_type_repr(const value& v);  // Jinja's object_type_repr ("dict object", "None")
bool truthy(const value& v);
std::string to_str(const value& v);   // Python str(x)
std::string repr(const value& v);     // Python repr(x)
std::string repr_string(std::string_view s);
std::string float_repr(double d);
// Python int(d) for a float as decimal digits (exact, any magnitude); raises for NaN and infinities.
std::string float_to_int_text(double d);
bool equal(const value& a, const value& b);
bool less(const value& a, const value& b, const char* op = "<");  // raises TypeError when unordered
int compare_for_sort(const value& a, const value& b);            // -1/0/1, raises when unordered
bool hashable(const value& v);
void require_hashable(const value& v);
// Length as Python len(); raises TypeError when there is none.
size_t length(const value& v);
bool has_length(const value& v);
// Iteration as Python iter(); consumes generators; raises TypeError when not iterable.
std::vector<value> iterate(const value& v);
bool is_iterable(const value& v);
// Undefined used in an operation that Jinja's Undefined refuses: raises UndefinedError/SecurityError.
[[noreturn]] void fail_undefined(const value& v);
std::string undefined_message(const value& v);

// Python operators. Markup strings escape the plain strings they are combined with, as markupsafe does.
value op_add(const value& a, const value& b);
value op_sub(const value& a, const value& b);
value op_mul(const value& a, const value& b);
value op_div(const value& a, const value& b);
value op_floordiv(const value& a, const value& b);
value op_mod(const value& a, const value& b);
value op_pow(const value& a, const value& b);
value op_neg(const value& a);
value op_pos(const value& a);
bool op_contains(const value& container, const value& item);  // item in container
// Python printf-style formatting: fmt % args (args a tuple, a dict or a single value).
std::string percent_format(const std::string& fmt, const value& args, bool markup);

// Code-point helpers on string values.
size_t str_len(const value& s);
value str_index(const value& s, int64_t i, bool& ok);

value make_dict(std::vector<std::pair<value, value>> items);
value make_string_list(const std::vector<std::string>& items, bool markup = false);
void dict_set(value& d, value key, value v);

// Bounds that keep hostile templates finite. They hold per render: the interpreter sets them for
// its thread from render_limits. Work is counted in steps; operations on big strings and lists
// charge steps in proportion to the bytes or items they touch, so no single expression can run
// for long without hitting max_steps.
constexpr int max_value_depth = 512;
struct size_limits {
  size_t max_string_bytes = size_t(64) << 20;
  size_t max_sequence_items = size_t(16) << 20;
  uint64_t max_steps = UINT64_MAX;
  uint64_t steps = 0;
};
size_limits& current_size_limits();
void check_string_size(size_t n);
void check_sequence_size(size_t n);
void charge_steps(uint64_t n);
inline void charge_bytes(size_t n) { charge_steps(1 + n / 64); }
// Substring search that charges the work it does (bytes scanned and compared).
size_t str_find(std::string_view hay, std::string_view needle, size_t pos = 0);
size_t str_rfind(std::string_view hay, std::string_view needle);

// Markup escaping (markupsafe.escape).
std::string html_escape(std::string_view s);

}  // namespace hearth::jinja
