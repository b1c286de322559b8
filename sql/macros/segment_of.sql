-- segment_of(<the arguments of cluster_of>): the segment label of a customer with these
-- values: their cluster (cluster_of) looked up in segment_summary, whose labels are unique
-- within a run. Null where cluster_of is (a missing value, a value outside its range).
-- Loops over the features unroll into lists the linter cannot indent: its LT02 is off here.
-- noqa: disable=LT02
create or replace macro segment_of(
    {%- for feature in features %}
    {{ feature.argument }}{{ "," if not loop.last }}
    {%- endfor %}
    {%- if classic_pair and "age" not in kinds %}, age := null{% endif %}
) as (
    with

    -- the customer's cluster, read where no table's column can take the arguments' names
    wanted as (
        select
            cluster_of(
                {%- for feature in features %}
                {{ feature.argument }}{{ "," if not loop.last }}
                {%- endfor %}
                {%- if classic_pair and "age" not in kinds %}, age := age{% endif %}
            ) as cluster_id
    ),

    segments as (
        select * from segment_summary
    )

    select segments.segment_label
    from segments
    inner join wanted on segments.cluster_id = wanted.cluster_id
)
