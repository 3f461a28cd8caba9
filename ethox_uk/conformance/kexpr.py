"""`-k EXPR`: pick checks by name, in the simple forms pytest's -k takes.

    EXPR  := OR
    OR    := AND ("or" AND)*
    AND   := NOT ("and" NOT)*
    NOT   := "not" NOT | "(" OR ")" | WORD

A WORD matches a check when it is a case-insensitive substring of the check's name
("group.what") or of one of its tags. Examples:

    -k arp                     every ARP check
    -k "icmp and not echo"     ICMP checks whose name does not contain "echo"
    -k "udp.echo or ipv4.frag" two families
    -k smoke                   the checks tagged smoke

`compile_expr(text)` returns a predicate over a Check (ValueError with the position of a
syntax error); an empty or blank EXPR selects everything.
"""

import re

_TOKEN = re.compile(r"\s*(?:(\()|(\))|([^\s()]+))")
_KEYWORDS = ("and", "or", "not")


def _tokens(text):
    pos = 0
    out = []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:  # pragma: no cover - the pattern always matches non-blank input
            raise ValueError("-k %r: cannot read at column %d" % (text, pos + 1))
        if m.group(1):
            out.append(("(", "(", m.start(1)))
        elif m.group(2):
            out.append((")", ")", m.start(2)))
        else:
            word = m.group(3)
            kind = word.lower() if word.lower() in _KEYWORDS else "word"
            out.append((kind, word, m.start(3)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def error(self, what):
        col = self.toks[self.i][2] + 1 if self.i < len(self.toks) else len(self.text) + 1
        raise ValueError("-k %r: %s at column %d (forms: WORD, not X, X and Y, X or Y, "
                         "parentheses)" % (self.text, what, col))

    def peek(self):
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse(self):
        node = self.or_()
        if self.i != len(self.toks):
            self.error("unexpected %r" % self.toks[self.i][1])
        return node

    def or_(self):
        node = self.and_()
        while self.peek() == "or":
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.not_()
        while self.peek() == "and":
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self):
        kind = self.peek()
        if kind == "not":
            self.take()
            return ("not", self.not_())
        if kind == "(":
            self.take()
            node = self.or_()
            if self.peek() != ")":
                self.error("missing ')'")
            self.take()
            return node
        if kind == "word":
            return ("word", self.take()[1].lower())
        if kind is None:
            self.error("expression ends too early")
        self.error("unexpected %r" % self.toks[self.i][1])


def _eval(node, words):
    op = node[0]
    if op == "word":
        return any(node[1] in w for w in words)
    if op == "not":
        return not _eval(node[1], words)
    if op == "and":
        return _eval(node[1], words) and _eval(node[2], words)
    return _eval(node[1], words) or _eval(node[2], words)


def compile_expr(text):
    """A predicate check -> bool for the -k expression `text` (None/blank: all)."""
    if text is None or not text.strip():
        return lambda c: True
    tree = _Parser(text).parse()

    def pred(c):
        return _eval(tree, [k.lower() for k in c.keywords()])

    return pred


def select(checks, text):
    pred = compile_expr(text)
    return [c for c in checks if pred(c)]
