alter table monitoring.function_invocations drop column variant;
