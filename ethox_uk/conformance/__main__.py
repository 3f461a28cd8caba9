"""`python3 -m ethox_uk.conformance ...` = `ethox-uk conformance ...`."""

from ..cli.conformance import conformance

if __name__ == "__main__":
    conformance(prog_name="ethox-uk conformance")
