-- One row per segment of a model on the orders' recency and frequency: the RFM name of the
-- region (the seed rfm_segments) its customers' average scores fall in, recency and value (the
-- mean of the frequency and monetary scores), each rounded to a whole score. The regions cover
-- every pair of scores once, so every such segment has a name; segment_summary tells apart
-- segments sharing one. Empty for any other model.
with
{%- if rfm %}

clustered_customers as (
    select * from int_clustered_customers
),

regions as (
    select
        segment_name,
        recency_min::integer as recency_min,
        recency_max::integer as recency_max,
        value_min::integer as value_min,
        value_max::integer as value_max,
        persona,
        description,
        marketing_actions
    from rfm_segments
),

scores as (
    select
        cluster_id,
        avg(recency_score) as avg_recency_score,
        avg(frequency_score) as avg_frequency_score,
        avg(monetary_score) as avg_monetary_score
    from clustered_customers
    group by cluster_id
),

final as (
    select
        scores.cluster_id,
        scores.avg_recency_score,
        scores.avg_frequency_score,
        scores.avg_monetary_score,
        regions.segment_name,
        regions.persona,
        regions.description,
        regions.marketing_actions
    from scores
    inner join regions
        on
            round(scores.avg_recency_score) between regions.recency_min and regions.recency_max
            and round((scores.avg_frequency_score + scores.avg_monetary_score) / 2)
            between regions.value_min and regions.value_max
)
{%- else %}

regions as (
    select * from rfm_segments
),

final as (
    select
        null::integer as cluster_id,
        null::double as avg_recency_score,
        null::double as avg_frequency_score,
        null::double as avg_monetary_score,
        regions.segment_name,
        regions.persona,
        regions.description,
        regions.marketing_actions
    from regions
    where false
)
{%- endif %}

select * from final
