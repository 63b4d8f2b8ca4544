// Template parser: a recursive-descent parser with the structure of Jinja2's, so precedence and the
// places where tuples, conditional expressions and filters are allowed match it exactly.
#include "tokenizer/template/parser.h"

#include <initializer_list>

namespace hearth::jinja {

namespace {

class parser {
 public:
  explicit parser(std::vector<token> toks) : t_(std::move(toks)) {}

  std::unique_ptr<program> run() {
    auto p = std::make_unique<program>();
    p->root = subparse({});
    return p;
  }

 private:
  std::vector<token> t_;
  size_t i_ = 0;
  int depth_ = 0;
  std::vector<std::string> tag_stack_;
  std::vector<std::string> block_names_;

  struct depth_guard {
    parser& p;
    explicit depth_guard(parser& pp) : p(pp) {
      if (++p.depth_ > max_parse_depth)
        throw template_error(error_kind::limit, "template nested too deeply", p.cur().line);
    }
    ~depth_guard() { --p.depth_; }
  };

  const token& cur() const { return t_[i_]; }
  const token& look() const { return t_[std::min(i_ + 1, t_.size() - 1)]; }
  token next() {
    token k = t_[i_];
    if (i_ + 1 < t_.size()) ++i_;
    return k;
  }
  bool is_name(const token& k, std::string_view n) const { return k.type == tok::name && k.text == n; }
  bool is_op(const token& k, std::string_view o) const { return k.type == tok::op && k.text == o; }
  bool at_name(std::string_view n) const { return is_name(cur(), n); }
  bool at_op(std::string_view o) const { return is_op(cur(), o); }
  bool skip_name(std::string_view n) {
    if (!at_name(n)) return false;
    next();
    return true;
  }
  bool skip_op(std::string_view o) {
    if (!at_op(o)) return false;
    next();
    return true;
  }

  [[noreturn]] void fail(const std::string& msg, int line = -1) {
    throw template_error(error_kind::syntax, msg, line < 0 ? cur().line : line);
  }

  std::string describe_cur() const {
    const token& k = cur();
    if (k.type == tok::name || k.type == tok::op) return k.text;
    return describe(k);
  }

  void expect_op(std::string_view o) {
    if (at_op(o)) {
      next();
      return;
    }
    if (cur().type == tok::eof) fail(fmt::format("unexpected end of template, expected '{}'.", o));
    fail(fmt::format("expected token '{}', got '{}'", o, describe_cur()));
  }
  token expect_name() {
    if (cur().type == tok::name) return next();
    if (cur().type == tok::eof) fail("unexpected end of template, expected 'name'.");
    fail(fmt::format("expected token 'name', got '{}'", describe_cur()));
  }
  void expect_name(std::string_view n) {
    if (at_name(n)) {
      next();
      return;
    }
    if (cur().type == tok::eof) fail(fmt::format("unexpected end of template, expected '{}'.", n));
    fail(fmt::format("expected token '{}', got '{}'", n, describe_cur()));
  }
  void expect_type(tok type, const char* what) {
    if (cur().type == type) {
      next();
      return;
    }
    if (cur().type == tok::eof) fail(fmt::format("unexpected end of template, expected '{}'.", what));
    fail(fmt::format("expected token '{}', got '{}'", what, describe_cur()));
  }

  // Records the height of a new composite node; long chains (1+1+1+..., a.b.c...) are refused
  // here rather than overflowing the stack later.
  expr_ptr fin(expr_ptr n) {
    int d = 0;
    auto see = [&](const expr_ptr& c) {
      if (c) d = std::max(d, c->depth);
    };
    see(n->a);
    see(n->b);
    see(n->c);
    see(n->dyn_args);
    see(n->dyn_kwargs);
    for (const auto& x : n->items) see(x);
    for (const auto& [k, x] : n->kwargs) see(x);
    n->depth = d + 1;
    if (n->depth > max_expr_depth) throw template_error(error_kind::limit, "expression nested too deeply", n->line);
    return n;
  }

  static expr_ptr make(ex k, int line) {
    auto e = std::make_unique<expr>();
    e->kind = k;
    e->line = line;
    return e;
  }

  // ---- statements ----

