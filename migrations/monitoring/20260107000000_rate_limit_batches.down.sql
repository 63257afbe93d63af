drop function monitoring.settle_tokens(text[], integer[], integer[], double precision[]);
