// Unit tests of the template engine with fixed expectations: each statement and whitespace rule,
// Python printing, the errors for unsupported constructs (naming them and their line), and the
// limits that stop infinite loops, runaway recursion, huge output and hostile nesting.
#include <gtest/gtest.h>

#include <thread>

#include "tokenizer/template/chat.h"
#include "tokenizer/template/template.h"

using hearth::jinja::compiled_template;
using hearth::jinja::error_kind;
using hearth::jinja::from_json;
using hearth::jinja::render_options;
using hearth::jinja::template_error;
using nlohmann::ordered_json;

namespace {

std::string render(const std::string& src, const ordered_json& vars = ordered_json::object(),
                   const render_options& opt = {}) {
  return compiled_template(src).render(from_json(vars), opt);
}

template_error render_error_parse(const std::string& src) {
  try {
    compiled_template t(src);
  } catch (const template_error& e) {
    return e;
  }
  ADD_FAILURE() << "expected a parse error";
  return template_error(error_kind::runtime, "none", 0);
}

// Renders expecting a template_error; returns it.
template_error render_error(const std::string& src, const ordered_json& vars = ordered_json::object(),
                            const render_options& opt = {}) {
  try {
    render(src, vars, opt);
  } catch (const template_error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an error from " << src;
  return template_error(error_kind::runtime, "none", 0);
}

TEST(template_statements, if_elif_else) {
  const std::string t = "{% if n > 2 %}big{% elif n > 0 %}small{% else %}none{% endif %}";
  EXPECT_EQ(render(t, {{"n", 5}}), "big");
  EXPECT_EQ(render(t, {{"n", 1}}), "small");
  EXPECT_EQ(render(t, {{"n", 0}}), "none");
}

TEST(template_statements, for_loop_variables_and_else) {
  EXPECT_EQ(render("{% for x in ['a','b','c'] %}{{ loop.index }}{{ x }}{{ '|' if not loop.last }}{% endfor %}"), "1a|2b|3c");
  EXPECT_EQ(render("{% for x in [1,2,3] %}{{ loop.revindex0 }}{{ loop.length }} {% endfor %}"), "23 13 03 ");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in [1,2,3,4] if x is even %}{{ x }}@{{ loop.index }}/{{ loop.length }} {% endfor %}"), "2@1/2 4@2/2 ");
  EXPECT_EQ(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), "a=1;b=2;");
  EXPECT_EQ(render("{% for x in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }} {% endfor %}"), "-2 1-3 2- ");
}

TEST(template_statements, loop_controls) {
  EXPECT_EQ(render("{% for i in range(10) %}{% if i is odd %}{% continue %}{% endif %}{% if i > 6 %}{% break %}{% endif %}{{ i }}{% endfor %}"),
            "0246");
}

TEST(template_statements, recursive_loop) {
  const ordered_json tree = {{"items", {{{"n", "a"}, {"c", {{{"n", "b"}, {"c", ordered_json::array()}}}}}}}};
  EXPECT_EQ(render("{% for i in items recursive %}{{ i.n }}{{ loop.depth }}[{{ loop(i.c) }}]{% endfor %}", tree), "a1[b2[]]");
}

TEST(template_statements, set_scoping_follows_jinja) {
  // Assignments in a loop body do not leave the iteration; in an if block they do.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(render("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}"), "2");
  EXPECT_EQ(render("{% for i in range(3) %}{% if i == 0 %}{% set y = 'a' %}{% endif %}[{{ y }}]{% endfor %}"), "[a][][]");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"), "6");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(render("{% set x | upper %}hi {{ 'there' }}{% endset %}{{ x }}"), "HI THERE");
}

TEST(template_statements, macros_call_filter_with_generation) {
  EXPECT_EQ(render("{% macro m(a, b='B') %}{{ a }}{{ b }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1) }} {{ m(1, 2, 3, k=4) }}"),
            "1B(){} 12(3,){'k': 4}");
  EXPECT_EQ(render("{% macro w() %}<{{ caller('x') }}>{% endmacro %}{% call(v) w() %}[{{ v }}]{% endcall %}"), "<[x]>");
  EXPECT_EQ(render("{% filter upper %}abc{% endfilter %}"), "ABC");
  EXPECT_EQ(render("{% with a = 2 %}{{ a * 3 }}{% endwith %}"), "6");
  EXPECT_EQ(render("{% generation %}x{% endgeneration %}"), "x");
  EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
}

