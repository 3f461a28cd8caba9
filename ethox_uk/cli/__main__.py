"""`python -m ethox_uk.cli ...`: the same commands as `ethox-uk ...`."""
from . import main

main(prog_name="ethox-uk")