  body subparse(std::initializer_list<const char*> end_tokens) {
    depth_guard g(*this);
    body out;
    stmt_ptr output;
    auto flush = [&] {
      if (output) out.push_back(std::move(output));
    };
    auto add_node = [&](expr_ptr e) {
      if (!output) {
        output = std::make_unique<stmt>();
        output->kind = st::output;
        output->line = e->line;
      }
      output->nodes.push_back(std::move(e));
    };
    while (cur().type != tok::eof) {
      const token& k = cur();
      if (k.type == tok::data) {
        auto e = make(ex::data, k.line);
        e->constant = value::string(k.text);
        add_node(std::move(e));
        next();
      } else if (k.type == tok::var_begin) {
        next();
        add_node(parse_tuple(false, true, {}, false));
        expect_type(tok::var_end, "end of print statement");
      } else if (k.type == tok::block_begin) {
        flush();
        next();
        for (const char* e : end_tokens)
          if (at_name(e)) return out;
        out.push_back(parse_statement());
        expect_type(tok::block_end, "end of statement block");
      } else {
        fail(fmt::format("unexpected '{}'", describe_cur()));
      }
    }
    flush();
    if (end_tokens.size()) {
      std::string want;
      for (const char* e : end_tokens) want += (want.empty() ? "'" : " or '") + std::string(e) + "'";
      std::string msg = "Unexpected end of template. Jinja was looking for the following tags: " + want + ".";
      if (!tag_stack_.empty()) msg += " The innermost block that needs to be closed is '" + tag_stack_.back() + "'.";
      fail(msg);
    }
    return out;
  }

  body parse_statements(std::initializer_list<const char*> end_tokens, bool drop_needle) {
    skip_op(":");
    expect_type(tok::block_end, "end of statement block");
    body b = subparse(end_tokens);
    if (drop_needle) next();
    return b;
  }

  stmt_ptr make_stmt(st k, int line) {
    auto s = std::make_unique<stmt>();
    s->kind = k;
    s->line = line;
    return s;
  }

  stmt_ptr parse_statement() {
    const token& k = cur();
    if (k.type != tok::name) fail("tag name expected");
    const std::string tag = k.text;
    tag_stack_.push_back(tag);
    struct pop_tag {
      std::vector<std::string>& s;
      ~pop_tag() { s.pop_back(); }
    } pop{tag_stack_};
    if (tag == "for") return parse_for();
    if (tag == "if") return parse_if();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "call") return parse_call_block();
    if (tag == "filter") return parse_filter_block();
    if (tag == "with") return parse_with();
    if (tag == "print") return parse_print();
    if (tag == "break" || tag == "continue") {
      const int line = next().line;
      return make_stmt(tag == "break" ? st::break_ : st::continue_, line);
    }
    if (tag == "generation") {
      auto s = make_stmt(st::generation, next().line);
      s->main = parse_statements({"endgeneration"}, true);
      return s;
    }
    if (tag == "block") return parse_block();
    if (tag == "extends" || tag == "include" || tag == "import" || tag == "from" ||
        tag == "autoescape")
      throw template_error(error_kind::unsupported, fmt::format("the '{}' tag is not supported", tag), k.line);
    std::string msg = fmt::format("Encountered unknown tag '{}'.", tag);
    if (tag_stack_.size() > 1) msg += fmt::format(" The innermost block that needs to be closed is '{}'.", tag_stack_[tag_stack_.size() - 2]);
    fail(msg, k.line);
  }

  stmt_ptr parse_for() {
    auto s = make_stmt(st::for_, next().line);
    s->tgt = parse_assign_target(true, false, {"in"}, false);
    expect_name("in");
    s->e1 = parse_tuple(false, false, {"recursive"}, false);
    if (skip_name("if")) s->e2 = parse_expression(true);
    s->recursive = skip_name("recursive");
    s->main = parse_statements({"endfor", "else"}, false);
    if (next().text != "endfor") s->else_body = parse_statements({"endfor"}, true);
    return s;
  }

  stmt_ptr parse_if() {
    auto s = make_stmt(st::if_, next().line);
    while (true) {
      expr_ptr test = parse_tuple(false, false, {}, false);
      body b = parse_statements({"elif", "else", "endif"}, false);
      s->ifs.emplace_back(std::move(test), std::move(b));
      const token k = next();
      if (is_name(k, "elif")) continue;
      if (is_name(k, "else")) s->else_body = parse_statements({"endif"}, true);
      break;
    }
    return s;
  }

