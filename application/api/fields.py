"""The field types request models are built from, and how a refused value is reported.

* ``Text(...)``: a string that can be stored, embedded and sent on (no NUL, no lone surrogate), trimmed, and at
  most so many characters long — a number, or the name of a setting (``"max_question_chars"``) read from the
  serving app.
* ``WholeNumber(...)``: a JSON integer, or ASCII digits in a string (DocsGPT sends ``"chunks": "2"``, query
  strings are text); never ``true``, ``2.0``, ``"²"``. Its bounds may be settings too.
* ``report_validation_error``: the app's ``validation_error_callback``; a refused request is a 400
  ``{"error": "'<field>' <what is wrong>"}`` that never echoes more than a few characters of the input.

A bound that is a setting validates against the serving app's settings, and the description that
``openapi.py`` serves shows the app's value (it builds the request bodies' schemas within the request). Example::

    Question = Text("max_question_chars")   # a name, not a call in the annotation (linters read those)

    class SearchRequest(BaseModel):
        question: Question
        chunks: SearchChunks = 4            # SearchChunks = WholeNumber(1, "max_chunks")
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError, core_schema

from application.errors import BadRequest
from application.request_values import SQL_INTEGER_MAX, json_type, parse_whole_number, quoted, unicode_problem

#: the largest id the app hands out (uuid4: 36) with room to spare; longer cannot be a row of ours
ID_CHARS = 64


def refuse(message: str, *, whole: bool = False) -> PydanticCustomError:
    """A validation error whose message the client reads after the field's name (``'chunks' <message>``), or
    as it is (``whole``: the message names the field itself)."""
    return PydanticCustomError("docstune_whole" if whole else "docstune", message)


def setting_value(name: str) -> int:
    """A setting of the serving app (the defaults outside a request)."""
    from flask import current_app, has_app_context

    if has_app_context() and "docstune" in current_app.extensions:
        return getattr(current_app.extensions["docstune"].settings, name)
    from application.settings import Settings

    return Settings.model_fields[name].default


def _bound(value: int | str | None) -> int | None:
    return setting_value(value) if isinstance(value, str) else value


def _schema_bound(schema: dict, keyword: str, value: int | str | None) -> None:
    """``keyword: value`` in a JSON schema (a setting: the serving app's value, when built in a request)."""
    if value is not None:
        schema[keyword] = _bound(value)


@dataclass(frozen=True)
class _TextRules:
    max_chars: int | str | None
    strip: bool
    collapse_spaces: bool
    empty_is_none: bool

    def check(self, value: str) -> str | None:
        problem = unicode_problem(value)
        if problem:
            raise refuse(f"cannot be used: {problem}.")
        value = " ".join(value.split()) if self.collapse_spaces else value.strip() if self.strip else value
        if not value.strip():
            if self.empty_is_none:
                return None
            raise refuse("is missing or empty.")
        limit = _bound(self.max_chars)
        if limit is not None and len(value) > limit:
            raise refuse(f"is {len(value)} characters long; the limit is {limit}.")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, core_schema.str_schema(strict=True))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        json_schema = {"type": "string"}
        if not self.empty_is_none:
            json_schema["minLength"] = 1
        _schema_bound(json_schema, "maxLength", self.max_chars)
        return json_schema


def Text(max_chars: int | str | None, *, strip: bool = True, collapse_spaces: bool = False,  # noqa: N802
         empty_is_none: bool = False) -> Any:
    """Unicode text, trimmed (``strip``; ``collapse_spaces``: every run of white space becomes one space), then
    at most ``max_chars`` long (a number, or a setting's name). Empty after trimming is refused, or None with
    ``empty_is_none``. Ids are ``Text(ID_CHARS, strip=False)``."""
    return Annotated[str, _TextRules(max_chars, strip, collapse_spaces, empty_is_none)]


@dataclass(frozen=True)
class _WholeNumberRules:
    minimum: int | str
    maximum: int | str
    hint: str

    def check(self, value: Any) -> int:
        number = None if isinstance(value, bool) else value if isinstance(value, int) else parse_whole_number(value)
        low, high = _bound(self.minimum), _bound(self.maximum)
        if number is None or not low <= number <= high:
            raise refuse(f"must be a whole number from {low} to {high}{': ' + self.hint if self.hint else ''}.")
        return number

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.check, serialization=core_schema.plain_serializer_function_ser_schema(int))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        number: dict = {"type": "integer"}
        _schema_bound(number, "minimum", self.minimum)
        _schema_bound(number, "maximum", self.maximum)
        digits = {"type": "string", "pattern": "^[0-9]+$", "description": "The same number as ASCII digits."}
        return {"oneOf": [number, digits]}


