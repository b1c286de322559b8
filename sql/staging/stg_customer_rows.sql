-- Every data record of the input, typed where it can be, with every reason it cannot be used:
-- its own fields' problems (int_customer_rows), or an id it shares with other records: a
-- record with the kept record's values is its duplicate; one with other values is superseded
-- by it (--duplicates first or last) or, when none is kept, conflicts with the others.
-- The input's columns travel through a star expression (columns(*)), which the linter cannot
-- resolve into names: its reference rules are off here.
-- noqa: disable=RF02,RF03
with

customer_rows as (
    select * from int_customer_rows
),

repeated_rows as (
    select * from int_repeated_customer_rows
),

repeated_ids as (
    select * from int_repeated_customer_ids
),

final as (
    select  -- noqa: ST06
        columns(customer_rows.* exclude (field_problem, value_issues)),
        case
            when customer_rows.field_problem is not null then customer_rows.field_problem
            when customer_rows.line_number = repeated_ids.kept_line then null
            when repeated_rows.row_hash = repeated_ids.kept_row_hash
                then format('duplicate of line {}', repeated_ids.kept_line)
            when repeated_ids.kept_line is not null
                then format('superseded by line {}', repeated_ids.kept_line)
            when repeated_ids.has_conflicting_rows
                then format(
                    'customer_id ''{}'' has conflicting rows on lines {}{}',
                    left(customer_rows.customer_id, 40),
                    array_to_string(repeated_ids.first_lines, ', '),
                    -- case, not if(): DuckDB 1.x, as BI drivers bundle it, has no if() in views
                    case
                        when repeated_ids.records > len(repeated_ids.first_lines)
                            then format(
                                ' and {:,} more',
                                repeated_ids.records - len(repeated_ids.first_lines)
                            )
                        else ''
                    end
                )
        end as reject_reason,
        customer_rows.value_issues
    from customer_rows
    left join repeated_rows on customer_rows.line_number = repeated_rows.line_number
    left join repeated_ids on repeated_rows.customer_key = repeated_ids.customer_key
)

select * from final
