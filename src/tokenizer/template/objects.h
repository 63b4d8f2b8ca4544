// Template objects with behaviour: namespace(), the loop variable, macros and callers, builtin
// functions and bound methods, cycler() and joiner().
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/template/interpreter.h"

namespace hearth::jinja {

class namespace_object : public object_data {
 public:
  value attrs = value::dict();
  const char* type_name() const override { return "Namespace"; }
  std::string repr() const override { return "<Namespace " + jinja::repr(attrs) + ">"; }
  bool get_attr(std::string_view name, value& out) const override;
  int depth() const override { return attrs.depth(); }
  void set(std::string_view name, value v) { dict_set(attrs, value::string(std::string(name)), std::move(v)); }
  void clear() { attrs = value::dict(); }
};

struct loop_object : public object_data {
  std::vector<value> seq;
  int64_t index0 = -1;
  int depth0 = 0;
  bool changed_set = false;
  value last_changed;
  const stmt* def = nullptr;  // set for recursive loops
  scope* where = nullptr;
  interpreter* in = nullptr;

  const char* type_name() const override { return "LoopContext"; }
  std::string repr() const override;
  bool get_attr(std::string_view name, value& out) const override;
  bool callable() const override { return true; }
  value call(interpreter& in, call_args& args) override;
  bool has_len() const override { return true; }
  size_t len() const override { return seq.size(); }
  bool iterable() const override { return true; }
  std::vector<value> items() const override { return seq; }
};

class macro_object : public object_data {
 public:
  macro_object(const stmt* d, scope* c, std::string n) : def(d), closure(c), name(std::move(n)) {}
  const stmt* def;
  scope* closure;
  std::string name;
  const char* type_name() const override { return "Macro"; }
  std::string repr() const override { return "<Macro " + repr_string(name) + ">"; }
  bool get_attr(std::string_view attr, value& out) const override;
  bool callable() const override { return true; }
  value call(interpreter& in, call_args& args) override;
};

using native_fn = std::function<value(interpreter&, call_args&)>;

// A builtin function or a method bound to a value ("<built-in method upper of str object>").
class native_object : public object_data {
 public:
  native_object(std::string n, native_fn f, const char* tn = "builtin_function_or_method", std::string owner = {})
      : name(std::move(n)), fn(std::move(f)), tname(tn), owner_type(std::move(owner)) {}
  std::string name;
  native_fn fn;
  const char* tname;
  std::string owner_type;
  const char* type_name() const override { return tname; }
  std::string repr() const override;
  bool callable() const override { return true; }
  value call(interpreter& in, call_args& args) override { return fn(in, args); }
};

class cycler_object : public object_data {
 public:
  std::vector<value> items;
  size_t pos = 0;
  const char* type_name() const override { return "Cycler"; }
  std::string repr() const override { return "<jinja2.utils.Cycler object at 0x7f0000000000>"; }
  bool get_attr(std::string_view name, value& out) const override;
};

class joiner_object : public object_data {
 public:
  std::string sep = ", ";
  bool used = false;
  const char* type_name() const override { return "Joiner"; }
  std::string repr() const override { return "<jinja2.utils.Joiner object at 0x7f0000000000>"; }
  bool get_attr(std::string_view name, value& out) const override;
  bool callable() const override { return true; }
  value call(interpreter& in, call_args& args) override;
};

value make_native(std::string name, native_fn fn, std::string owner_type = {});

// Argument binding for builtins, in Python's order: positionals, then keywords, then defaults.
class arg_binder {
 public:
  arg_binder(const char* fname, call_args& a) : fname_(fname), a_(a) {}
  value get(const char* name, value fallback);
  bool opt(const char* name, value& out);  // false when not given
  std::vector<value> rest();               // remaining positionals (*args)
  void done();                             // raises TypeError on leftovers

 private:
  const char* fname_;
  call_args& a_;
  size_t next_ = 0;
};

}  // namespace hearth::jinja
