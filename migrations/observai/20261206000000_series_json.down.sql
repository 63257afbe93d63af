drop function observai.series_json(uuid, text, timestamptz, timestamptz, integer, text);
