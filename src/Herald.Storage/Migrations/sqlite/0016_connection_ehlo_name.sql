-- The name Herald greets a connection's server with (EHLO), when the administrator sets one;
-- null keeps the automatic choice (the node's fully qualified name, or the sender's domain).
--
-- Additive: a node of the previous release ignores the column (and its upsert leaves it alone),
-- greeting with the automatic name, which is fully qualified too.
ALTER TABLE smtp_connections ADD COLUMN ehlo_name TEXT;
