"""Reports for people and CI besides JUnit/JSON (report.py):

    write_tap(results, path, target, strict)           TAP version 14 (kselftest, packetdrill)
    write_markdown(results, path, target, secs, strict) a CI job summary ($GITHUB_STEP_SUMMARY)
    write_html(results, path, target, secs, strict, pcap)  one self-contained page

TAP: `ok N - check` / `not ok N - check`; n/a and xfail carry `# SKIP reason`; every point
that is not a plain pass has a YAML block (level, verdict, rfc, message). A deviation is
`ok` unless strict (then `not ok`), as the exit status counts it.
The HTML page needs no tools to read: inline CSS, no scripts, the summary, the per-RFC table,
every check with its level and verdict, and the transcript of each one that did not pass;
the pcap is linked (relative path) with each check's marker frame number for Wireshark's
"Go to packet". Written with the standard library's html.escape (one page does not call
for a template engine).
"""

import html
import os

from .rfcs import rfc_summary
from .session import summary_line, verdict_counts, verdict_line


def _atomic_write(path, text):
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _yaml_str(text):
    return '"%s"' % str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def tap_text(results, target="", strict=False):
    out = ["TAP version 14", "# ethox-uk conformance against %s" % target,
           "1..%d" % len(results)]
    for i, r in enumerate(results, 1):
        c = r.check
        ok = "not ok" if r.counts_as_failure(strict) else "ok"
        line = "%s %d - %s" % (ok, i, c.name)
        if r.status in ("n/a", "xfail"):
            line += " # SKIP %s" % (r.message or r.status).replace("\n", " ")
        out.append(line)
        if r.status != "pass":
            out += ["  ---",
                    "  level: %s" % c.level,
                    "  verdict: %s" % r.status,
                    "  rfc: %s" % _yaml_str(c.rfc),
                    "  message: %s" % _yaml_str(r.message),
                    "  ..."]
    out.append("# " + verdict_line(results))
    out.append("# " + summary_line(results, strict))
    return "\n".join(out) + "\n"


def write_tap(results, path, target="", strict=False):
    _atomic_write(path, tap_text(results, target, strict))


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_text(results, target="", seconds=0.0, strict=False):
    counts = verdict_counts(results)
    lines = ["## ethox-uk conformance: %s" % _md(target), "",
             "`%s` (%.0f s%s)" % (summary_line(results, strict), seconds,
                                  ", --strict" if strict else ""), "",
             "| pass | variant | deviates | fail | n/a | xfail |", "|---|---|---|---|---|---|",
             "| %d | %d | %d | %d | %d | %d |" % tuple(counts[v] for v in (
                 "pass", "variant", "deviates", "fail", "n/a", "xfail")), "",
             "### Per RFC", "", "| RFC | checks | MUST met | SHOULD met | MAY met |",
             "|---|---|---|---|---|"]
    for row in rfc_summary(results):
        cells = ["%d/%d" % (row[l]["met"], row[l]["total"]) if row[l]["total"] else "-"
                 for l in ("MUST", "SHOULD", "MAY")]
        lines.append("| %s | %d | %s |" % (row["rfc"], row["checks"], " | ".join(cells)))
    notable = [r for r in results if r.status not in ("pass", "n/a")]
    if notable:
        lines += ["", "### Not a plain pass", "", "| check | level | verdict | detail |",
                  "|---|---|---|---|"]
        order = {"fail": 0, "deviates": 1, "xfail": 2, "variant": 3}
        for r in sorted(notable, key=lambda r: order.get(r.status, 9)):
            lines.append("| `%s` | %s | **%s** | %s |" % (r.check.name, r.check.level,
                                                         r.status, _md(r.message)))
    return "\n".join(lines) + "\n"


def write_markdown(results, path, target="", seconds=0.0, strict=False):
    _atomic_write(path, markdown_text(results, target, seconds, strict))


