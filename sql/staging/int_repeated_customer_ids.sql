-- Ids on more than one record whose own fields are fine: an id repeated with the same values
-- keeps its first line; one repeated with different values (in any column) cannot be trusted
-- on any of its lines. A small table, so the records are scanned for it once.
-- Ids are grouped by their hash first: a number per customer is a far smaller group key than
-- the text, and only the few records whose hash repeats are grouped by the id itself. The
-- records are read twice (hashes, then candidates) and never materialised: two scans of a
-- few columns cost far less than holding every column of every record.
with

customer_rows as not materialized (
    select * from int_customer_rows
),

usable_rows as not materialized (
    select * exclude (field_problem, value_issues)
    from customer_rows
    where field_problem is null
),

repeated_hashes as (
    select hash(customer_id) as id_hash
    from usable_rows
    group by id_hash
    having count(*) > 1
),

candidate_rows as (
    select usable_rows.*
    from usable_rows
    semi join repeated_hashes on hash(usable_rows.customer_id) = repeated_hashes.id_hash
),

repeated_ids as (
    select customer_id
    from candidate_rows
    group by customer_id
    having count(*) > 1
),

final as (
    select
        candidate_rows.customer_id,
        min(candidate_rows.line_number) as first_line,
        list_sort(list(candidate_rows.line_number)) as line_numbers,
        count(distinct hash(*columns(candidate_rows.* exclude (line_number)))) > 1  -- noqa: RF02
            as has_conflicting_rows
    from candidate_rows
    semi join repeated_ids on candidate_rows.customer_id = repeated_ids.customer_id
    group by candidate_rows.customer_id
)

select * from final
