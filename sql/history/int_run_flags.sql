-- This build's flags, one row each in the order the build reports them: what makes the
-- segmentation doubtful. Orders or customers lost to rejects (with the top reasons), segments
-- below the minimum share, clusters K-Means left empty, segments that change with the seed;
-- the thresholds are the build's settings (this_run).
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

rejected_customers as (
    select * from customer_rejects
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

-- A row whose customer is kept from another row (a duplicate, a superseded row) loses no one;
-- nor is a customer without orders (joined to an orders file) a fault of the file. With an
-- orders file alone there are no data rows: the customers are its ids.
counts as (
    select
        (select coalesce(sum(order_parts.records), 0)::bigint from order_parts) as order_rows,
        (select count(*) from rejected_orders) as rejected_orders,
        if(order_input.role = 'alone', 0, (select count(*) from customer_rows)) as data_rows,
        (
            select count(*) from rejected_customers
            where rejected_customers.reject_reason != 'has no orders'
        ) as rejected_rows,
        (
            select count(*) from rejected_customers
            where
                rejected_customers.reject_reason like 'duplicate of line %'
                or rejected_customers.reject_reason like 'superseded by line %'
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

-- The kinds of reason (their values masked: reports.REASON_KIND), of flagged rejects only:
-- masking every reason costs a scan of them all.
reject_reasons as (
    select
        'orders' as rejects,
        {{ reason_kind }} as reason
    from rejected_orders
    where (select judged.are_orders_lost from judged)
    union all
    select
        'customers' as rejects,
        {{ reason_kind }} as reason
    from rejected_customers
    where (select judged.are_customers_lost from judged)
),

reason_counts as (
    select
        rejects,
        reason,
        count(*) as rejected_rows,
        row_number() over (partition by rejects order by count(*) desc, reason) as place
    from reject_reasons
    group by rejects, reason
),

-- the three most frequent, customers without orders left out as above
top_reasons as (
    select
        rejects,
        coalesce(
            string_agg(
                format('{:,} × {}', rejected_rows, replace(reason, '; ', ', ')),
                ' | ' order by place
            ) filter (where place <= 3 and reason != 'has no orders'),
            ''
        ) as reasons
    from reason_counts
    group by rejects
),

flags as (
    select
        1 as kind,
        0 as item,
        format(
            '{:,} of {:,} orders rejected ({}, more than {}); top reasons: {}',
            judged.rejected_orders,
            judged.order_rows,
            printf('%.1f%%', judged.rejected_orders / judged.order_rows * 100),
            printf('%.0f%%', run.warn_reject_share * 100),
            top_reasons.reasons
        ) as flag
    from judged
    cross join run
    inner join top_reasons on top_reasons.rejects = 'orders'
    where judged.are_orders_lost

    union all

    select
        2 as kind,
        0 as item,
        format(
            '{:,} of {:,} data rows rejected ({}, more than {}); top reasons: {}{}',
            judged.rejected_rows,
            judged.data_rows,
            printf('%.1f%%', judged.rejected_rows / judged.data_rows * 100),
            printf('%.0f%%', run.warn_reject_share * 100),
            top_reasons.reasons,
            if(
                judged.conflicting_rows / judged.data_rows > run.warn_reject_share,
                format(
                    '; {:,} of them are the records of {:,} ids whose records differ '
                    || '(--duplicates first or last keeps one record of each)',
                    judged.conflicting_rows,
                    judged.conflicting_ids
                ),
                ''
            )
        ) as flag
    from judged
    cross join run
    inner join top_reasons on top_reasons.rejects = 'customers'
    where judged.are_customers_lost

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
),

final as (
    select  -- noqa: ST06
        row_number() over (order by kind, item) as flag_number,
        flag
    from flags
)

select * from final
