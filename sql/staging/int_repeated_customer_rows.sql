-- The records whose id is on more than one record whose own fields are fine, with a hash of
-- their values (every column but the line and how the id is written): records with the same
-- hash are one customer. Ids are compared by customer_key (NFC, full-width as ASCII), so two
-- spellings of one id that look the same are one customer. A table, so that views read no
-- star expression unpacked into a function's arguments: DuckDB 1.x, as BI drivers bundle it,
-- cannot read such a view (nor list any view of the file).
-- Ids are grouped by their hash first: a number per customer is a far smaller group key than
-- the text, and only the few records whose hash repeats are grouped by the id itself. The
-- records are read twice (hashes, then candidates) and never materialised: two scans of a
-- few columns cost far less than holding every column of every record.
with

customer_rows as not materialized (
    select * from int_customer_rows
),

usable_rows as not materialized (
    select
        -- (with an orders file joined, int_customer_rows holds the key too)
        * exclude (
            field_problem, reason_code, reason_column, value_issues
            {{- ", customer_key" if orders == "joined" }}
        ),
        customer_key(customer_id) as customer_key
    from customer_rows
    where field_problem is null
),

repeated_hashes as (
    select hash(customer_key) as key_hash
    from usable_rows
    group by key_hash
    having count(*) > 1
),

candidate_rows as (
    select
        usable_rows.line_number,
        usable_rows.customer_key,
        hash(
            *columns(usable_rows.* exclude (line_number, customer_id, customer_key))  -- noqa: RF02
        ) as row_hash
    from usable_rows
    semi join repeated_hashes on hash(usable_rows.customer_key) = repeated_hashes.key_hash
),

final as (
    select
        line_number,
        customer_key,
        row_hash
    from candidate_rows
    qualify count(*) over (partition by customer_key) > 1
)

select * from final
