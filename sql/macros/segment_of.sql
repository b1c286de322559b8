-- segment_of(annual_income_k, spending_score[, age]): the segment label of a customer with
-- these values: their cluster (cluster_of) looked up in segment_summary, whose labels are
-- unique within a run. Null where cluster_of is (a missing value, a value outside the accepted
-- ranges). Age is passed by name, as DuckDB 1.x requires for an argument with a default.
create or replace macro segment_of(annual_income_k, spending_score, age := null) as (
    with

    segments as (
        select * from segment_summary
    )

    select segments.segment_label
    from segments
    -- the macro's arguments
    where
        segments.cluster_id
        = cluster_of(annual_income_k, spending_score, age := age)  -- noqa: RF03
)