TEST(template_whitespace, trim_and_lstrip_blocks) {
  // trim_blocks eats the newline after a tag; lstrip_blocks the indentation before it.
  EXPECT_EQ(render("a\n  {% if true %}\n  b\n  {% endif %}\nc"), "a\n  b\nc");
  EXPECT_EQ(render("  {{ 'x' }}\n"), "  x");  // expressions are not lstripped; one final newline dropped
  EXPECT_EQ(render("a   {%- if true -%}   b   {%- endif -%}   c"), "abc");
  EXPECT_EQ(render("a {{- 'b' -}} c"), "abc");
  EXPECT_EQ(render("a\n  {%+ if true %}b{% endif +%}\nc"), "a\n  b\nc");
  EXPECT_EQ(render("x\n  {# note #}\ny"), "x\ny");
  EXPECT_EQ(render("a\r\nb\r\n"), "a\nb");
}

TEST(template_printing, python_spellings) {
  EXPECT_EQ(render("{{ none }} {{ true }} {{ 1.0 }} {{ 1e-5 }} {{ 1e16 }} {{ 1/3 }}"),
            "None True 1.0 1e-05 1e+16 0.3333333333333333");
  EXPECT_EQ(render("{{ ['a', \"it's\", none, 2.5] }} {{ {'k': (1,)} }}"), "['a', \"it's\", None, 2.5] {'k': (1,)}");
  EXPECT_EQ(render("{{ x | tojson }}", {{"x", {{"b", "é"}, {"a", {1, 2.0}}}}}), "{\"b\": \"é\", \"a\": [1, 2.0]}");
  EXPECT_EQ(render("{{ x | tojson(indent=2) }}", {{"x", {{"a", 1}}}}), "{\n  \"a\": 1\n}");
  EXPECT_EQ(render("{{ ('<b>' | safe) + '<i>' }}"), "<b>&lt;i&gt;");
}

TEST(template_undefined, behaves_like_jinja_default_undefined) {
  EXPECT_EQ(render("[{{ nope }}]{{ nope | length }}{{ nope is defined }}{% for x in nope %}x{% endfor %}"), "[]0False");
  EXPECT_EQ(render("{{ d.missing is defined }}|{{ l[9] }}|", {{"d", ordered_json::object()}, {"l", {1}}}), "False||");
  const template_error e = render_error("\n{{ nope.attr }}");
  EXPECT_EQ(e.kind(), error_kind::undefined);
  EXPECT_EQ(e.line(), 2);
  EXPECT_STREQ(e.what(), "chat template line 2: 'nope' is undefined");
}

TEST(template_errors, raise_exception_carries_the_message) {
  const template_error e = render_error("{% if true %}\n{{ raise_exception('Roles must alternate') }}{% endif %}");
  EXPECT_EQ(e.kind(), error_kind::raised);
  EXPECT_EQ(e.message(), "Roles must alternate");
  EXPECT_EQ(e.line(), 2);
}

