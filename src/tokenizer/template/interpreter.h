// The template evaluator: runs a parsed program against a context with Jinja2's scoping (a fresh
// scope per loop iteration and macro call, if-blocks sharing their enclosing scope), its sandboxed
// attribute rules, and step / depth / size limits that stop runaway templates.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/template/ast.h"
#include "tokenizer/template/value.h"

namespace hearth::jinja {

struct render_limits {
  uint64_t max_steps = 20'000'000;          // statements + expression nodes + loop iterations
  int max_call_depth = 100;                 // nested macro / caller / recursive-loop calls
  int max_nesting = 1000;                   // statements and expressions being evaluated at once
  size_t max_output_bytes = size_t(64) << 20;
  size_t max_string_bytes = size_t(64) << 20;   // any single string value
  size_t max_sequence_items = size_t(16) << 20;  // any single list/tuple
};

struct render_options {
  render_limits limits;
  // strftime_now() renders this Unix time (local time zone); -1 means the current time.
  int64_t now = -1;
};

struct scope {
  scope* parent = nullptr;
  std::vector<std::pair<std::string, value>> vars;
  bool captured = false;  // referenced by a macro/caller/loop object: must outlive its block
  value* find(std::string_view name);
  void set(std::string_view name, value v);
};

enum class flow : uint8_t { normal, brk, cont };

class interpreter {
 public:
  interpreter(const program& prog, const render_options& opt, value context);
  ~interpreter();
  std::string render();

  // Used by the builtins.
  value call_value(const value& callee, call_args& args);
  value call_filter(std::string_view name, const value& input, call_args& args, int line);
  bool call_test(std::string_view name, const value& input, call_args& args, int line);
  value getattr(const value& obj, std::string_view name);  // sandboxed obj.name
  value getitem(const value& obj, const value& key);        // sandboxed obj[key]
  void step(uint64_t n = 1);
  const render_options& options() const { return opt_; }
  void track_namespace(const std::shared_ptr<heap_data>& ns) { namespaces_.push_back(ns); }

  // Macro / caller / recursive loop support (objects.cpp).
  value invoke_macro(const stmt& def, scope* closure, const std::string& name, call_args& args, const value& self);
  std::string run_loop_recursive(const stmt& def, scope* where, const value& items, int depth0);

 private:
  const program& prog_;
  render_options opt_;
  value context_;
  int call_depth_ = 0;
  int nesting_ = 0;
  int cur_line_ = 0;
  std::deque<scope> scopes_;
  std::vector<scope*> free_scopes_;
  scope* cur_ = nullptr;
  scope* root_ = nullptr;
  std::vector<std::shared_ptr<heap_data>> namespaces_;
  const value* block_input_ = nullptr;  // body text a {% filter %} / {% set %} block feeds its filter chain

  struct scope_guard;
  struct nesting_guard;
  scope* acquire(scope* parent);
  void release(scope* s);
  void capture_chain(scope* s);

  value lookup(std::string_view name);
  void append_output(std::string& out, std::string_view s);

  flow exec_body(const body& b, std::string& out);
  flow exec(const stmt& s, std::string& out);
  void exec_for(const stmt& s, std::string& out, scope* where, const value& iterable, int depth0);
  void assign(const target& t, const value& v, scope* sc);
  std::string capture(const body& b);

  value eval(const expr& e);
  value eval_inner(const expr& e);
  value eval_filter(const expr& e, const value* input);
  value eval_call(const expr& e);
  value eval_compare(const expr& e);
  value slice(const value& obj, const expr& s);
  void collect_args(const expr& e, call_args& args);

  friend struct loop_object;
};

// Builtin filters, tests and globals (builtins.cpp) and Python methods on values (methods.cpp).
value apply_filter(interpreter& in, std::string_view name, const value& input, call_args& args);
bool apply_test(interpreter& in, std::string_view name, const value& input, call_args& args);
value make_global(std::string_view name);  // undefined when there is no such global
// Python getattr for builtin types: a bound method or attribute value; false when absent.
bool builtin_getattr(const value& obj, std::string_view name, value& out, bool& unsafe);

// JSON as Python's json.dumps writes it (pyjson.cpp).
struct dumps_options {
  bool ensure_ascii = false;
  bool has_indent = false;
  std::string indent;
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
};
std::string py_json_dumps(const value& v, const dumps_options& opt);

}  // namespace hearth::jinja
