-- What K-Means reads: one row per customer, with the model's features (model_features) in
-- their order, in warehouse units (before any transform).
-- Loops over the features unroll into lists the linter cannot indent: its LT02 is off here.
-- noqa: disable=LT02
with

customers as (
    select * from stg_customers
),

final as (
    select
        customer_id,
        {%- for feature in features %}
        {{ feature.ident }}{{ "," if not loop.last }}
        {%- endfor %}
    from customers
)

select * from final