TEST(template_errors, unsupported_constructs_are_named_with_their_line) {
  auto parse_error = [](const std::string& src) -> template_error {
    try {
      compiled_template t(src);
    } catch (const template_error& e) {
      return e;
    }
    ADD_FAILURE() << "expected a parse error from " << src;
    return template_error(error_kind::runtime, "none", 0);
  };
  template_error e = parse_error("a\nb\n{% extends 'base.html' %}");
  EXPECT_EQ(e.kind(), error_kind::unsupported);
  EXPECT_STREQ(e.what(), "chat template line 3: the 'extends' tag is not supported");
  e = parse_error("{% include 'x' %}");
  EXPECT_NE(std::string(e.what()).find("'include' tag is not supported"), std::string::npos);
  e = parse_error("\n{% do x.append(1) %}");
  EXPECT_EQ(e.kind(), error_kind::syntax);
  EXPECT_STREQ(e.what(), "chat template line 2: Encountered unknown tag 'do'.");
  e = parse_error("{{ x | no_such_filter }}");
  EXPECT_EQ(e.kind(), error_kind::template_assertion);
  EXPECT_STREQ(e.what(), "chat template line 1: No filter named 'no_such_filter'.");
  e = parse_error("{% for x in y %}\n{% break %}{% endfor %}{% break %}");
  EXPECT_STREQ(e.what(), "chat template line 2: 'break' outside loop");
  e = parse_error("{{ '\\N{BULLET}' }}");
  EXPECT_EQ(e.kind(), error_kind::unsupported);
  e = parse_error("{% if x %}\n\nunclosed");
  EXPECT_EQ(e.kind(), error_kind::syntax);
  EXPECT_NE(std::string(e.what()).find("'endif'"), std::string::npos);
  EXPECT_EQ(render_error("{{ lipsum() }}").kind(), error_kind::unsupported);
  EXPECT_EQ(render_error("{{ x | wordwrap }}").kind(), error_kind::unsupported);
}

TEST(template_errors, sandbox_refuses_mutation_like_huggingface) {
  const template_error e = render_error("{% set l = [] %}{% set _ = l.append(1) %}");
  EXPECT_EQ(e.kind(), error_kind::security);
  EXPECT_EQ(e.message(), "access to attribute 'append' of 'list' object is unsafe.");
  EXPECT_EQ(render("{% set l = [1, 2] %}{{ l.pop() }}{{ l }}"), "2[1]");  // list.pop is allowed
}

TEST(template_limits, infinite_loops_are_stopped) {
  render_options opt;
  opt.limits.max_steps = 100000;
  const template_error e = render_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                                        ordered_json::object(), opt);
  EXPECT_EQ(e.kind(), error_kind::limit);
  EXPECT_NE(std::string(e.what()).find("stopped after 100000 evaluation steps"), std::string::npos);
  EXPECT_EQ(render_error("{{ range(1000000) | list }}").kind(), error_kind::overflow);
}

TEST(template_limits, runaway_recursion_is_stopped) {
  const template_error e = render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_EQ(e.kind(), error_kind::limit);
  EXPECT_NE(std::string(e.what()).find("recursion deeper than 100 calls"), std::string::npos);
  const ordered_json loop_tree = {{"items", {{{"c", ordered_json::array()}}}}};
  render_options opt;
  opt.limits.max_call_depth = 5;
  // A recursive loop that feeds itself the same items never ends on its own.
  EXPECT_EQ(render_error("{% for i in items recursive %}{{ loop(items) }}{% endfor %}", loop_tree, opt).kind(),
            error_kind::limit);
}

TEST(template_limits, output_and_value_sizes_are_bounded) {
  render_options opt;
  opt.limits.max_output_bytes = 1 << 20;
  EXPECT_EQ(render_error("{% for i in range(1000) %}{{ 'x' * 10000 }}{% endfor %}", ordered_json::object(), opt).kind(),
            error_kind::limit);
  EXPECT_EQ(render_error("{{ 'x' * 1000000000000 }}").kind(), error_kind::limit);
  EXPECT_EQ(render_error("{% set ns = namespace(v=[]) %}{% for i in range(2000) %}{% set ns.v = [ns.v] %}{% endfor %}").kind(),
            error_kind::limit);
}

TEST(template_limits, single_expensive_operations_are_charged) {
  // One expression doing quadratic work (searching a 1 MB haystack for a 512 KB near-match) must hit
  // the step limit instead of running for minutes.
  render_options opt;
  opt.limits.max_steps = 2'000'000;
  const template_error e = render_error(
      "{% set hay = 'a' * 1000000 %}{% set needle = 'a' * 500000 ~ 'b' %}{{ needle in hay }}", ordered_json::object(), opt);
  EXPECT_EQ(e.kind(), error_kind::limit);
  // Ordinary work on the same sizes fits easily.
  EXPECT_EQ(render("{% set hay = 'a' * 1000000 %}{{ hay | length }} {{ 'b' in hay }} {{ hay.count('aa') }}", ordered_json::object(), opt),
            "1000000 False 500000");
}

