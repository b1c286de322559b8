-- One row: the dataset this build belongs to, and whether it is compared with the previous
-- build. A build is compared only when it is plausibly the same customers: most of the ids
-- both builds have (over half of those in a sample of the previous build's customers) keep
-- their gender and an age consistent with the time between the builds (a missing gender or
-- age counts as consistent). `--dataset NAME` decides by name instead: the same name is
-- compared, a new name starts a new history line.
with

customers as (
    select * from stg_customers
),

earlier_customers as (
    select * from previous_customers
),

runs as (
    select * from previous_runs
),

run as (
    select * from this_run
),

previous_run as (
    select
        run_id as previous_run_id,
        dataset as previous_dataset,
        started_at as previous_started_at
    from runs
    order by run_id desc
    limit 1
),

shared as (
    select
        earlier_customers.customer_id,
        coalesce(
            lower(trim(earlier_customers.gender)) = lower(trim(customers.gender::varchar)),
            true
        ) as same_gender,
        -- age may have grown by the whole years between the builds, plus one birthday
        coalesce(
            customers.age - earlier_customers.age between 0 and floor(
                epoch(run.started_at - previous_run.previous_started_at) / (365.25 * 86400)
            ) + 1,
            true
        ) as consistent_age
    from earlier_customers
    inner join customers on earlier_customers.customer_id = customers.customer_id::varchar
    cross join run
    cross join previous_run
),

evidence as (
    select
        count(*) as shared_customers,
        count(*) filter (where same_gender and consistent_age) as consistent_customers
    from shared
),

judged as (
    select
        run.run_id,
        run.dataset_option,
        run.input_name,
        previous_run.previous_run_id,
        previous_run.previous_dataset,
        previous_run.previous_started_at,
        evidence.shared_customers,
        evidence.consistent_customers,
        coalesce(
            case
                when run.dataset_option is not null
                    then run.dataset_option = previous_run.previous_dataset
                else
                    evidence.shared_customers > 0
                    and evidence.consistent_customers > 0.5 * evidence.shared_customers
            end,
            false
        ) as is_comparable
    from run
    cross join evidence
    left join previous_run on true
),

final as (
    select
        run_id,
        is_comparable,
        previous_run_id,
        previous_dataset,
        previous_started_at,
        shared_customers,
        consistent_customers,
        case
            when dataset_option is not null then dataset_option
            when is_comparable then coalesce(previous_dataset, input_name)
            -- a new dataset never takes the previous build's name
            when input_name = previous_dataset then input_name || ' (run ' || run_id || ')'
            else input_name
        end as dataset,
        case
            when previous_run_id is null then 'first build in this warehouse'
            when dataset_option is not null and is_comparable
                then 'same dataset name as the previous build (--dataset)'
            when dataset_option is not null
                then 'another dataset name than the previous build (--dataset)'
            when is_comparable
                then format(
                    '{} of the {} customer ids both builds have keep their gender and age',
                    consistent_customers,
                    shared_customers
                )
            when shared_customers = 0 then 'no customer id of the previous build is in this one'
            else format(
                'only {} of the {} customer ids both builds have keep their gender and age',
                consistent_customers,
                shared_customers
            )
        end as comparison_reason
    from judged
)

select * from final
