-- customer_key(customer_id): an id as the warehouse compares ids: Unicode NFC (a 'Zoë' typed
-- with a combining accent is the 'Zoë' typed with one character) and full-width letters, digits
-- and signs as their ASCII twins (an id typed in a CJK input mode). Ids are kept as written;
-- only comparisons use the key. An ASCII id (as long in bytes as in characters) is its own key,
-- but an email address (an id with an @, full-width too) is in lower case, as mail systems
-- compare them (Ann@Shop.com is ann@shop.com).
create or replace macro customer_key(customer_id) as (
    case
        when strlen(customer_id) = length(customer_id)
            then case when contains(customer_id, '@') then lower(customer_id) else customer_id end
        else translate(
            nfc_normalize(
                case
                    when contains(customer_id, '@') or contains(customer_id, '＠')
                        then lower(customer_id)
                    else customer_id
                end
            ),
            '！＂＃＄％＆＇（）＊＋，－．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯ'
            || 'ＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～',
            '!"#$%&''()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNO'
            || 'PQRSTUVWXYZ[\]^_`abcdefghijklmnopqrstuvwxyz{|}~'
        )
    end
)