  stmt_ptr parse_set() {
    const int line = next().line;
    target tg = parse_assign_target(true, false, {}, true);
    if (skip_op("=")) {
      auto s = make_stmt(st::set, line);
      s->tgt = std::move(tg);
      s->e1 = parse_tuple(false, true, {}, false);
      return s;
    }
    auto s = make_stmt(st::set_block, line);
    s->tgt = std::move(tg);
    s->e1 = parse_filter(nullptr, false);
    s->main = parse_statements({"endset"}, true);
    return s;
  }

  stmt_ptr parse_with() {
    auto s = make_stmt(st::with, next().line);
    while (cur().type != tok::block_end) {
      if (!s->targets.empty()) expect_op(",");
      s->targets.push_back(parse_assign_target(true, false, {}, false));
      expect_op("=");
      s->values.push_back(parse_expression(true));
    }
    s->main = parse_statements({"endwith"}, true);
    return s;
  }

  void parse_signature(stmt& s) {
    expect_op("(");
    while (!at_op(")")) {
      if (!s.params.empty()) expect_op(",");
      target a = parse_assign_target(true, true, {}, false);
      if (skip_op("=")) s.values.push_back(parse_expression(true));
      else if (!s.values.empty()) fail("non-default argument follows default argument");
      s.params.push_back(a.name);
    }
    expect_op(")");
  }

  stmt_ptr parse_call_block() {
    auto s = make_stmt(st::call_block, next().line);
    if (at_op("(")) parse_signature(*s);
    s->e1 = parse_expression(true);
    if (s->e1->kind != ex::call) fail("expected call", s->line);
    s->main = parse_statements({"endcall"}, true);
    scan_special_names(*s);
    return s;
  }

  stmt_ptr parse_filter_block() {
    auto s = make_stmt(st::filter_block, next().line);
    s->e1 = parse_filter(nullptr, true);
    s->main = parse_statements({"endfilter"}, true);
    return s;
  }

  stmt_ptr parse_macro() {
    auto s = make_stmt(st::macro, next().line);
    s->name = parse_assign_target(true, true, {}, false).name;
    parse_signature(*s);
    s->main = parse_statements({"endmacro"}, true);
    scan_special_names(*s);
    return s;
  }

  stmt_ptr parse_block() {
    auto s = make_stmt(st::block, next().line);
    s->name = expect_name().text;
    s->scoped = skip_name("scoped");
    s->required = skip_name("required");
    if (at_op("-"))
      fail("Block names in Jinja have to be valid Python identifiers and may not contain hyphens, use an "
           "underscore instead.");
    s->main = parse_statements({"endblock"}, true);
    if (s->required)
      for (const auto& b : s->main)
        for (const auto& n : b->nodes)
          if (b->kind != st::output || n->kind != ex::data ||
              n->constant.str().find_first_not_of(" \t\n\r\f\v") != std::string::npos)
            fail("Required blocks can only contain comments or whitespace");
    skip_name(s->name);
    for (const auto& n : block_names_)
      if (n == s->name)
        throw template_error(error_kind::template_assertion, fmt::format("block '{}' defined twice", s->name), s->line);
    block_names_.push_back(s->name);
    return s;
  }

  stmt_ptr parse_print() {
    auto s = make_stmt(st::output, next().line);
    while (cur().type != tok::block_end) {
      if (!s->nodes.empty()) expect_op(",");
      s->nodes.push_back(parse_expression(true));
    }
    return s;
  }

  // Macros accept extra positional/keyword arguments and a caller only when their body refers to
  // varargs / kwargs / caller.
  static void scan_expr(const expr* e, stmt& m) {
    if (!e) return;
    if (e->kind == ex::name) {
      if (e->name == "varargs") m.catch_varargs = true;
      if (e->name == "kwargs") m.catch_kwargs = true;
      if (e->name == "caller") m.uses_caller = true;
    }
    scan_expr(e->a.get(), m);
    scan_expr(e->b.get(), m);
    scan_expr(e->c.get(), m);
    scan_expr(e->dyn_args.get(), m);
    scan_expr(e->dyn_kwargs.get(), m);
    for (const auto& x : e->items) scan_expr(x.get(), m);
    for (const auto& [k, x] : e->kwargs) scan_expr(x.get(), m);
  }
  static void scan_body(const body& b, stmt& m) {
    for (const auto& s : b) {
      for (const auto& n : s->nodes) scan_expr(n.get(), m);
      for (const auto& [c, bb] : s->ifs) {
        scan_expr(c.get(), m);
        scan_body(bb, m);
      }
      scan_expr(s->e1.get(), m);
      scan_expr(s->e2.get(), m);
      for (const auto& v : s->values) scan_expr(v.get(), m);
      scan_body(s->main, m);
      scan_body(s->else_body, m);
    }
  }
  static void scan_special_names(stmt& m) { scan_body(m.main, m); }