TEST(template_limits, hostile_nesting_in_source_and_input) {
  std::string chain = "{{ 1";
  for (int i = 0; i < 100000; ++i) chain += "+1";
  EXPECT_EQ(render_error_parse(chain + " }}").kind(), error_kind::limit);
  std::string attrs = "{{ x";
  for (int i = 0; i < 100000; ++i) attrs += ".a";
  EXPECT_EQ(render_error_parse(attrs + " }}").kind(), error_kind::limit);
  // Nesting times recursion: 150 nested ifs inside a macro that recurses 100 times.
  std::string body;
  for (int i = 0; i < 150; ++i) body += "{% if true %}";
  body += "{{ m(n + 1) }}";
  for (int i = 0; i < 150; ++i) body += "{% endif %}";
  EXPECT_EQ(render_error("{% macro m(n) %}" + body + "{% endmacro %}{{ m(0) }}").kind(), error_kind::limit);
  std::string deep(5000, '(');
  EXPECT_THROW(compiled_template("{{ " + deep + "1" + std::string(5000, ')') + " }}"), template_error);
  std::string ifs;
  for (int i = 0; i < 1000; ++i) ifs += "{% if true %}";
  EXPECT_THROW(compiled_template{ifs}, template_error);
  std::string json(100000, '[');
  json += std::string(100000, ']');
  const ordered_json deep_json = ordered_json::parse(json);
  EXPECT_THROW(from_json(deep_json), template_error);
}

TEST(template_api, compiled_once_renders_concurrently) {
  const compiled_template t("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}");
  const ordered_json ctx = {{"messages", {{{"role", "user"}, {"content", "hi"}}, {{"role", "assistant"}, {"content", "yo"}}}}};
  std::vector<std::string> outs(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < outs.size(); ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 50; ++k) outs[i] = t.render(from_json(ctx));
    });
  for (auto& th : threads) th.join();
  for (const auto& o : outs) EXPECT_EQ(o, "user:hi;assistant:yo;");
}

TEST(template_api, strftime_now_uses_the_given_time) {
  render_options opt;
  opt.now = 0;
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(render("{{ strftime_now('%Y-%m-%d %H:%M %z|%f') }}", ordered_json::object(), opt), "1970-01-01 00:00 |000000");
}

TEST(chat_layer, passes_huggingface_variables) {
  hearth::chat::chat_template t(
      "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
      "{% if add_generation_prompt %}<assistant>{% endif %}|{{ tools is none }}|{{ documents is none }}|{{ enable_thinking }}");
  hearth::chat::chat_inputs in;
  in.messages = ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
  in.bos_token = "<s>";
  in.extra = {{"enable_thinking", false}};
  EXPECT_EQ(t.render(in), "<s><user>hi<assistant>|True|True|False");
  in.add_generation_prompt = false;
  in.tools = ordered_json::array();
  EXPECT_EQ(t.render(in), "<s><user>hi|False|True|False");
  in.extra = {{"messages", 1}};
  EXPECT_THROW(t.render(in), hearth::error);
}

TEST(chat_layer, content_parts_pass_through_as_given) {
  hearth::chat::chat_template t("{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}"
                                "{% for p in m.content %}[{{ p.text }}]{% endfor %}{% endif %}{% endfor %}");
  hearth::chat::chat_inputs in;
  in.messages = ordered_json::parse(R"([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                                        {"role": "user", "content": "c"}])");
  EXPECT_EQ(t.render(in), "[a][b]c");
}

TEST(chat_layer, tool_schema_key_order_is_kept) {
  hearth::chat::chat_template t("{{ tools | tojson }}");
  hearth::chat::chat_inputs in;
  in.tools = ordered_json::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {"z": 1, "a": 2}}}])");
  EXPECT_EQ(t.render(in), R"([{"type": "function", "function": {"name": "f", "parameters": {"z": 1, "a": 2}}}])");
}

}  // namespace
