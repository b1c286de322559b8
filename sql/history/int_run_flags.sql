-- This build's flags, one row each in the order the build reports them: what makes the
-- segmentation doubtful. Orders or customers lost to rejects (with the top reasons), segments
-- below the minimum share, clusters K-Means left empty, segments that change with the seed,
-- recency counted from an order dated after the build's day; the thresholds are the build's
-- settings (this_run).
with

run as (
    select * from this_run
),

order_input as (
    select * from raw_order_input
),

order_parts as (
    select * from raw_order_parts
),

rejected_orders as (
    select * from order_rejects
),

customer_rows as (
    select * from int_customer_rows
),

reject_kinds as (
    select * from int_reject_kinds
),

repeated_ids as (
    select * from int_repeated_customer_ids
),

segments as (
    select * from segment_summary
),

centroids as (
    select * from cluster_centroids
),

stability as (
    select * from cluster_stability
),

rfm as (
    select * from customer_rfm
),

-- the day recency counts from when --as-of does not set it: the latest counted line's
latest_order_day as (
    select max(as_of_date) as as_of_date from rfm
),

-- A row whose customer is kept from another row (a duplicate, a superseded row) loses no one;
-- nor is a customer without orders (joined to an orders file) a fault of the file. With an
-- orders file alone there are no data rows: the customers are its ids.
counts as (
    select
        (select coalesce(sum(order_parts.records), 0)::bigint from order_parts) as order_rows,
        (select count(*) from rejected_orders) as rejected_orders,
        if(order_input.role = 'alone', 0, (select count(*) from customer_rows)) as data_rows,
        (
            select coalesce(sum(reject_kinds.rejected_rows), 0)::bigint from reject_kinds
            where reject_kinds.rejects = 'customers' and reject_kinds.reason_code != 'no_orders'
        ) as rejected_rows,
        (
            select coalesce(sum(reject_kinds.rejected_rows), 0)::bigint from reject_kinds
            where reject_kinds.rejects = 'customers' and not reject_kinds.loses_a_customer
        ) as repeated_rows,
        -- the records of ids whose records differ, when --duplicates rejects them all
        (
            select coalesce(sum(repeated_ids.records), 0)::bigint from repeated_ids
            where repeated_ids.kept_line is null
        ) as conflicting_rows,
        (
            select count(*) from repeated_ids
            where repeated_ids.kept_line is null
        ) as conflicting_ids,
        (select count(*) from segments) as segments,
        (select count(*) from centroids) as clusters,
        (select min(stability.adjusted_rand_index) from stability) as lowest_agreement
    from order_input
),

judged as (
    select
        counts.*,
        (
            counts.order_rows > 0
            and counts.rejected_orders / counts.order_rows > run.warn_reject_share
        ) as are_orders_lost,
        (
            counts.data_rows > 0
            and (counts.rejected_rows - counts.repeated_rows) / counts.data_rows
            > run.warn_reject_share
        ) as are_customers_lost
    from counts
    cross join run
),

-- the three most frequent kinds of each file's rejects, customers without orders left out as
-- above
top_reasons as (
    select
        rejects,
        string_agg(
            format('{:,} × {}', rejected_rows, reason), ' | ' order by place
        ) as reasons
    from (
        select
            *,
            row_number() over (partition by rejects order by place) as rank_shown
        from reject_kinds
        where reason_code != 'no_orders' and (loses_a_customer or rejects = 'orders')
    ) as shown
    where rank_shown <= 3
    group by rejects
),

-- each file's rows lost, as one flag reads them: the customer file's with the option that keeps
-- one record of each id whose records differ, when those are many
lost_rows as (
    select
        1 as kind,
        'orders' as rejects,
        'orders' as rows_name,
        rejected_orders as rejected,
        order_rows as total,
        are_orders_lost as is_lost,
        '' as hint
    from judged
    union all
    select
        2 as kind,
        'customers' as rejects,
        'data rows' as rows_name,
        -- a repeat of a customer kept loses none
        judged.rejected_rows - judged.repeated_rows as rejected,
        judged.data_rows as total,
        judged.are_customers_lost as is_lost,
        if(
            judged.conflicting_rows / judged.data_rows > run.warn_reject_share,
            format(
                '; {:,} of them are the records of {:,} ids whose records differ '
                || '(--duplicates first or last keeps one record of each)',
                judged.conflicting_rows,
                judged.conflicting_ids
            ),
            ''
        ) as hint
    from judged
    cross join run
),

flags as (
    select
        lost_rows.kind,
        0 as item,
        format(
            '{:,} of {:,} {} rejected ({}, more than {}); top reasons: {}{}',
            lost_rows.rejected,
            lost_rows.total,
            lost_rows.rows_name,
            printf('%.1f%%', lost_rows.rejected / lost_rows.total * 100),
            printf('%.0f%%', run.warn_reject_share * 100),
            top_reasons.reasons,
            lost_rows.hint
        ) as flag
    from lost_rows
    cross join run
    inner join top_reasons on lost_rows.rejects = top_reasons.rejects
    where lost_rows.is_lost

    union all

    select
        3 as kind,
        segments.cluster_id as item,
        format(
            'segment {} ({}) holds {} of the customers, less than the {} minimum',
            segments.cluster_id,
            segments.segment_label,
            printf('%.1f%%', segments.share_of_customers * 100),
            printf('%.1f%%', run.min_segment_share * 100)
        ) as flag
    from segments
    cross join run
    where segments.is_small_segment

    union all

    select
        4 as kind,
        0 as item,
        format(
            'K-Means made {} clusters but only {} hold customers '
            || '(too few distinct customers for K)',
            judged.clusters,
            judged.segments
        ) as flag
    from judged
    where judged.segments < judged.clusters

    union all

    select
        5 as kind,
        0 as item,
        format(
            'the segments change with the seed: a refit agrees only {} (adjusted Rand index) '
            || 'with the model, less than the {} minimum',
            printf('%.2f', judged.lowest_agreement),
            run.min_stability::varchar
        ) as flag
    from judged
    cross join run
    where judged.lowest_agreement < run.min_stability

    union all

    -- (a day's grace: the build's day is UTC's, an order's the shop's own)
    select
        6 as kind,
        0 as item,
        format(
            'recency counts from {}, the latest order''s date, which is after this build''s day '
            || '({}): an order dated in the future? --as-of sets the day',
            latest_order_day.as_of_date,
            (run.started_at at time zone 'UTC')::date
        ) as flag
    from latest_order_day
    cross join run
    where
        run.as_of_option is null
        and latest_order_day.as_of_date > (run.started_at at time zone 'UTC')::date + 1
),

final as (
    select  -- noqa: ST06
        row_number() over (order by kind, item) as flag_number,
        flag
    from flags
)

select * from final
