-- Every customer K-Means reads has every feature of the model (model_features), within its
-- accepted range and at most 10^15 in size: staging rejects the others.
with

features as (
    select * from customer_features
),

final as (
    select customer_id
    from features
    where
        false
        {%- for feature in features %}
        or {{ feature.ident }} is null
        or abs({{ feature.ident }}) > {{ max_magnitude }}
        {%- if feature.accepted_min is not none %}
        or {{ feature.ident }} < {{ feature.accepted_min }}
        {%- endif %}
        {%- if feature.accepted_max is not none %}
        or {{ feature.ident }} > {{ feature.accepted_max }}
        {%- endif %}
        {%- endfor %}
)

select * from final
