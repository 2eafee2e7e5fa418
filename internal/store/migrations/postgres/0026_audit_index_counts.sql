-- The daily counts of the console's overview read the audit index alone.
DROP INDEX audit_index_category;
CREATE INDEX audit_index_category ON audit_index (category, ts, decision, break_glass);
