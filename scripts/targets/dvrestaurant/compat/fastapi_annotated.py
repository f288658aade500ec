"""Debian 12 ships FastAPI 0.92 with pydantic 1.10; the application is
written for FastAPI 0.103 with pydantic 2. Two differences matter, and
this module bridges both as the newer versions behave:

- Annotated[T, Depends(...)] parameters (FastAPI 0.95): the signature
  reader is taught that Annotated[T, <fastapi param>] means
  T = <fastapi param>.
- Returning ORM objects: FastAPI on pydantic 2 validates responses with
  from_attributes=True; on pydantic 1 the models need orm_mode, which is
  turned on for every model (pydantic.BaseConfig) before the application
  defines them."""
import inspect

import pydantic

pydantic.BaseConfig.orm_mode = True

import fastapi.dependencies.utils as du  # noqa: E402
from fastapi import params
from pydantic.fields import FieldInfo
from typing_extensions import Annotated, get_args, get_origin

_orig = du.get_typed_signature


def _unwrap(param):
    ann = param.annotation
    if get_origin(ann) is not Annotated:
        return param
    base, *meta = get_args(ann)
    marker = next((m for m in meta if isinstance(m, (params.Depends, FieldInfo))), None)
    default = param.default
    if marker is not None:
        if isinstance(marker, FieldInfo) and default is not inspect.Parameter.empty:
            marker.default = default
        default = marker
    return param.replace(annotation=base, default=default)


def get_typed_signature(call):
    sig = _orig(call)
    return sig.replace(parameters=[_unwrap(p) for p in sig.parameters.values()])


du.get_typed_signature = get_typed_signature
