"""`ethox-uk conformance --compare A.json B.json`: the checks whose verdicts differ between
two runs (our image against Linux, or two versions of ours), from their --json files.

    diff = compare(load(a), load(b))      # {"both", "differ": [(name, level, va, vb)], ...}
    agreement(doc) -> (agreeing, applicable, [(name, verdict, level, rfc, message)])

Exit status of the command: 0 when every check both runs share has the same verdict, 1 when
some differ, 2 when a file cannot be read (the message says which and why).
"""

import json


class CompareError(Exception):
    pass


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise CompareError("cannot read %s: %s" % (path, e.strerror)) from None
    except ValueError as e:
        raise CompareError("%s is not JSON (%s): give files written by --json" % (path, e)) \
            from None
    if not isinstance(doc, dict) or not isinstance(doc.get("checks"), list):
        raise CompareError("%s has no \"checks\" list: give files written by "
                           "`ethox-uk conformance --json`" % path)
    return doc


def _verdicts(doc):
    return {c["name"]: c for c in doc["checks"] if "name" in c}


def compare(a, b):
    va, vb = _verdicts(a), _verdicts(b)
    both = [n for n in va if n in vb]
    differ = []
    for n in both:
        x = va[n].get("verdict", va[n].get("status"))
        y = vb[n].get("verdict", vb[n].get("status"))
        if x != y:
            differ.append((n, va[n].get("level", "?"), x, y, va[n].get("message", ""),
                           vb[n].get("message", "")))
    return {"both": both, "differ": differ, "only_a": [n for n in va if n not in vb],
            "only_b": [n for n in vb if n not in va]}


def agreement(doc):
    """How far the target's behaviour is accepted by the suite: (agreeing, applicable,
    disagreements). Applicable: not n/a or xfail; agreeing: pass, variant or deviates (no
    MUST failed); the disagreements are every fail AND every deviation, so both are listed."""
    applicable = [c for c in doc["checks"]
                  if c.get("verdict", c.get("status")) not in ("n/a", "xfail")]
    agreeing = [c for c in applicable if c.get("verdict", c.get("status")) != "fail"]
    notes = [(c["name"], c.get("verdict", c.get("status")), c.get("level", "?"),
              c.get("rfc", ""), c.get("message", "")) for c in applicable
             if c.get("verdict", c.get("status")) in ("fail", "deviates")]
    return len(agreeing), len(applicable), notes


def print_compare(a_path, b_path, a, b, con):
    from rich.markup import escape
    from rich.table import Table

    d = compare(a, b)
    con.print("A: %s (%s)" % (a_path, a.get("target", "?")), markup=False)
    con.print("B: %s (%s)" % (b_path, b.get("target", "?")), markup=False)
    if d["differ"]:
        t = Table(title="%d of %d checks differ" % (len(d["differ"]), len(d["both"])))
        for col in ("check", "level", "A", "B", "A detail", "B detail"):
            t.add_column(col, overflow="fold")
        for name, level, x, y, mx, my in d["differ"]:
            t.add_row(name, level, x, y, escape(mx[:200]), escape(my[:200]))
        con.print(t)
    for key, label in (("only_a", "only in A"), ("only_b", "only in B")):
        if d[key]:
            con.print("%s: %s" % (label, " ".join(d[key])), markup=False)
    con.print("compare: %d checks in both, %d differ" % (len(d["both"]), len(d["differ"])),
              markup=False)
    return 1 if d["differ"] else 0
