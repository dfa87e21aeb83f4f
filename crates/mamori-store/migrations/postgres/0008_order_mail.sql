-- The language the customer ordered in ('ja' or 'en'): every mail about the order is written in
-- it. Orders placed before this migration were mailed in Japanese first, so they get 'ja'.
ALTER TABLE orders ADD COLUMN mail_lang TEXT NOT NULL DEFAULT 'ja' CHECK (mail_lang IN ('ja', 'en'));
-- The carrier's tracking number (お問い合わせ伝票番号) of a delivery, set when it ships. It
-- names a parcel, not a person, and is stored in the clear (it is printed in the shipping mail).
ALTER TABLE shipments ADD COLUMN tracking_number TEXT;
