"""The checks every lab's ``make test`` runs (labhandbook.sitetests), on the example lab: the
same one-line module that ``labhandbook init`` writes into a new lab's tests/."""

from labhandbook.sitetests import *  # noqa: F401,F403
