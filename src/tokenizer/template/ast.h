// Syntax tree of a parsed template: expressions and statements as Jinja2's parser builds them.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/template/value.h"

namespace hearth::jinja {

enum class ex : uint8_t {
  data,      // literal template text (constant string printed as is)
  constant,  // literal value
  name,
  list,
  tuple,
  dict,      // items alternate key, value
  getattr,   // a.name
  getitem,   // a[b]
  slice,     // a:b:c inside [] (any may be null)
  call,      // a(items..., kwargs..., *dyn_args, **dyn_kwargs)
  filter,    // a | name(args); a is null inside filter blocks and set blocks
  test,      // a is name(args)
  neg,
  pos,
  not_,
  add,
  sub,
  mul,
  div,
  floordiv,
  mod,
  pow,
  and_,
  or_,
  concat,   // items joined with ~
  compare,  // a (ops[i] items[i])...
  condexpr  // a if b else c
};

struct expr;
using expr_ptr = std::unique_ptr<expr>;

struct expr {
  ex kind = ex::constant;
  int line = 0;
  value constant;
  std::string name;
  expr_ptr a, b, c;
  std::vector<expr_ptr> items;
  std::vector<std::pair<std::string, expr_ptr>> kwargs;
  expr_ptr dyn_args, dyn_kwargs;
  std::vector<std::string> ops;
  // Filters and tests: whether the name exists; an unknown one inside an if/conditional expression
  // fails only when evaluated (as in Jinja), elsewhere the parser rejects it.
  bool known = true;
  int depth = 1;  // height of this subtree; bounded so evaluating and freeing it cannot overflow the stack
};

struct target {
  enum class kind : uint8_t { name, tuple, nsref } k = kind::name;
  std::string name, attr;
  std::vector<target> items;
};

enum class st : uint8_t {
  output,
  if_,
  for_,
  set,
  set_block,
  macro,
  call_block,
  filter_block,
  with,
  break_,
  continue_,
  generation,
  block  // {% block name %}: without template inheritance it renders in place
};

struct stmt;
using stmt_ptr = std::unique_ptr<stmt>;
using body = std::vector<stmt_ptr>;

struct stmt {
  st kind = st::output;
  int line = 0;
  std::vector<expr_ptr> nodes;                 // output: data and expressions
  std::vector<std::pair<expr_ptr, body>> ifs;  // if/elif: condition and body
  body main, else_body;                        // for/macro/call/filter/set-block/with/generation bodies
  target tgt;                                  // for, set, set_block
  std::vector<target> targets;                 // with
  expr_ptr e1, e2;                             // for: iter, filter test; set: value; call: the call; filter chains
  std::vector<expr_ptr> values;                // with values, macro defaults (last params)
  std::vector<std::string> params;             // macro / call block parameters
  std::string name;                            // macro name
  bool recursive = false;                      // for ... recursive
  bool scoped = false, required = false;       // block
  bool catch_kwargs = false, catch_varargs = false, uses_caller = false;  // macro
};

struct program {
  body root;
  std::string source_name;
};

}  // namespace hearth::jinja
