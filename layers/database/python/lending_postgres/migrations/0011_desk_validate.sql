-- Once every copy has its barcode: check them all (SHARE UPDATE EXCLUSIVE: reads and writes go on),
-- then require one.
ALTER TABLE books VALIDATE CONSTRAINT books_barcode_check;
ALTER TABLE books ALTER COLUMN barcode SET NOT NULL;
