# aiosql 5.0 imports asynccontextmanager from contextlib2, a backport of
# Python 3.7's contextlib; Debian's contextlib2 0.6 predates it. The
# standard library's is the same thing.
from contextlib import *  # noqa: F401,F403
from contextlib import asynccontextmanager  # noqa: F401