  // ---- assignment targets ----

  target parse_assign_target(bool with_tuple, bool name_only, std::initializer_list<const char*> extra_end,
                             bool with_namespace) {
    target tg;
    if (with_namespace && is_op(look(), ".")) {
      tg.k = target::kind::nsref;
      tg.name = expect_name().text;
      next();
      tg.attr = expect_name().text;
      return tg;
    }
    if (name_only) {
      tg.name = expect_name().text;
      return tg;
    }
    const int line = cur().line;
    expr_ptr e = with_tuple ? parse_tuple(true, true, extra_end, false) : parse_primary();
    if (!to_target(*e, tg)) fail(fmt::format("can't assign to '{}'", assign_kind(*e)), line);
    return tg;
  }

  static const char* assign_kind(const expr& e) {
    switch (e.kind) {
      case ex::constant: return "const";
      case ex::tuple: return "tuple";
      case ex::list: return "list";
      case ex::dict: return "dict";
      case ex::getattr: return "getattr";
      case ex::getitem: return "getitem";
      default: return "expression";
    }
  }

  static bool to_target(const expr& e, target& tg) {
    if (e.kind == ex::name) {
      tg.k = target::kind::name;
      tg.name = e.name;
      return true;
    }
    if (e.kind == ex::tuple) {
      tg.k = target::kind::tuple;
      for (const auto& it : e.items) {
        target sub;
        if (!to_target(*it, sub)) return false;
        tg.items.push_back(std::move(sub));
      }
      return true;
    }
    return false;
  }

  // ---- expressions ----

