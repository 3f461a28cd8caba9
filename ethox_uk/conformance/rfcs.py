"""Per-RFC view of a run: which RFCs and clauses the checks cite, and how many of their MUSTs
and SHOULDs the target met.

    cites("RFC 6298 §5.4-5.5 (...), §2.4; RFC 1122 §4.2.3.1")
        -> [("RFC 6298", ["§5.4-5.5", "§2.4"]), ("RFC 1122", ["§4.2.3.1"])]
    rfc_summary(results) -> [{"rfc", "checks", "clauses", "MUST": {"met", "total"}, ...}]

A check counts under every RFC it cites, at its own level. Its level is met when the verdict
is pass or variant; a MUST check whose verdict is "deviates" met its MUST (a SHOULD inside
it was not met: that counts as one SHOULD not met). n/a and xfail count nowhere.
"""

import re

_RFC = re.compile(r"RFC\s*(\d+)")
_CLAUSE = re.compile(r"§\s*([0-9A-Z][0-9.]*(?:-[0-9.]+)?)")
_NAMED = re.compile(r"\(([A-Z][A-Za-z ]+)")


def cites(text):
    """[(RFC name, [clauses])] in the order cited; an RFC cited twice is merged."""
    marks = list(_RFC.finditer(text))
    out = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        part = text[m.end():end]
        clauses = ["§" + c.rstrip(".") for c in _CLAUSE.findall(part)]
        if not clauses:
            named = _NAMED.match(part.strip())
            if named:
                clauses = [named.group(1).strip()]
        name = "RFC %s" % m.group(1)
        have = out.setdefault(name, [])
        have.extend(c for c in clauses if c not in have)
    return list(out.items())


def _met(level, verdict):
    if verdict in ("pass", "variant"):
        return True
    return level == "MUST" and verdict == "deviates"


def rfc_summary(results):
    table = {}
    for r in results:
        if r.status in ("n/a", "xfail"):
            continue
        level = r.check.level
        for rfc, clauses in cites(r.check.rfc):
            row = table.setdefault(rfc, {"rfc": rfc, "checks": 0, "clauses": [],
                                         "MUST": {"met": 0, "total": 0},
                                         "SHOULD": {"met": 0, "total": 0},
                                         "MAY": {"met": 0, "total": 0},
                                         "not_met": []})
            row["checks"] += 1
            row["clauses"].extend(c for c in clauses if c not in row["clauses"])
            row[level]["total"] += 1
            if _met(level, r.status):
                row[level]["met"] += 1
            else:
                row["not_met"].append(r.check.name)
            if level == "MUST" and r.status == "deviates":
                row["SHOULD"]["total"] += 1  # the SHOULD inside the MUST check
                row["not_met"].append(r.check.name)
    return sorted(table.values(), key=lambda row: int(row["rfc"].split()[1]))


def print_rfc_summary(rows, con):
    from rich.table import Table

    t = Table(title="per RFC")
    for col in ("RFC", "checks", "MUST met", "SHOULD met", "MAY met", "clauses"):
        t.add_column(col, overflow="fold", justify="right" if "met" in col or col == "checks"
                     else "left")
    for row in rows:
        cells = []
        for lvl in ("MUST", "SHOULD", "MAY"):
            m, n = row[lvl]["met"], row[lvl]["total"]
            style = "green" if m == n else ("bold red" if lvl == "MUST" else "yellow")
            cells.append("[%s]%d/%d[/]" % (style, m, n) if n else "-")
        t.add_row(row["rfc"], str(row["checks"]), *cells, ", ".join(row["clauses"]))
    con.print(t)
