-- order_status_key(status): an order's status as the seed order_statuses writes it: lower
-- case, its accents composed ('annulé' with a combining accent), a shop's 'wc-' prefix and a
-- final dot aside, dashes and underscores as spaces ('wc-on-hold' as 'on hold').
create or replace macro order_status_key(status) as (
    replace(
        replace(
            rtrim(
                case
                    when starts_with(lower(nfc_normalize(status)), 'wc-')
                        then lower(nfc_normalize(status))[4:]
                    else lower(nfc_normalize(status))
                end,
                '.'
            ),
            '_',
            ' '
        ),
        '-',
        ' '
    )
)
