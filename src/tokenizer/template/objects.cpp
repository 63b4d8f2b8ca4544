// Template objects: namespace(), loop, macros and callers, builtin functions, cycler() and joiner().
#include "tokenizer/template/objects.h"

namespace hearth::jinja {

bool namespace_object::get_attr(std::string_view name, value& out) const {
  const value* v = attrs.dct().find(name);
  if (!v) return false;
  out = *v;
  return true;
}

std::string loop_object::repr() const {
  return fmt::format("<LoopContext {}/{}>", index0 + 1, seq.size());
}

bool loop_object::get_attr(std::string_view name, value& out) const {
  const int64_t n = static_cast<int64_t>(seq.size());
  if (name == "index0") out = value::integer(index0);
  else if (name == "index") out = value::integer(index0 + 1);
  else if (name == "revindex0") out = value::integer(n - index0 - 1);
  else if (name == "revindex") out = value::integer(n - index0);
  else if (name == "first") out = value::boolean(index0 == 0);
  else if (name == "last") out = value::boolean(index0 + 1 >= n);
  else if (name == "length") out = value::integer(n);
  else if (name == "depth0") out = value::integer(depth0);
  else if (name == "depth") out = value::integer(depth0 + 1);
  else if (name == "previtem")
    out = index0 > 0 ? seq[static_cast<size_t>(index0 - 1)] : value::undefined_hint("there is no previous item");
  else if (name == "nextitem")
    out = index0 + 1 < n ? seq[static_cast<size_t>(index0 + 1)] : value::undefined_hint("there is no next item");
  else if (name == "cycle") {
    const int64_t idx = index0;
    out = make_native(
        "cycle",
        [idx](interpreter&, call_args& a) -> value {
          if (!a.kw.empty()) raise(error_kind::type, "cycle() got an unexpected keyword argument");
          if (a.pos.empty()) raise(error_kind::type, "no items for cycling given");
          const int64_t m = static_cast<int64_t>(a.pos.size());
          return a.pos[static_cast<size_t>(((idx % m) + m) % m)];
        },
        "LoopContext");
  } else if (name == "changed") {
    auto self = std::static_pointer_cast<loop_object>(const_cast<loop_object*>(this)->shared_from_this());
    out = make_native(
        "changed",
        [self](interpreter&, call_args& a) -> value {
          value t = value::tuple(a.pos);
          if (!self->changed_set || !equal(self->last_changed, t)) {
            self->changed_set = true;
            self->last_changed = t;
            return value::boolean(true);
          }
          return value::boolean(false);
        },
        "LoopContext");
  } else {
    return false;
  }
  return true;
}

value loop_object::call(interpreter& interp, call_args& args) {
  if (!def) raise(error_kind::type, "The loop must have the 'recursive' marker to be called recursively.");
  if (args.pos.size() != 1 || !args.kw.empty())
    raise(error_kind::type, "loop() takes exactly one argument (the iterable)");
  return value::string(interp.run_loop_recursive(*def, where, args.pos[0], depth0 + 1));
}

bool macro_object::get_attr(std::string_view attr, value& out) const {
  if (attr == "name") out = value::string(name);
  else if (attr == "arguments") {
    std::vector<value> names;
    for (const auto& p : def->params) names.push_back(value::string(p));
    out = value::tuple(std::move(names));
  } else if (attr == "catch_kwargs") out = value::boolean(def->catch_kwargs);
  else if (attr == "catch_varargs") out = value::boolean(def->catch_varargs);
  else if (attr == "caller") out = value::boolean(def->uses_caller);
  else return false;
  return true;
}

value macro_object::call(interpreter& in, call_args& args) {
  return in.invoke_macro(*def, closure, name, args, value());
}

std::string native_object::repr() const {
  if (owner_type.empty()) return fmt::format("<function {} at 0x7f0000000000>", name);
  return fmt::format("<built-in method {} of {} object at 0x7f0000000000>", name, owner_type);
}

value make_native(std::string name, native_fn fn, std::string owner_type) {
  return value::object(std::make_shared<native_object>(std::move(name), std::move(fn),
                                                       owner_type.empty() ? "function" : "builtin_function_or_method",
                                                       std::move(owner_type)));
}

bool cycler_object::get_attr(std::string_view name, value& out) const {
  auto self = std::static_pointer_cast<cycler_object>(const_cast<cycler_object*>(this)->shared_from_this());
  if (name == "items") out = value::tuple(items);
  else if (name == "pos") out = value::integer(static_cast<int64_t>(pos));
  else if (name == "current") out = items[pos];
  else if (name == "next")
    out = make_native(
        "next",
        [self](interpreter&, call_args&) -> value {
          value r = self->items[self->pos];
          self->pos = (self->pos + 1) % self->items.size();
          return r;
        },
        "Cycler");
  else if (name == "reset")
    out = make_native(
        "reset",
        [self](interpreter&, call_args&) -> value {
          self->pos = 0;
          return value::none();
        },
        "Cycler");
  else return false;
  return true;
}

bool joiner_object::get_attr(std::string_view name, value& out) const {
  if (name == "sep") out = value::string(sep);
  else if (name == "used") out = value::boolean(used);
  else return false;
  return true;
}

value joiner_object::call(interpreter&, call_args&) {
  if (!used) {
    used = true;
    return value::string("");
  }
  return value::string(sep);
}

// ---- argument binding ----

bool arg_binder::opt(const char* name, value& out) {
  if (next_ < a_.pos.size()) {
    out = a_.pos[next_++];
    value dup;
    if (a_.take(name, dup))
      raise(error_kind::type, fmt::format("{}() got multiple values for argument {}", fname_, repr_string(name)));
    return true;
  }
  return a_.take(name, out);
}

value arg_binder::get(const char* name, value fallback) {
  value v;
  if (opt(name, v)) return v;
  return fallback;
}

std::vector<value> arg_binder::rest() {
  std::vector<value> out;
  while (next_ < a_.pos.size()) out.push_back(a_.pos[next_++]);
  return out;
}

void arg_binder::done() {
  if (!a_.kw.empty())
    raise(error_kind::type,
          fmt::format("{}() got an unexpected keyword argument {}", fname_, repr_string(a_.kw.front().first)));
  if (next_ < a_.pos.size())
    raise(error_kind::type, fmt::format("{}() takes {} positional argument(s) but {} were given", fname_, next_ + 1,
                                        a_.pos.size() + 1));
}

}  // namespace hearth::jinja
