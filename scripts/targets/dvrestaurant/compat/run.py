"""Starts the Damn Vulnerable RESTaurant on Debian's packages:
python3 run.py HOST PORT (from the application's app/ directory)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastapi_annotated  # noqa: F401,E402

import uvicorn  # noqa: E402

sys.path.insert(0, os.getcwd())
uvicorn.run("main:app", host=sys.argv[1], port=int(sys.argv[2]), workers=1, log_level="warning")
