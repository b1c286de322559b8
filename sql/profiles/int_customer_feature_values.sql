-- Every customer's value of each feature (model_features), one row per customer and feature:
-- in the warehouse's unit, and as K-Means compares it (after the transform). A view: the
-- profiles read it once each.
with

-- scanned once per feature rather than materialised: it holds every customer
clustered_customers as not materialized (
    select * from int_clustered_customers
),

final as (
    {%- for feature in features %}
    {{ "union all" if not loop.first }}
    select
        cluster_id,
        {{ feature.position }} as position,  -- noqa: RF04
        {{ feature.ident }}::double as value,  -- noqa: RF04
        ({{ feature.value_sql.format(feature.ident) }})::double as model_value
    from clustered_customers
    {%- endfor %}
)

select * from final
