-- customer_key(customer_id): an id as the warehouse compares ids: Unicode NFC (a 'Zoë' typed
-- with a combining accent is the 'Zoë' typed with one character) and full-width letters, digits
-- and signs as their ASCII twins (an id typed in a CJK input mode); and an email address (an id
-- with an @) in lower case, as mail systems compare them (Ann@Shop.com is ann@shop.com). Ids are
-- kept as written; only comparisons use the key. An ASCII id (as long in bytes as in characters)
-- is its own key, an address but in lower case.
create or replace macro customer_key(customer_id) as (
    if(
        contains(customer_id, '@'),
        lower(
            translate(
                nfc_normalize(customer_id),
                '＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ',
                '@ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
            )
        ),
        if(
            strlen(customer_id) = length(customer_id),
            customer_id,
            translate(
                nfc_normalize(customer_id),
                '！＂＃＄％＆＇（）＊＋，－．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯ'
                || 'ＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～',
                '!"#$%&''()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNO'
                || 'PQRSTUVWXYZ[\]^_`abcdefghijklmnopqrstuvwxyz{|}~'
            )
        )
    )
)