  expr_ptr parse_expression(bool with_condexpr) {
    depth_guard g(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  expr_ptr parse_condexpr() {
    depth_guard g(*this);
    int line = cur().line;
    expr_ptr e1 = parse_or();
    while (skip_name("if")) {
      expr_ptr e2 = parse_or();
      expr_ptr e3;
      if (skip_name("else")) e3 = parse_condexpr();
      auto n = make(ex::condexpr, line);
      n->a = std::move(e1);
      n->b = std::move(e2);
      n->c = std::move(e3);
      e1 = fin(std::move(n));
      line = cur().line;
    }
    return e1;
  }

  expr_ptr binary(ex k, int line, expr_ptr l, expr_ptr r) {
    auto n = make(k, line);
    n->a = std::move(l);
    n->b = std::move(r);
    return fin(std::move(n));
  }

  expr_ptr parse_or() {
    int line = cur().line;
    expr_ptr left = parse_and();
    while (skip_name("or")) {
      left = binary(ex::or_, line, std::move(left), parse_and());
      line = cur().line;
    }
    return left;
  }

  expr_ptr parse_and() {
    int line = cur().line;
    expr_ptr left = parse_not();
    while (skip_name("and")) {
      left = binary(ex::and_, line, std::move(left), parse_not());
      line = cur().line;
    }
    return left;
  }

  expr_ptr parse_not() {
    if (at_name("not")) {
      depth_guard g(*this);
      auto n = make(ex::not_, next().line);
      n->a = parse_not();
      return fin(std::move(n));
    }
    return parse_compare();
  }

  expr_ptr parse_compare() {
    int line = cur().line;
    expr_ptr e = parse_math1();
    auto n = make(ex::compare, line);
    while (true) {
      static const std::pair<const char*, const char*> cmp[] = {{"==", "eq"}, {"!=", "ne"}, {"<", "lt"},
                                                                {"<=", "lteq"}, {">", "gt"}, {">=", "gteq"}};
      const char* op = nullptr;
      for (const auto& [sym, nm] : cmp)
        if (at_op(sym)) op = nm;
      if (op) {
        next();
        n->ops.push_back(op);
        n->items.push_back(parse_math1());
      } else if (skip_name("in")) {
        n->ops.push_back("in");
        n->items.push_back(parse_math1());
      } else if (at_name("not") && is_name(look(), "in")) {
        next();
        next();
        n->ops.push_back("notin");
        n->items.push_back(parse_math1());
      } else {
        break;
      }
      line = cur().line;
    }
    if (n->ops.empty()) return e;
    n->a = std::move(e);
    n->line = line;
    return fin(std::move(n));
  }

  expr_ptr parse_math1() {
    int line = cur().line;
    expr_ptr left = parse_concat();
    while (at_op("+") || at_op("-")) {
      const ex k = next().text == "+" ? ex::add : ex::sub;
      left = binary(k, line, std::move(left), parse_concat());
      line = cur().line;
    }
    return left;
  }

  expr_ptr parse_concat() {
    int line = cur().line;
    expr_ptr first = parse_math2();
    if (!at_op("~")) return first;
    auto n = make(ex::concat, line);
    n->items.push_back(std::move(first));
    while (skip_op("~")) n->items.push_back(parse_math2());
    return fin(std::move(n));
  }

  expr_ptr parse_math2() {
    int line = cur().line;
    expr_ptr left = parse_pow();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
      const token o = next();
      const ex k = o.text == "*" ? ex::mul : o.text == "/" ? ex::div : o.text == "//" ? ex::floordiv : ex::mod;
      left = binary(k, line, std::move(left), parse_pow());
      line = cur().line;
    }
    return left;
  }

  expr_ptr parse_pow() {
    int line = cur().line;
    expr_ptr left = parse_unary(true);
    while (skip_op("**")) {
      left = binary(ex::pow, line, std::move(left), parse_unary(true));
      line = cur().line;
    }
    return left;
  }

  expr_ptr parse_unary(bool with_filter) {
    depth_guard g(*this);
    const int line = cur().line;
    expr_ptr node;
    if (at_op("-") || at_op("+")) {
      const ex k = next().text == "-" ? ex::neg : ex::pos;
      node = make(k, line);
      node->a = parse_unary(false);
      node = fin(std::move(node));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  expr_ptr parse_primary() {
    depth_guard g(*this);
    const token& k = cur();
    if (k.type == tok::name) {
      auto n = make(ex::constant, k.line);
      if (k.text == "true" || k.text == "True") n->constant = value::boolean(true);
      else if (k.text == "false" || k.text == "False") n->constant = value::boolean(false);
      else if (k.text == "none" || k.text == "None") n->constant = value::none();
      else {
        n->kind = ex::name;
        n->name = k.text;
      }
      next();
      return n;
    }
    if (k.type == tok::string) {
      auto n = make(ex::constant, k.line);
      std::string s = next().text;
      while (cur().type == tok::string) s += next().text;
      n->constant = value::string(std::move(s));
      return n;
    }
    if (k.type == tok::integer || k.type == tok::floating) {
      auto n = make(ex::constant, k.line);
      n->constant = k.type == tok::integer ? value::integer(k.ival) : value::floating(k.fval);
      next();
      return n;
    }
    if (is_op(k, "(")) {
      next();
      expr_ptr n = parse_tuple(false, true, {}, true);
      expect_op(")");
      return n;
    }
    if (is_op(k, "[")) return parse_list();
    if (is_op(k, "{")) return parse_dict();
    if (k.type == tok::eof) fail("unexpected end of template");
    fail(fmt::format("unexpected '{}'", describe_cur()), k.line);
  }

  bool is_tuple_end(std::initializer_list<const char*> extra_end) const {
    if (cur().type == tok::var_end || cur().type == tok::block_end || at_op(")")) return true;
    for (const char* e : extra_end)
      if (at_name(e)) return true;
    return false;
  }

  expr_ptr parse_tuple(bool simplified, bool with_condexpr, std::initializer_list<const char*> extra_end,
                       bool explicit_parentheses) {
    int line = cur().line;
    std::vector<expr_ptr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      if (simplified) args.push_back(parse_primary());
      else args.push_back(parse_expression(with_condexpr));
      if (at_op(",")) is_tuple = true;
      else break;
      line = cur().line;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parentheses) {
        if (cur().type == tok::eof) fail("unexpected end of template");
        fail(fmt::format("Expected an expression, got '{}'", describe_cur()));
      }
    }
    auto n = make(ex::tuple, line);
    n->items = std::move(args);
    return fin(std::move(n));
  }

  expr_ptr parse_list() {
    auto n = make(ex::list, next().line);
    while (!at_op("]")) {
      if (!n->items.empty()) expect_op(",");
      if (at_op("]")) break;
      n->items.push_back(parse_expression(true));
    }
    expect_op("]");
    return fin(std::move(n));
  }

  expr_ptr parse_dict() {
    auto n = make(ex::dict, next().line);
    while (!at_op("}")) {
      if (!n->items.empty()) expect_op(",");
      if (at_op("}")) break;
      n->items.push_back(parse_expression(true));
      expect_op(":");
      n->items.push_back(parse_expression(true));
    }
    expect_op("}");
    return fin(std::move(n));
  }

  expr_ptr parse_postfix(expr_ptr node) {
    while (true) {
      if (at_op(".") || at_op("[")) node = parse_subscript(std::move(node));
      else if (at_op("(")) node = parse_call(std::move(node));
      else break;
    }
    return node;
  }

  expr_ptr parse_filter_expr(expr_ptr node) {
    while (true) {
      if (at_op("|")) node = parse_filter(std::move(node), false);
      else if (at_name("is")) node = parse_test(std::move(node));
      else if (at_op("(")) node = parse_call(std::move(node));
      else break;
    }
    return node;
  }

  expr_ptr parse_subscript(expr_ptr node) {
    depth_guard g(*this);
    const token k = next();
    if (is_op(k, ".")) {
      const token a = cur();
      next();
      if (a.type == tok::name) {
        auto n = make(ex::getattr, k.line);
        n->a = std::move(node);
        n->name = a.text;
        return fin(std::move(n));
      }
      if (a.type != tok::integer) fail("expected name or number", a.line);
      auto n = make(ex::getitem, k.line);
      n->a = std::move(node);
      n->b = make(ex::constant, a.line);
      n->b->constant = value::integer(a.ival);
      return fin(std::move(n));
    }
    std::vector<expr_ptr> args;
    while (!at_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    auto n = make(ex::getitem, k.line);
    n->a = std::move(node);
    if (args.size() == 1) {
      n->b = std::move(args[0]);
    } else {
      n->b = fin(make(ex::tuple, k.line));
      n->b->items = std::move(args);
      n->b = fin(std::move(n->b));
    }
    return fin(std::move(n));
  }

  expr_ptr parse_subscribed() {
    const int line = cur().line;
    std::vector<expr_ptr> args;
    if (at_op(":")) {
      next();
      args.push_back(nullptr);
    } else {
      expr_ptr n = parse_expression(true);
      if (!at_op(":")) return n;
      next();
      args.push_back(std::move(n));
    }
    if (at_op(":")) args.push_back(nullptr);
    else if (!at_op("]") && !at_op(",")) args.push_back(parse_expression(true));
    else args.push_back(nullptr);
    if (at_op(":")) {
      next();
      if (!at_op("]") && !at_op(",")) args.push_back(parse_expression(true));
      else args.push_back(nullptr);
    } else {
      args.push_back(nullptr);
    }
    auto s = make(ex::slice, line);
    s->a = std::move(args[0]);
    s->b = std::move(args[1]);
    s->c = std::move(args[2]);
    return fin(std::move(s));
  }

  void parse_call_args(expr& n) {
    const int line = cur().line;
    expect_op("(");
    bool require_comma = false;
    auto ensure = [&](bool ok) {
      if (!ok) fail("invalid syntax for function call expression", line);
    };
    while (!at_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (at_op(")")) break;
      }
      if (at_op("*")) {
        ensure(!n.dyn_args && !n.dyn_kwargs);
        next();
        n.dyn_args = parse_expression(true);
      } else if (at_op("**")) {
        ensure(!n.dyn_kwargs);
        next();
        n.dyn_kwargs = parse_expression(true);
      } else if (cur().type == tok::name && is_op(look(), "=")) {
        ensure(!n.dyn_kwargs);
        std::string key = next().text;
        next();
        n.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        ensure(!n.dyn_args && !n.dyn_kwargs && n.kwargs.empty());
        n.items.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
  }

  expr_ptr parse_call(expr_ptr node) {
    depth_guard g(*this);
    auto n = make(ex::call, cur().line);
    n->a = std::move(node);
    parse_call_args(*n);
    return fin(std::move(n));
  }

  expr_ptr parse_filter(expr_ptr node, bool start_inline) {
    depth_guard g(*this);
    while (at_op("|") || start_inline) {
      if (!start_inline) next();
      const token k = expect_name();
      std::string name = k.text;
      while (at_op(".")) {
        next();
        name.push_back('.');
        name += expect_name().text;
      }
      auto n = make(ex::filter, k.line);
      n->a = std::move(node);
      n->name = name;
      n->known = has_filter(name);
      if (at_op("(")) parse_call_args(*n);
      node = fin(std::move(n));
      start_inline = false;
    }
    return node;
  }

  expr_ptr parse_test(expr_ptr node) {
    depth_guard g(*this);
    const token k = next();
    const bool negated = skip_name("not");
    std::string name = expect_name().text;
    while (at_op(".")) {
      next();
      name.push_back('.');
        name += expect_name().text;
    }
    auto n = make(ex::test, k.line);
    n->a = std::move(node);
    n->name = name;
    n->known = has_test(name);
    const token& c = cur();
    if (at_op("(")) {
      parse_call_args(*n);
    } else if ((c.type == tok::name || c.type == tok::string || c.type == tok::integer || c.type == tok::floating ||
                is_op(c, "[") || is_op(c, "{")) &&
               !at_name("else") && !at_name("or") && !at_name("and")) {
      if (at_name("is")) fail("You cannot chain multiple tests with is");
      expr_ptr arg = parse_primary();
      n->items.push_back(parse_postfix(std::move(arg)));
    }
    n = fin(std::move(n));
    if (!negated) return n;
    auto no = make(ex::not_, k.line);
    no->a = std::move(n);
    return fin(std::move(no));
  }
};

// Unknown filters/tests are compile-time errors unless they sit in an if statement or conditional
// expression (then they fail only when evaluated); break/continue need an enclosing loop.
class validator {
 public:
  void run(const body& b) { walk(b, false, 0); }

 private:
  void expr_walk(const expr* e, bool soft) {
    if (!e) return;
    if (e->kind == ex::condexpr) soft = true;
    if ((e->kind == ex::filter || e->kind == ex::test) && !e->known && !soft)
      throw template_error(error_kind::template_assertion,
                           fmt::format("No {} named '{}'.", e->kind == ex::filter ? "filter" : "test", e->name), e->line);
    expr_walk(e->a.get(), soft);
    expr_walk(e->b.get(), soft);
    expr_walk(e->c.get(), soft);
    for (const auto& x : e->items) expr_walk(x.get(), soft);
    for (const auto& [k, x] : e->kwargs) expr_walk(x.get(), soft);
    expr_walk(e->dyn_args.get(), soft);
    expr_walk(e->dyn_kwargs.get(), soft);
  }

  void walk(const body& b, bool soft, int loops) {
    for (const auto& s : b) {
      switch (s->kind) {
        case st::output:
          for (const auto& n : s->nodes) expr_walk(n.get(), soft);
          break;
        case st::if_:
          for (const auto& [c, bb] : s->ifs) {
            expr_walk(c.get(), true);
            walk(bb, true, loops);
          }
          walk(s->else_body, true, loops);
          break;
        case st::for_:
          expr_walk(s->e1.get(), soft);
          expr_walk(s->e2.get(), false);
          walk(s->main, false, loops + 1);
          walk(s->else_body, false, loops);
          break;
        case st::set: expr_walk(s->e1.get(), soft); break;
        case st::set_block:
        case st::filter_block:
          expr_walk(s->e1.get(), false);
          walk(s->main, false, loops);
          break;
        case st::macro:
          for (const auto& v : s->values) expr_walk(v.get(), false);
          walk(s->main, false, 0);
          break;
        case st::call_block:
          expr_walk(s->e1.get(), soft);
          for (const auto& v : s->values) expr_walk(v.get(), false);
          walk(s->main, false, 0);
          break;
        case st::with:
          for (const auto& v : s->values) expr_walk(v.get(), soft);
          walk(s->main, false, loops);
          break;
        case st::generation:
        case st::block: walk(s->main, false, 0); break;
        case st::break_:
        case st::continue_:
          if (loops == 0)
            throw template_error(error_kind::syntax,
                                 fmt::format("'{}' outside loop", s->kind == st::break_ ? "break" : "continue"), s->line);
          break;
      }
    }
  }
};

}  // namespace

std::unique_ptr<program> parse_template(std::string_view source, const lexer_options& opt) {
  auto p = parser(lex(source, opt)).run();
  validator().run(p->root);
  return p;
}

}  // namespace hearth::jinja
