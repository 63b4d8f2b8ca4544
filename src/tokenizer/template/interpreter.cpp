// The template evaluator. Scoping follows what Jinja2's compiler generates: loop bodies get a fresh
// scope per iteration (assignments do not survive the iteration), macro and caller bodies a fresh
// scope whose parent is where they were defined, and if-blocks write into the enclosing scope.
#include "tokenizer/template/interpreter.h"

#include "tokenizer/template/objects.h"
#include "tokenizer/template/parser.h"
#include "tokenizer/template/text.h"

namespace hearth::jinja {

value* scope::find(std::string_view name) {
  for (auto& [k, v] : vars)
    if (k == name) return &v;
  return nullptr;
}

void scope::set(std::string_view name, value v) {
  if (value* old = find(name)) {
    *old = std::move(v);
    return;
  }
  vars.emplace_back(std::string(name), std::move(v));
}

struct interpreter::scope_guard {
  interpreter& in;
  scope* prev;
  scope* s;
  scope_guard(interpreter& i, scope* parent) : in(i), prev(i.cur_), s(i.acquire(parent)) { in.cur_ = s; }
  ~scope_guard() {
    in.cur_ = prev;
    in.release(s);
  }
  scope_guard(const scope_guard&) = delete;
  scope_guard& operator=(const scope_guard&) = delete;
};

interpreter::interpreter(const program& prog, const render_options& opt, value context)
    : prog_(prog), opt_(opt), context_(std::move(context)) {}

interpreter::~interpreter() {
  // Namespaces may reference themselves (ns.x = ns); emptying them breaks such cycles.
  for (auto& ns : namespaces_)
    if (auto* n = dynamic_cast<namespace_object*>(ns.get())) n->clear();
  for (auto& s : scopes_) s.vars.clear();
}

scope* interpreter::acquire(scope* parent) {
  scope* s;
  if (!free_scopes_.empty()) {
    s = free_scopes_.back();
    free_scopes_.pop_back();
  } else {
    scopes_.emplace_back();
    s = &scopes_.back();
  }
  s->parent = parent;
  s->captured = false;
  s->vars.clear();
  return s;
}

void interpreter::release(scope* s) {
  if (s->captured) return;
  s->vars.clear();
  free_scopes_.push_back(s);
}

void interpreter::capture_chain(scope* s) {
  for (; s && !s->captured; s = s->parent) s->captured = true;
}

void interpreter::step(uint64_t n) { charge_steps(n); }

// Bounds the native recursion of evaluating statements and expressions (deep nesting multiplied by
// macro recursion), so a hostile template cannot overflow the stack.
struct interpreter::nesting_guard {
  interpreter& in;
  explicit nesting_guard(interpreter& i) : in(i) {
    if (++in.nesting_ > in.opt_.limits.max_nesting) {
      --in.nesting_;
      raise(error_kind::limit, "template evaluation nested too deeply");
    }
  }
  ~nesting_guard() { --in.nesting_; }
};

void interpreter::append_output(std::string& out, std::string_view s) {
  if (out.size() + s.size() > opt_.limits.max_output_bytes)
    raise(error_kind::limit, fmt::format("rendered output exceeds {} bytes", opt_.limits.max_output_bytes));
  out.append(s);
}

std::string interpreter::render() {
  struct limits_guard {
    size_limits saved = current_size_limits();
    ~limits_guard() { current_size_limits() = saved; }
  } guard;
  current_size_limits() = {opt_.limits.max_string_bytes, opt_.limits.max_sequence_items, opt_.limits.max_steps, 0};
  scope* root = acquire(nullptr);
  root->captured = true;
  cur_ = root_ = root;
  std::string out;
  try {
    exec_body(prog_.root, out);
  } catch (const raw_error& e) {
    throw template_error(e.kind, e.message, cur_line_);
  }
  return out;
}

value interpreter::lookup(std::string_view name) {
  for (scope* s = cur_; s; s = s->parent)
    if (value* v = s->find(name)) return *v;
  if (context_.is_dict())
    if (const value* v = context_.dct().find(name)) return *v;
  value g = make_global(name);
  if (!g.is_undefined()) return g;
  return value::undefined_name(std::string(name));
}

// ---- statements ----

flow interpreter::exec_body(const body& b, std::string& out) {
  for (const auto& s : b) {
    const flow f = exec(*s, out);
    if (f != flow::normal) return f;
  }
  return flow::normal;
}

std::string interpreter::capture(const body& b) {
  std::string buf;
  scope_guard g(*this, cur_);
  exec_body(b, buf);
  return buf;
}

void interpreter::assign(const target& t, const value& v, scope* sc) {
  switch (t.k) {
    case target::kind::name: sc->set(t.name, v); return;
    case target::kind::tuple: {
      if (!is_iterable(v))
        raise(error_kind::type, fmt::format("cannot unpack non-iterable {} object", type_name(v)));
      std::vector<value> items = iterate(v);
      if (items.size() < t.items.size())
        raise(error_kind::value,
              fmt::format("not enough values to unpack (expected {}, got {})", t.items.size(), items.size()));
      if (items.size() > t.items.size())
        raise(error_kind::value, fmt::format("too many values to unpack (expected {})", t.items.size()));
      for (size_t i = 0; i < items.size(); ++i) assign(t.items[i], items[i], sc);
      return;
    }
    case target::kind::nsref: {
      value ns = lookup(t.name);
      auto* n = ns.as<namespace_object>();
      if (!n) raise(error_kind::runtime, "cannot assign attribute on non-namespace object");
      if (v.depth() + 1 > max_value_depth) raise(error_kind::limit, "value nested too deeply");
      n->set(t.attr, v);
      return;
    }
  }
}

flow interpreter::exec(const stmt& s, std::string& out) {
  step();
  nesting_guard ng(*this);
  cur_line_ = s.line;
  switch (s.kind) {
    case st::output:
      for (const auto& n : s.nodes) {
        if (n->kind == ex::data) {
          append_output(out, n->constant.str());
        } else {
          const value v = eval(*n);
          cur_line_ = s.line;
          if (v.is_string()) append_output(out, v.str());
          else append_output(out, to_str(v));
        }
      }
      return flow::normal;
    case st::if_:
      for (const auto& [cond, b] : s.ifs) {
        if (truthy(eval(*cond))) return exec_body(b, out);
        cur_line_ = s.line;
      }
      return exec_body(s.else_body, out);
    case st::for_: {
      const value it = eval(*s.e1);
      cur_line_ = s.line;
      exec_for(s, out, cur_, it, 0);
      return flow::normal;
    }
    case st::set: {
      const value v = eval(*s.e1);
      cur_line_ = s.line;
      assign(s.tgt, v, cur_);
      return flow::normal;
    }
    case st::set_block: {
      value v = value::string(capture(s.main));
      if (s.e1) {
        const value* saved = block_input_;
        block_input_ = &v;
        value r;
        try {
          r = eval(*s.e1);
        } catch (...) {
          block_input_ = saved;
          throw;
        }
        block_input_ = saved;
        v = std::move(r);
      }
      cur_line_ = s.line;
      assign(s.tgt, v, cur_);
      return flow::normal;
    }
    case st::macro: {
      capture_chain(cur_);
      cur_->set(s.name, value::object(std::make_shared<macro_object>(&s, cur_, s.name)));
      return flow::normal;
    }
    case st::call_block: {
      capture_chain(cur_);
      const value caller = value::object(std::make_shared<macro_object>(&s, cur_, "caller"));
      const expr& call = *s.e1;
      const value callee = eval(*call.a);
      call_args args;
      collect_args(call, args);
      args.kw.emplace_back("caller", caller);
      cur_line_ = s.line;
      const value r = call_value(callee, args);
      append_output(out, to_str(r));
      return flow::normal;
    }
    case st::filter_block: {
      const value body_text = value::string(capture(s.main));
      const value* saved = block_input_;
      block_input_ = &body_text;
      value r;
      try {
        r = eval(*s.e1);
      } catch (...) {
        block_input_ = saved;
        throw;
      }
      block_input_ = saved;
      append_output(out, to_str(r));
      return flow::normal;
    }
    case st::with: {
      std::vector<value> vals;
      for (const auto& v : s.values) vals.push_back(eval(*v));
      scope_guard g(*this, cur_);
      for (size_t i = 0; i < s.targets.size(); ++i) assign(s.targets[i], vals[i], g.s);
      return exec_body(s.main, out);
    }
    case st::block: {
      if (s.required) raise(error_kind::runtime, fmt::format("Required block {} not found", repr_string(s.name)));
      std::string buf;
      {
        scope_guard g(*this, s.scoped ? cur_ : root_);
        exec_body(s.main, buf);
      }
      append_output(out, buf);
      return flow::normal;
    }
    case st::break_: return flow::brk;
    case st::continue_: return flow::cont;
    case st::generation: {
      std::string buf;
      {
        scope_guard g(*this, cur_);
        exec_body(s.main, buf);
      }
      append_output(out, buf);
      return flow::normal;
    }
  }
  return flow::normal;
}

void interpreter::exec_for(const stmt& s, std::string& out, scope* where, const value& iterable, int depth0) {
  std::vector<value> items = iterate(iterable);
  if (s.e2) {
    std::vector<value> kept;
    for (auto& item : items) {
      step();
      scope_guard g(*this, where);
      assign(s.tgt, item, g.s);
      if (truthy(eval(*s.e2))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  auto loop = std::make_shared<loop_object>();
  loop->seq = std::move(items);
  loop->depth0 = depth0;
  if (s.recursive) {
    capture_chain(where);
    loop->def = &s;
    loop->where = where;
    loop->in = this;
  }
  const value loopv = value::object(loop);
  const size_t n = loop->seq.size();
  for (size_t i = 0; i < n; ++i) {
    step();
    loop->index0 = static_cast<int64_t>(i);
    scope_guard g(*this, where);
    assign(s.tgt, loop->seq[i], g.s);
    g.s->set("loop", loopv);
    if (exec_body(s.main, out) == flow::brk) break;
  }
  if (n == 0 && !s.else_body.empty()) {
    scope_guard g(*this, where);
    exec_body(s.else_body, out);
  }
}

std::string interpreter::run_loop_recursive(const stmt& def, scope* where, const value& items, int depth0) {
  if (++call_depth_ > opt_.limits.max_call_depth) {
    --call_depth_;
    raise(error_kind::limit, fmt::format("recursion deeper than {} calls", opt_.limits.max_call_depth));
  }
  struct dec {
    int& d;
    ~dec() { --d; }
  } d{call_depth_};
  std::string buf;
  scope* saved = cur_;
  try {
    exec_for(def, buf, where, items, depth0);
  } catch (...) {
    cur_ = saved;
    throw;
  }
  cur_ = saved;
  return buf;
}

value interpreter::invoke_macro(const stmt& def, scope* closure, const std::string& name, call_args& args,
                                const value& self) {
  if (++call_depth_ > opt_.limits.max_call_depth) {
    --call_depth_;
    raise(error_kind::limit, fmt::format("recursion deeper than {} calls", opt_.limits.max_call_depth));
  }
  struct dec {
    int& d;
    ~dec() { --d; }
  } d{call_depth_};
  const size_t n_params = def.params.size();
  std::vector<value> bound(n_params);
  std::vector<bool> given(n_params, false);
  const size_t n_pos = std::min(args.pos.size(), n_params);
  for (size_t i = 0; i < n_pos; ++i) {
    bound[i] = args.pos[i];
    given[i] = true;
  }
  bool found_caller = false;
  if (n_pos != n_params) {
    for (size_t i = n_pos; i < n_params; ++i) {
      value v;
      if (args.take(def.params[i], v)) {
        bound[i] = std::move(v);
        given[i] = true;
      }
      if (def.params[i] == "caller") found_caller = true;
    }
  } else {
    for (const auto& p : def.params)
      if (p == "caller") found_caller = true;
  }
  value caller;
  const bool wants_caller = def.uses_caller && !found_caller;
  if (wants_caller) {
    if (!args.take("caller", caller) || caller.is_none()) caller = value::undefined_hint("No caller defined");
  }
  value kwargs_dict;
  if (def.catch_kwargs) {
    kwargs_dict = value::dict();
    for (auto& [k, v] : args.kw) dict_set(kwargs_dict, value::string(k), v);
  } else if (!args.kw.empty()) {
    for (const auto& [k, v] : args.kw)
      if (k == "caller")
        raise(error_kind::type, fmt::format("macro {} was invoked with two values for the special caller argument. "
                                            "This is most likely a bug.", repr_string(name)));
    raise(error_kind::type, fmt::format("macro {} takes no keyword argument {}", repr_string(name),
                                        repr_string(args.kw.front().first)));
  }
  value varargs;
  if (def.catch_varargs) {
    std::vector<value> extra;
    for (size_t i = n_params; i < args.pos.size(); ++i) extra.push_back(args.pos[i]);
    varargs = value::tuple(std::move(extra));
  } else if (args.pos.size() > n_params) {
    raise(error_kind::type, fmt::format("macro {} takes not more than {} argument(s)", repr_string(name), n_params));
  }

  std::string buf;
  {
    scope_guard g(*this, closure);
    // Defaults belong to the last parameters and are evaluated in the macro's own scope, in order.
    const size_t first_default = n_params - def.values.size();
    for (size_t i = 0; i < n_params; ++i) {
      if (!given[i]) {
        if (i >= first_default) bound[i] = eval(*def.values[i - first_default]);
        else bound[i] = value::undefined_hint(fmt::format("parameter {} was not provided", repr_string(def.params[i])));
      }
      g.s->set(def.params[i], bound[i]);
    }
    if (wants_caller) g.s->set("caller", caller);
    if (def.catch_kwargs) g.s->set("kwargs", kwargs_dict);
    if (def.catch_varargs) g.s->set("varargs", varargs);
    const int saved_line = cur_line_;
    exec_body(def.main, buf);
    cur_line_ = saved_line;
  }
  (void)self;
  return value::string(std::move(buf));
}

// ---- expressions ----

value interpreter::eval(const expr& e) {
  step();
  try {
    nesting_guard ng(*this);
    return eval_inner(e);
  } catch (const raw_error& r) {
    throw template_error(r.kind, r.message, e.line);
  }
}

void interpreter::collect_args(const expr& e, call_args& args) {
  for (const auto& a : e.items) args.pos.push_back(eval(*a));
  for (const auto& [k, v] : e.kwargs) args.kw.emplace_back(k, eval(*v));
  if (e.dyn_args) {
    const value d = eval(*e.dyn_args);
    for (auto& x : iterate(d)) args.pos.push_back(std::move(x));
  }
  if (e.dyn_kwargs) {
    const value d = eval(*e.dyn_kwargs);
    if (!d.is_dict())
      raise(error_kind::type, fmt::format("argument after ** must be a mapping, not {}", type_name(d)));
    for (const auto& [k, v] : d.dct().items) {
      if (!k.is_string()) raise(error_kind::type, "keywords must be strings");
      args.kw.emplace_back(k.str(), v);
    }
  }
}

value interpreter::call_value(const value& callee, call_args& args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (auto* o = callee.as<object_data>(); o && o->callable()) return o->call(*this, args);
  raise(error_kind::type, fmt::format("{} object is not callable", repr_string(type_name(callee))));
}

value interpreter::call_filter(std::string_view name, const value& input, call_args& args, int line) {
  if (!has_filter(name)) raise(error_kind::runtime, fmt::format("No filter named {}.", repr_string(name)));
  (void)line;
  return apply_filter(*this, name, input, args);
}

bool interpreter::call_test(std::string_view name, const value& input, call_args& args, int line) {
  if (!has_test(name)) raise(error_kind::runtime, fmt::format("No test named {}.", repr_string(name)));
  (void)line;
  return apply_test(*this, name, input, args);
}

value interpreter::eval_filter(const expr& e, const value* input) {
  value in;
  if (e.a) in = eval(*e.a);
  else if (block_input_) in = *block_input_;
  else if (input) in = *input;
  if (!e.known) raise(error_kind::runtime, fmt::format("No filter named {} found.", repr_string(e.name)));
  call_args args;
  collect_args(e, args);
  return apply_filter(*this, e.name, in, args);
}

value interpreter::eval_call(const expr& e) {
  const value callee = eval(*e.a);
  call_args args;
  collect_args(e, args);
  return call_value(callee, args);
}

namespace {

bool orderable(const value& a, const value& b) {
  if (a.is_number() && b.is_number()) return true;
  if (a.is_string() && b.is_string()) return true;
  return a.is_seq() && b.is_seq() && a.seq().tag == b.seq().tag &&
         (a.seq().tag == seq_tag::list || a.seq().tag == seq_tag::tuple);
}

bool compare_one(const std::string& op, const value& a, const value& b) {
  if (op == "eq") return equal(a, b);
  if (op == "ne") return !equal(a, b);
  if (op == "in") return op_contains(b, a);
  if (op == "notin") return !op_contains(b, a);
  const char* sym = op == "lt" ? "<" : op == "lteq" ? "<=" : op == "gt" ? ">" : ">=";
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (!orderable(a, b))
    raise(error_kind::type, fmt::format("'{}' not supported between instances of {} and {}", sym,
                                        repr_string(type_name(a)), repr_string(type_name(b))));
  if (op == "lt") return less(a, b, sym);
  if (op == "gt") return less(b, a, sym);
  if (op == "lteq") return less(a, b, sym) || equal(a, b);
  return less(b, a, sym) || equal(a, b);
}

}  // namespace

value interpreter::eval_compare(const expr& e) {
  value left = eval(*e.a);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    value right = eval(*e.items[i]);
    if (!compare_one(e.ops[i], left, right)) return value::boolean(false);
    left = std::move(right);
  }
  return value::boolean(true);
}

namespace {

bool python_getitem(const value& obj, const value& key, value& out) {
  switch (obj.k()) {
    case kind::undefined: fail_undefined(obj);
    case kind::string: {
      if (!key.is_integral()) return false;
      bool ok = false;
      out = str_index(obj, key.get_int(), ok);
      return ok;
    }
    case kind::sequence: {
      const auto& s = obj.seq();
      if (s.tag == seq_tag::dict_keys || s.tag == seq_tag::dict_values || s.tag == seq_tag::dict_items) return false;
      if (!key.is_integral()) return false;
      int64_t i = key.get_int();
      const int64_t n = static_cast<int64_t>(s.items.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return false;
      out = s.items[static_cast<size_t>(i)];
      return true;
    }
    case kind::dict: {
      if (!hashable(key)) return false;
      const value* v = obj.dct().find(key);
      if (!v) return false;
      out = *v;
      return true;
    }
    default: return false;
  }
}

bool is_dunder(std::string_view name) {
  return name.size() > 4 && name.substr(0, 2) == "__" && name.substr(name.size() - 2) == "__";
}

bool python_getattr(const value& obj, std::string_view name, value& out, bool& unsafe) {
  unsafe = false;
  if (auto* o = obj.as<object_data>()) {
    if (o->get_attr(name, out)) return true;
  } else if (builtin_getattr(obj, name, out, unsafe)) {
    return true;
  }
  if (is_dunder(name)) {
    unsafe = true;
    return true;
  }
  return false;
}

}  // namespace

value interpreter::getattr(const value& obj, std::string_view name) {
  if (obj.is_undefined()) fail_undefined(obj);
  value out;
  bool unsafe = false;
  if (python_getattr(obj, name, out, unsafe)) {
    if (unsafe || (!name.empty() && name[0] == '_')) return value::unsafe_member(obj, name);
    return out;
  }
  const value key = value::string(std::string(name));
  if (python_getitem(obj, key, out)) return out;
  return value::undefined_member(obj, key);
}

value interpreter::getitem(const value& obj, const value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  value out;
  if (python_getitem(obj, key, out)) return out;
  if (key.is_string()) {
    bool unsafe = false;
    if (python_getattr(obj, key.str(), out, unsafe)) {
      if (unsafe || (!key.str().empty() && key.str()[0] == '_')) return value::unsafe_member(obj, key.str());
      return out;
    }
  }
  return value::undefined_member(obj, key);
}

value interpreter::slice(const value& obj, const expr& s) {
  value parts[3];
  const expr* ex_parts[3] = {s.a.get(), s.b.get(), s.c.get()};
  for (int i = 0; i < 3; ++i) parts[i] = ex_parts[i] ? eval(*ex_parts[i]) : value::none();
  if (obj.is_undefined()) fail_undefined(obj);
  const bool sliceable = obj.is_string() || (obj.is_seq() && (obj.seq().tag == seq_tag::list ||
                                                               obj.seq().tag == seq_tag::tuple ||
                                                               obj.seq().tag == seq_tag::range));
  bool ints = true;
  for (const auto& p : parts) ints = ints && (p.is_none() || p.is_integral());
  if (!sliceable || !ints) {
    const std::string desc = fmt::format("slice({}, {}, {})", repr(parts[0]), repr(parts[1]), repr(parts[2]));
    value u = value::undefined_hint(fmt::format("{} has no element {}", object_type_repr(obj), desc));
    return u;
  }
  const int64_t step = parts[2].is_none() ? 1 : parts[2].get_int();
  if (step == 0) raise(error_kind::value, "slice step cannot be zero");
  if (obj.is_string()) charge_bytes(obj.str().size());
  else charge_steps(1 + obj.seq().items.size() / 8);
  std::vector<uint32_t> cps;
  const bool is_str = obj.is_string();
  const bool ascii = is_str && text::is_ascii(obj.str());
  if (is_str && !ascii) cps = text::to_code_points(obj.str());
  const int64_t len = is_str ? static_cast<int64_t>(ascii ? obj.str().size() : cps.size())
                             : static_cast<int64_t>(obj.seq().items.size());
  const int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? len : len - 1;
  auto clamp = [&](const value& v, int64_t dflt) {
    if (v.is_none()) return dflt;
    int64_t x = v.get_int();
    if (x < 0) {
      x += len;
      if (x < lower) x = lower;
    } else if (x > upper) {
      x = upper;
    }
    return x;
  };
  const int64_t start = clamp(parts[0], step > 0 ? lower : upper);
  const int64_t stop = clamp(parts[1], step > 0 ? upper : lower);
  if (is_str) {
    std::string r;
    if (ascii) {
      const std::string& src = obj.str();
      if (step == 1) {
        if (stop > start) r = src.substr(static_cast<size_t>(start), static_cast<size_t>(stop - start));
      } else {
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) r.push_back(src[static_cast<size_t>(i)]);
      }
    } else {
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) text::append_utf8(r, cps[static_cast<size_t>(i)]);
    }
    return value::string(std::move(r), obj.is_markup());
  }
  const auto& items = obj.seq().items;
  std::vector<value> r;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) r.push_back(items[static_cast<size_t>(i)]);
  const seq_tag tag = obj.seq().tag == seq_tag::tuple ? seq_tag::tuple : seq_tag::list;
  return value::sequence(tag, std::move(r));
}

value interpreter::eval_inner(const expr& e) {
  switch (e.kind) {
    case ex::data:
    case ex::constant: return e.constant;
    case ex::name: return lookup(e.name);
    case ex::list:
    case ex::tuple: {
      std::vector<value> items;
      items.reserve(e.items.size());
      for (const auto& x : e.items) items.push_back(eval(*x));
      return e.kind == ex::list ? value::list(std::move(items)) : value::tuple(std::move(items));
    }
    case ex::dict: {
      value d = value::dict();
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        value k = eval(*e.items[i]);
        value v = eval(*e.items[i + 1]);
        require_hashable(k);
        dict_set(d, std::move(k), std::move(v));
      }
      return d;
    }
    case ex::getattr: return getattr(eval(*e.a), e.name);
    case ex::getitem: {
      const value obj = eval(*e.a);
      if (e.b->kind == ex::slice) return slice(obj, *e.b);
      return getitem(obj, eval(*e.b));
    }
    case ex::slice: return value::none();  // a slice inside a tuple subscript: never a valid key
    case ex::call: return eval_call(e);
    case ex::filter: return eval_filter(e, nullptr);
    case ex::test: {
      const value in = eval(*e.a);
      if (!e.known) raise(error_kind::runtime, fmt::format("No test named {} found.", repr_string(e.name)));
      call_args args;
      collect_args(e, args);
      return value::boolean(apply_test(*this, e.name, in, args));
    }
    case ex::neg: return op_neg(eval(*e.a));
    case ex::pos: return op_pos(eval(*e.a));
    case ex::not_: return value::boolean(!truthy(eval(*e.a)));
    case ex::add: {
      const value a = eval(*e.a);
      return op_add(a, eval(*e.b));
    }
    case ex::sub: {
      const value a = eval(*e.a);
      return op_sub(a, eval(*e.b));
    }
    case ex::mul: {
      const value a = eval(*e.a);
      return op_mul(a, eval(*e.b));
    }
    case ex::div: {
      const value a = eval(*e.a);
      return op_div(a, eval(*e.b));
    }
    case ex::floordiv: {
      const value a = eval(*e.a);
      return op_floordiv(a, eval(*e.b));
    }
    case ex::mod: {
      const value a = eval(*e.a);
      return op_mod(a, eval(*e.b));
    }
    case ex::pow: {
      const value a = eval(*e.a);
      return op_pow(a, eval(*e.b));
    }
    case ex::and_: {
      value l = eval(*e.a);
      if (!truthy(l)) return l;
      return eval(*e.b);
    }
    case ex::or_: {
      value l = eval(*e.a);
      if (truthy(l)) return l;
      return eval(*e.b);
    }
    case ex::concat: {
      std::string s;
      for (const auto& x : e.items) {
        const value v = eval(*x);
        if (v.is_string()) s += v.str();
        else s += to_str(v);
        check_string_size(s.size());
        charge_bytes(s.size());
      }
      return value::string(std::move(s));
    }
    case ex::compare: return eval_compare(e);
    case ex::condexpr:
      if (truthy(eval(*e.b))) return eval(*e.a);
      if (e.c) return eval(*e.c);
      return value::undefined_hint(fmt::format(
          "the inline if-expression on line {} evaluated to false and no else section was defined.", e.line));
  }
  return {};
}

}  // namespace hearth::jinja
