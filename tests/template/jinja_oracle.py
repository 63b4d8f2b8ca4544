#!/usr/bin/python3
"""Reference renderer for the chat-template conformance test.

Renders chat templates with Python's Jinja2 configured the way Hugging Face's apply_chat_template
configures it: an ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the loop-controls
extension, a {% generation %} block tag, a tojson filter that keeps non-ASCII characters, and the
raise_exception / strftime_now globals. Variables: messages, tools, documents, add_generation_prompt,
then bos_token / eos_token and any extra keyword arguments.

Usage: jinja_oracle.py REQUEST.json RESULT.json
REQUEST: {"templates": {name: source}, "cases": [{"template", "messages", "tools", "documents",
          "add_generation_prompt", "bos_token", "eos_token", "extra", "now"}]}; a case with "vars"
          instead renders the template with exactly those variables.
RESULT:  [{"ok": true, "output": str} | {"ok": false, "error": str}] in case order.
"""
import json
import sys
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationBlock(jinja2.ext.Extension):
    """{% generation %}...{% endgeneration %}: renders its body (HF uses it to mark assistant text)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_environment(now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.fromtimestamp(now).strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlock, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        req = json.load(f)
    compiled = {}
    results = []
    for case in req["cases"]:
        now = case.get("now", 0)
        key = (case["template"], now)
        try:
            if key not in compiled:
                try:
                    compiled[key] = make_environment(now).from_string(req["templates"][case["template"]])
                except Exception as e:  # the template does not compile: every case raises
                    compiled[key] = e
            tpl = compiled[key]
            if isinstance(tpl, Exception):
                raise tpl
            if "vars" in case:
                results.append({"ok": True, "output": tpl.render(**case["vars"])})
                continue
            kwargs = {"bos_token": case.get("bos_token", ""), "eos_token": case.get("eos_token", "")}
            kwargs.update(case.get("extra", {}))
            out = tpl.render(messages=case["messages"], tools=case.get("tools"), documents=case.get("documents"),
                             add_generation_prompt=case.get("add_generation_prompt", True), **kwargs)
            results.append({"ok": True, "output": out})
        except Exception as e:
            results.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
