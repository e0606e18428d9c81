-- Every copy made before 0011_desk gets a barcode from its id ('B' + 16 hex digits). Nothing else: short row locks.
UPDATE books SET barcode = 'B' || upper(substr(replace(book_id::text, '-', ''), 1, 16)) WHERE barcode IS NULL;
