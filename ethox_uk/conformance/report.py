"""Reports: the rich table, failure transcripts, the summary line, JUnit XML and JSON.

JUnit: one <testsuite name="ethox-uk conformance"> with one <testcase> per check
(classname = the group, name = the check's full name) carrying <properties> level, verdict
and rfc; a fail (and with strict, a deviation) is <failure message=...> with the
transcript as text; n/a and xfail are <skipped message=...> (type "n/a"/"xfail"); a
variant or (without strict) a deviation passes with its detail in <system-out>.
"""

import json
import os
import time
import xml.etree.ElementTree as ET

from .session import summary_counts, summary_line, verdict_counts

_STYLE = {"pass": "green", "variant": "cyan", "deviates": "yellow", "fail": "bold red",
          "n/a": "dim", "xfail": "magenta"}


def console(file=None):
    from rich.console import Console

    con = Console(file=file, highlight=False, soft_wrap=False)
    if not con.is_terminal:  # logs and CI: wide enough for one line per check
        con.width = max(con.width, 150)
    return con


def print_list(checks, con):
    from rich.table import Table

    t = Table(title="%d checks" % len(checks), show_lines=False)
    for col in ("check", "level", "clause", "description"):
        t.add_column(col, overflow="fold")
    for c in checks:
        desc = c.description
        if c.accepts:
            desc += " [dim](accepts: %s)[/dim]" % _esc(c.accepts)
        if c.applies is not None:
            desc += " [dim](optional feature)[/dim]"
        if c.xfail:
            desc += " [magenta](expected failure: %s)[/magenta]" % _esc(c.xfail)
        for key, text in c.variants.items():
            desc += " [cyan](variant %s: %s)[/cyan]" % (key, _esc(text))
        t.add_row(c.name, c.level, _esc(c.rfc), desc)
    con.print(t)


def _esc(text):
    from rich.markup import escape

    return escape(str(text))


def print_results(results, con, target_desc=""):
    from rich.table import Table

    t = Table(title="ethox-uk conformance%s" % (" — " + _esc(target_desc) if target_desc
                                                 else ""))
    for col in ("check", "level", "verdict", "s", "clause", "detail"):
        t.add_column(col, overflow="fold", justify="right" if col == "s" else "left",
                     no_wrap=col in ("check", "level", "verdict", "s"))
    for r in results:
        st = r.status
        t.add_row(r.check.name, r.check.level, "[%s]%s[/]" % (_STYLE[st], st),
                  "%.2f" % r.duration, _esc(r.check.rfc), _esc(r.message))
    con.print(t)
    for r in results:
        if r.status not in ("fail", "deviates"):
            continue
        con.print("[%s]%s[/] %s — %s (%s, %s)" % (
            _STYLE[r.status], "FAIL" if r.status == "fail" else "DEVIATES", r.check.name,
            _esc(r.check.description), r.check.level, _esc(r.check.rfc)))
        con.print("  " + _esc(r.message))
        if r.check.accepts:
            con.print("  accepts: " + _esc(r.check.accepts))
        for line in r.transcript:
            con.print("    " + _esc(line))


def write_junit(results, path, target_desc="", total_time=None, strict=False):
    passed, failed, skipped = summary_counts(results, strict)
    total = sum(r.duration for r in results) if total_time is None else total_time
    suites = ET.Element("testsuites", name="ethox-uk conformance", tests=str(len(results)),
                        failures=str(failed), errors="0", skipped=str(skipped),
                        time="%.3f" % total)
    suite = ET.SubElement(suites, "testsuite", name="ethox-uk conformance",
                          tests=str(len(results)), failures=str(failed), errors="0",
                          skipped=str(skipped), time="%.3f" % total,
                          timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"))
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="target", value=target_desc)
    for r in results:
        c = r.check
        tc = ET.SubElement(suite, "testcase", classname=c.group, name=c.name,
                           time="%.3f" % r.duration)
        props = ET.SubElement(tc, "properties")
        for k, v in (("level", c.level), ("verdict", r.status), ("rfc", c.rfc)):
            ET.SubElement(props, "property", name=k, value=v)
        if r.counts_as_failure(strict):
            el = ET.SubElement(tc, "failure", message=r.message, type="conformance")
            el.text = "\n".join(["%s — %s (%s)" % (c.name, c.description, c.rfc)]
                                + (["accepts: " + c.accepts] if c.accepts else [])
                                + r.transcript)
        elif r.status in ("n/a", "xfail"):
            ET.SubElement(tc, "skipped", message=r.message, type=r.status)
        elif r.status in ("variant", "deviates"):
            ET.SubElement(tc, "system-out").text = "%s: %s" % (r.status, r.message)
    ET.indent(suites)
    _atomic_write(path, ET.tostring(suites, encoding="unicode", xml_declaration=True)
                  + "\n")


def write_json(results, path, target_desc="", total_time=None, strict=False, extra=None):
    passed, failed, skipped = summary_counts(results, strict)
    from .rfcs import rfc_summary

    doc = {"target": target_desc,
           "summary": {"passed": passed, "failed": failed, "skipped": skipped,
                       "total": len(results), "line": summary_line(results, strict),
                       "strict": strict, "verdicts": verdict_counts(results),
                       "time": round(total_time if total_time is not None
                                     else sum(r.duration for r in results), 3)},
           "rfcs": rfc_summary(results),
           "checks": [r.as_dict() for r in results]}
    doc.update(extra or {})
    _atomic_write(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def _atomic_write(path, text):
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