def WholeNumber(minimum: int | str = 0, maximum: int | str = SQL_INTEGER_MAX, hint: str = "") -> Any:  # noqa: N802
    """A JSON integer or a string of ASCII digits from ``minimum`` to ``maximum`` (numbers or settings' names);
    ``hint`` says what the number means, after the range in the message."""
    return Annotated[int, _WholeNumberRules(minimum, maximum, hint)]


@dataclass(frozen=True)
class JsonSchemaNow:
    """A hand-written JSON schema for a field, built each time the description is: ``build`` may read the
    serving app's settings (``setting_value``). Example::

        Inputs = Annotated[list[str], PlainValidator(inputs), JsonSchemaNow(lambda: {
            "type": "array", "maxItems": setting_value("embeddings_max_inputs")})]
    """

    build: Callable[[], dict]

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        return self.build()


#: DocsGPT's ``api_key`` in a JSON body: described here, checked where the request's key is read
#: (``context.current_api_key``: a key that is no key of this server is a 401, not a 400)
ApiKeyInBody = Annotated[Any, WithJsonSchema({
    "anyOf": [{"type": "string"}, {"type": "null"}],
    "description": "A DocsGPT API key (or `Authorization: Bearer <key>`): it owns the conversations it starts and "
                   "may search only its sources."})]


# -- a refused request -------------------------------------------------------------------------------
def field_name(location: tuple) -> str:
    """``('history', 0, 'prompt')`` as ``history[0].prompt``."""
    name = ""
    for part in location:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name


def _what_is_wrong(error: dict) -> str:
    kind = error["type"]
    if kind in ("docstune", "docstune_whole"):
        return error["msg"]
    if kind == "missing":
        return "is missing or empty."
    if kind.endswith("_type") or kind in ("literal_error", "enum"):
        wanted = {"string_type": "a string", "dict_type": "an object", "model_type": "an object",
                  "list_type": "a list", "bool_type": "true or false", "int_type": "a whole number",
                  "float_type": "a number"}.get(kind)
        if wanted is None:  # a literal, an enum: pydantic's message lists what is accepted
            return f"must be {error['msg'].removeprefix('Input should be ')}, not {quoted(error.get('input'))}."
        return f"must be {wanted}, not {json_type(error.get('input'))}."
    if kind == "value_error":  # a ValueError of a model validator: its text is the whole message
        return str(error["ctx"]["error"])
    return error["msg"][:200] + "."


def report_validation_error(exc: ValidationError):
    """``validation_error_callback`` of the app: the first problem, as a 400 ``{"error": ...}``."""
    error = exc.errors(include_url=False)[0]
    location = tuple(part for part in error["loc"] if not isinstance(part, str) or not part.startswith("function-"))
    problem = _what_is_wrong(error)
    if error["type"] == "docstune_whole":
        location = ()
    raise BadRequest(f"'{field_name(location)}' {problem}" if location else problem)


class OptionalBody(BaseModel):
    """A JSON body a client may leave out (a job's options): none at all is ``{}``, the defaults. The group's
    JSON-body rule lets such a route take no body, and the description says the body is optional."""

    model_config = {"openapi_extra": {"required": False}}

    @model_validator(mode="before")
    @classmethod
    def _left_out(cls, data):
        return {} if data is None else data


def body_optional(model) -> bool:
    """Whether ``model`` (a view's ``body``) may be left out (see :class:`OptionalBody`)."""
    return isinstance(model, type) and issubclass(model, OptionalBody)


class Parameters(BaseModel):
    """The base of a ``query`` or ``form`` model. flask-openapi3 reads such a model's JSON schema on every
    request (to find its list fields); building it took 0.7 ms of a 0.9 ms request (cProfile of
    ``GET /api/jobs``, bench/request_layer.py), so the plain call is answered once per model."""

    @classmethod
    def model_json_schema(cls, *args, **kwargs):
        if args or kwargs:
            return super().model_json_schema(*args, **kwargs)
        cached = cls.__dict__.get("_plain_json_schema")
        if cached is None:
            cached = super().model_json_schema()
            setattr(cls, "_plain_json_schema", cached)  # per class: a subclass builds its own
        return cached
