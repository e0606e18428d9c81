"""Reading catalogue files (MARC 21, MARCXML, CSV) into lending.desk_model.ImportRecord.

`read(data, media_type)` yields one ImportRecord per record (its number, or its line for CSV),
with `error` set for a record that cannot be read; a file that is not what it claims raises
InvalidRequest, a media type it does not read UnsupportedMediaType.
"""

from lending_marc.reader import FORMATS, read

__all__ = ["FORMATS", "read"]
