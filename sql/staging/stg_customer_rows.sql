-- Every data record of the input, typed where it can be, with every reason it cannot be used:
-- its own fields' problems (int_customer_rows), or an id it shares with other records.
with

customer_rows as (
    select * from int_customer_rows
),

repeated_ids as (
    select * from int_repeated_customer_ids
),

final as (
    select  -- noqa: ST06
        columns(customer_rows.* exclude (field_problem, value_issues)),  -- noqa: RF02
        case
            when customer_rows.field_problem is not null then customer_rows.field_problem
            when repeated_ids.has_conflicting_rows
                then format(
                    'customer_id ''{}'' has conflicting rows on lines {}{}',
                    left(customer_rows.customer_id, 40),
                    array_to_string(repeated_ids.first_lines, ', '),
                    if(
                        repeated_ids.records > len(repeated_ids.first_lines),
                        format(
                            ' and {:,} more',
                            repeated_ids.records - len(repeated_ids.first_lines)
                        ),
                        ''
                    )
                )
            when customer_rows.line_number > repeated_ids.first_line
                then format('duplicate of line {}', repeated_ids.first_line)
        end as reject_reason,
        customer_rows.value_issues
    from customer_rows
    left join repeated_ids
        on
            customer_key(customer_rows.customer_id) = repeated_ids.customer_key
            and customer_rows.field_problem is null
)

select * from final
