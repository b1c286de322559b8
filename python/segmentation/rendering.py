"""SQL models are Jinja templates over the model's declaration, as dbt renders its models: a
model that handles each feature loops over `features` instead of naming columns. Rendered SQL
is plain DuckDB SQL; a model without a tag renders to itself.

In a template: `features` (`features.Feature`, in position order: `f.ident` is its column as an
identifier, `f.literal` its name as a string, `f.value_sql.format(x)` the value K-Means sees of
`x`), `classic_pair` (the study's income and spending model, whose labels and playbook apply to
it alone), `rfm` (a model on the orders' recency and frequency, whose segments take the RFM
names), `kinds` (the kinds in use), `orders` (the orders file's role: `none`, `alone` when the
customers are its ids, `joined` when it joins the customer file), `classic` (the classic
columns' rules by kind: `classic.age.lowest` is 1), `max_magnitude` (the largest size of a
value any feature takes) and `numbers` (the patterns of a written number,
`number_formats.NUMBER_PATTERNS`) and `sign_codes` (the currency code a sign means,
`number_formats.SIGN_CODES`). `.sqlfluff` gives the linter the classic pair without
orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import jinja2

from .errors import PipelineError
from .features import CLASSIC, MAX_MAGNITUDE, Feature, is_classic_pair, is_rfm
from .number_formats import NUMBER_PATTERNS, SIGN_CODES


@cache
def template(sql: str) -> jinja2.Template:
    """A model's template, compiled once (compiling costs more than rendering)."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return environment.from_string(sql)


# the roles of an orders file (raw_order_input.role)
ORDER_ROLES = ("none", "alone", "joined")


def render(sql: str, features: Sequence[Feature], orders: str = "none") -> str:
    if "{%" not in sql and "{{" not in sql:
        return sql
    if orders not in ORDER_ROLES:
        raise ValueError(f"orders is one of {', '.join(ORDER_ROLES)}, not {orders!r}")
    context = {
        "features": list(features),
        "classic_pair": is_classic_pair(features),
        "rfm": is_rfm(features),
        "kinds": [f.kind for f in features],
        "orders": orders,
        "classic": CLASSIC,
        "max_magnitude": MAX_MAGNITUDE,
        "numbers": NUMBER_PATTERNS,
        "sign_codes": SIGN_CODES,
    }
    try:
        return template(sql).render(context)
    except jinja2.TemplateSyntaxError as e:
        raise PipelineError(f"line {e.lineno}: {e.message}") from None
    except jinja2.TemplateError as e:  # a name the template uses that the context lacks
        raise PipelineError(e.message or str(e)) from None
