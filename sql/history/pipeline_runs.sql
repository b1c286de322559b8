-- One row per published build, newest last: the runs carried over from the live warehouse and
-- this build, counted from its tables, with its flags (int_run_flags). What only the build
-- knows (when it finished, the paths, the settings, the library versions) is in run_facts,
-- written just before: this model is built last, in the record phase, not with the others.
with

earlier_runs as (
    select * from previous_runs
),

run as (
    select * from this_run
),

facts as (
    select * from run_facts
),

customer_input as (
    select * from raw_input
),

order_input as (
    select * from raw_order_input
),

order_parts as (
    select * from raw_order_parts
),

features as (
    select * from model_features
),

datasets as (
    select * from dataset_match
),

selection as (
    select * from k_selection
),

centroids as (
    select * from cluster_centroids
),

segments as (
    select * from segment_summary
),

stability as (
    select * from cluster_stability
),

customer_rows as (
    select * from int_customer_rows
),

rejected_customers as (
    select * from customer_rejects
),

customers as (
    select * from stg_customers
),

issues as (
    select * from customer_data_issues
),

repeated_ids as (
    select * from int_repeated_customer_ids
),

orders as (
    select * from stg_orders
),

rejected_orders as (
    select * from order_rejects
),

order_measures as (
    select * from customer_rfm
),

unknown_customers as (
    select * from orders_without_customer
),

flags as (
    select * from int_run_flags
),

counts as (
    select
        (select count(*) from customer_rows) as data_rows,
        (select count(*) from rejected_customers) as rejected_rows,
        (select count(*) from order_measures) as order_customers,
        (select count(*) from issues) as value_issues,
        (select coalesce(sum(order_parts.records), 0)::bigint from order_parts) as order_rows,
        (select count(*) from rejected_orders) as rejected_order_rows,
        (
            select count(*) from orders
            where orders.excluded_reason is not null
        ) as uncounted_orders,
        (select count(*) from unknown_customers) as unknown_order_customers,
        (
            select count(*) from rejected_customers
            where rejected_customers.reason_code = 'no_orders'
        )
        {%- if orders != "none" %}
        + (
            select count(*) from customers
            where customers.order_count = 0
        )
        {%- endif %} as customers_without_orders,
        (select max(order_measures.as_of_date) from order_measures) as as_of_date,
        -- the segments that hold customers; K-Means may make more clusters than customers fill
        (select count(*) from segments) as k,
        (select count(*) from centroids) as k_fitted,
        -- none beyond the K range
        (select any_value(selection.choice_reason) from selection) as k_reason,
        (
            select string_agg(features.spec, ',' order by features.position) from features
        ) as features,
        (
            select count(*) from repeated_ids
            where repeated_ids.has_conflicting_rows
        ) as ids_with_differing_rows,
        (select min(stability.adjusted_rand_index) from stability) as min_stability_ari,
        (select string_agg(flags.flag, '; ' order by flags.flag_number) from flags) as flags
),

-- every data row is a customer or a reject (a data test of the build); with an orders file
-- alone there are no data rows, the customers are its ids; the orders' counts are null
-- without an orders file
this_build as (
    select
        run.run_id,
        run.started_at,
        facts.finished_at,
        facts.input_path,
        -- with an orders file alone, it is the input
        coalesce(customer_input.input_sha256, order_input.input_sha256) as input_sha256,
        if(
            order_input.role = 'alone', order_input.input_format, customer_input.input_format
        ) as input_format,
        customer_input.income_unit,
        datasets.dataset,
        if(datasets.is_comparable, datasets.previous_run_id, null) as compared_with_run_id,
        if(order_input.role = 'alone', 0, counts.data_rows) as data_rows,
        if(
            order_input.role = 'alone',
            counts.order_customers,
            counts.data_rows - counts.rejected_rows
        ) as customers,
        if(order_input.role = 'alone', 0, counts.rejected_rows) as rejected_rows,
        counts.value_issues,
        facts.orders_path,
        order_input.input_sha256 as orders_sha256,
        if(order_input.role = 'none', null, counts.order_rows) as order_rows,
        if(order_input.role = 'none', null, counts.rejected_order_rows) as rejected_order_rows,
        if(order_input.role = 'none', null, counts.uncounted_orders) as uncounted_orders,
        if(
            order_input.role = 'none', null, counts.unknown_order_customers
        ) as unknown_order_customers,
        if(
            order_input.role = 'none', null, counts.customers_without_orders
        ) as customers_without_orders,
        counts.as_of_date,
        counts.k,
        counts.k_fitted,
        facts.k_mode,
        counts.k_reason,
        facts.seed,
        facts.n_init,
        facts.sample_rows,
        facts.silhouette_rows,
        counts.features,
        run.duplicates,
        counts.ids_with_differing_rows,
        counts.min_stability_ari,
        counts.flags,
        facts.storage_compatibility_version,
        facts.python_version,
        facts.duckdb_version,
        facts.sklearn_version,
        facts.pandas_version
    from run
    cross join facts
    cross join customer_input
    cross join order_input
    cross join datasets
    cross join counts
),

-- runs recorded by older versions may lack columns added since: null there
runs as (
    select * from earlier_runs
    union all by name
    select * from this_build
),

final as (
    select
        run_id,
        started_at,
        finished_at,
        input_path,
        input_sha256,
        input_format,
        income_unit,
        dataset,
        compared_with_run_id,
        data_rows,
        customers,
        rejected_rows,
        value_issues,
        orders_path,
        orders_sha256,
        order_rows,
        rejected_order_rows,
        uncounted_orders,
        unknown_order_customers,
        customers_without_orders,
        as_of_date,
        k,
        k_fitted,
        k_mode,
        k_reason,
        seed,
        n_init,
        sample_rows,
        silhouette_rows,
        features,
        duplicates,
        ids_with_differing_rows,
        min_stability_ari,
        flags,
        storage_compatibility_version,
        python_version,
        duckdb_version,
        sklearn_version,
        pandas_version
    from runs
    order by run_id
)

select * from final
