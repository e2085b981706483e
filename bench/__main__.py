"""`python -m bench`: run every benchmark and print one results table."""

from bench.run import main

raise SystemExit(main())
