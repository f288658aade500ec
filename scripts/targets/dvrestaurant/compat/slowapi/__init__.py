"""A stand-in for slowapi (not packaged in Debian) with the names the
Damn Vulnerable RESTaurant imports. The application creates a Limiter and
registers the handler but decorates no route with a limit, so a limiter
that limits nothing behaves exactly as slowapi would here."""
from .errors import RateLimitExceeded


class Limiter:
    def __init__(self, key_func=None, **kwargs):
        self.key_func = key_func

    def limit(self, *args, **kwargs):
        raise NotImplementedError("this slowapi stand-in does not limit routes")


def _rate_limit_exceeded_handler(request, exc):
    from starlette.responses import JSONResponse
    return JSONResponse({"error": "Rate limit exceeded"}, status_code=429)
