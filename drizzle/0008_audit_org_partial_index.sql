-- Rebuilt as a partial index, unless it already is one: an operator may have built it beforehand without
-- blocking writes (CREATE INDEX CONCURRENTLY, README → PostgreSQL and Redis), which this then keeps.
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_indexes
    WHERE schemaname = current_schema() AND indexname = 'audit_events_org_created_idx' AND indexdef LIKE '%WHERE%'
  ) THEN
    DROP INDEX IF EXISTS "audit_events_org_created_idx";
    CREATE INDEX "audit_events_org_created_idx" ON "audit_events" USING btree ("org_id","created_at","id") WHERE "audit_events"."org_id" is not null;
  END IF;
END $$;