_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;
vertical-align:top;text-align:left}th{background:#f3f3f3}code,pre{font:12px ui-monospace,
monospace}pre{background:#f7f7f7;padding:6px;overflow-x:auto;margin:4px 0}
.pass{color:#17702e}.variant{color:#1b5e9e}.deviates{color:#9a6700;font-weight:bold}
.fail{color:#b00020;font-weight:bold}.na,.xfail{color:#777}details{margin:2px 0}"""


def html_text(results, target="", seconds=0.0, strict=False, pcap=None, pcap_href=None):
    e = html.escape
    counts = verdict_counts(results)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>ethox-uk conformance: %s</title>" % e(target), "<style>%s</style>" % _CSS,
           "</head><body>", "<h1>ethox-uk conformance</h1>",
           "<p>Target: <b>%s</b><br>%s in %.1f s%s<br><code>%s</code></p>" % (
               e(target), e(verdict_line(results)), seconds, " (--strict)" if strict else "",
               e(summary_line(results, strict)))]
    if pcap:
        out.append('<p>Every frame: <a href="%s">%s</a> (pcap; each check begins with a '
                   'marker frame, Ethernet type 0x88b5, named in its row: Wireshark '
                   '"Go to packet", or <code>tshark -r %s -Y eth.type==0x88b5</code>)</p>'
                   % (e(pcap_href or pcap), e(os.path.basename(pcap)),
                      e(os.path.basename(pcap))))
    out.append("<table><tr>%s</tr><tr>%s</tr></table>" % (
        "".join("<th>%s</th>" % v for v in counts),
        "".join('<td class="%s">%d</td>' % (_cls(v), n) for v, n in counts.items())))
    out.append("<h2>Per RFC</h2><table><tr><th>RFC</th><th>checks</th><th>MUST met</th>"
               "<th>SHOULD met</th><th>MAY met</th><th>clauses</th></tr>")
    for row in rfc_summary(results):
        cells = []
        for lvl in ("MUST", "SHOULD", "MAY"):
            m, n = row[lvl]["met"], row[lvl]["total"]
            cls = "pass" if m == n else ("fail" if lvl == "MUST" else "deviates")
            cells.append('<td class="%s">%d/%d</td>' % (cls, m, n) if n else "<td>-</td>")
        out.append("<tr><td>%s</td><td>%d</td>%s<td>%s</td></tr>" % (
            e(row["rfc"]), row["checks"], "".join(cells), e(", ".join(row["clauses"]))))
    out.append("</table><h2>Checks</h2><table><tr><th>check</th><th>level</th>"
               "<th>verdict</th><th>s</th><th>clause</th><th>detail</th><th>pcap</th></tr>")
    for r in results:
        c = r.check
        detail = e(r.message)
        if r.status != "pass" and r.transcript:
            detail += ("<details><summary>transcript</summary><pre>%s</pre></details>"
                       % e("\n".join(r.transcript)))
        out.append('<tr id="%s"><td><code>%s</code><br><small>%s</small></td><td>%s</td>'
                   '<td class="%s">%s</td><td>%.2f</td><td>%s</td><td>%s</td><td>%s</td></tr>'
                   % (e(c.name), e(c.name), e(c.description), c.level, _cls(r.status),
                      r.status, r.duration, e(c.rfc), detail,
                      "#%d" % r.marker if r.marker is not None else ""))
    out.append("</table>")
    bad = [r for r in results if r.status in ("fail", "deviates")]
    if bad:
        out.append("<h2>Transcripts of the checks that failed or deviated</h2>")
        for r in bad:
            c = r.check
            out.append('<h3 class="%s"><a href="#%s">%s</a>: %s</h3>' % (
                _cls(r.status), e(c.name), e(c.name), r.status))
            out.append("<p>%s (%s, %s)<br>%s%s</p>" % (
                e(c.description), c.level, e(c.rfc), e(r.message),
                "<br>accepts: %s" % e(c.accepts) if c.accepts else ""))
            out.append("<pre>%s</pre>" % e("\n".join(r.transcript) or "(no frames)"))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _cls(verdict):
    return {"n/a": "na"}.get(verdict, verdict)


def write_html(results, path, target="", seconds=0.0, strict=False, pcap=None):
    href = None
    if pcap:
        href = os.path.relpath(os.path.abspath(pcap), os.path.dirname(os.path.abspath(path)))
    _atomic_write(path, html_text(results, target, seconds, strict, pcap, href))
