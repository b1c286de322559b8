-- The movement matrix since the previous run: how many customers went from each segment to
-- each segment (the diagonal stayed; a null side is a customer new or gone since then).
-- Empty after the first run.
with

comparison as (
    select * from segment_comparison
),

final as (
    select
        previous_segment_label,
        segment_label,
        count(*) as customers
    from comparison
    group by previous_segment_label, segment_label
)

select * from final
