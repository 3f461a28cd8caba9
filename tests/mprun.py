# A minimal test runner for tests/unit under the MicroPython unix port.
# This file is run BY MicroPython: keep it MicroPython-compatible (no pathlib,
# no f-strings with =, no inspect, no traceback module).
#
#   micropython tests/mprun.py [-v] tests/unit/test_a.py [test_b ...]
#
# Arguments are test file paths or bare module names (looked up in tests/unit).
# Each module's test_* functions run in definition order (read from the source:
# MicroPython's module dicts are unordered); each failure prints a traceback.
# Output ends with one line per file, `tests/unit/test_a.py: N passed, N failed`,
# then the plain closing line `N passed, N failed`. Exit status: 0 when every
# test passed, 1 when any failed, 2 when nothing ran. tests/test_mp_parity.py
# compares the per-file counts with pytest's.
import gc
import os
import sys

SEP = "/"

try:
    _print_exception = sys.print_exception  # MicroPython
except AttributeError:  # CPython, when debugging the runner itself
    import traceback

    def _print_exception(e):
        traceback.print_exception(type(e), e, e.__traceback__)


def _dirname(p):
    i = p.rfind(SEP)
    if i < 0:
        return "."
    if i == 0:
        return SEP
    return p[:i]


def _abspath(p):
    if not p.startswith(SEP):
        p = os.getcwd() + SEP + p
    parts = []
    for part in p.split(SEP):
        if part == "" or part == ".":
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return SEP + SEP.join(parts)


ROOT = _dirname(_dirname(_abspath(sys.argv[0])))  # tests/mprun.py -> repository root
UNIT = ROOT + "/tests/unit"


def _setup_path():
    # `ethox_uk` imports from the repository root, `support` and the test modules
    # from tests/unit -- the same layout pytest sees.
    for p in (ROOT, UNIT):
        if p in sys.path:
            sys.path.remove(p)
    sys.path.insert(0, ROOT)
    sys.path.insert(0, UNIT)


def _module_and_path(arg):
    """(module name, path of the file relative to ROOT) for an argument."""
    if arg.endswith(".py"):
        full = _abspath(arg)
        name = full[full.rfind(SEP) + 1:-3]
        if _dirname(full) != UNIT:
            raise ValueError("not a file in tests/unit: " + arg)
    else:
        name = arg
        full = UNIT + SEP + name + ".py"
    return name, full[len(ROOT) + 1:]


def _definition_order(path):
    """Names of `def test_*` at top level of the file, in source order."""
    names = []
    with open(ROOT + SEP + path) as f:
        for line in f:
            if line.startswith("def test_"):
                end = line.find("(")
                if end > 4:
                    names.append(line[4:end].strip())
    return names


def _is_test(name, obj):
    return name.startswith("test_") and callable(obj) and not isinstance(obj, type)


def run_module(arg, verbose):
    """Run one file's tests; return (path, passed, failed)."""
    try:
        name, path = _module_and_path(arg)
    except ValueError as e:
        print("ERROR", e)
        return arg, 0, 1
    try:
        mod = __import__(name)
    except Exception as e:  # an import error is a failure of the whole file
        print("ERROR importing %s:" % path)
        _print_exception(e)
        return path, 0, 1
    ns = mod.__dict__
    order = [n for n in _definition_order(path) if n in ns and _is_test(n, ns[n])]
    # test_* functions imported from elsewhere run too (pytest collects them).
    extra = sorted(n for n in ns if _is_test(n, ns[n]) and n not in order)
    passed = failed = 0
    for tname in order + extra:
        gc.collect()
        try:
            ns[tname]()
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # noqa: B036 -- SystemExit in a test is a failure too
            failed += 1
            print("FAILED %s::%s" % (path, tname))
            _print_exception(e)
        else:
            passed += 1
            if verbose:
                print("PASSED %s::%s" % (path, tname))
    return path, passed, failed


def main(argv):
    verbose = False
    args = []
    for a in argv:
        if a == "-v":
            verbose = True
        else:
            args.append(a)
    if not args:
        print("usage: micropython tests/mprun.py [-v] TEST_FILE_OR_MODULE...")
        return 2
    _setup_path()
    results = [run_module(a, verbose) for a in args]
    total_p = total_f = 0
    for path, p, f in results:
        print("%s: %d passed, %d failed" % (path, p, f))
        total_p += p
        total_f += f
    print("%d passed, %d failed" % (total_p, total_f))
    if total_f:
        return 1
    if not total_p:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
