"""Benchmarks (DESIGN §5 `ethox-uk bench`): host.py drives them and reports (rich table,
JSON); rtt.py is the measuring script, run by CPython and by the MicroPython unix port."""
