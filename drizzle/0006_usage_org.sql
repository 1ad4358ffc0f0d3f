ALTER TABLE "usage_rollups" ADD COLUMN "org_id" text;--> statement-breakpoint
CREATE INDEX "usage_rollups_org_idx" ON "usage_rollups" USING btree ("org_id","period","period_start");--> statement-breakpoint
-- Counters and events written before organisations belong to their instance's organisation.
UPDATE "usage_rollups" SET "org_id" = i."org_id" FROM "instances" i WHERE "usage_rollups"."instance_id" = i."id";--> statement-breakpoint
UPDATE "audit_events" SET "org_id" = i."org_id" FROM "instances" i WHERE "audit_events"."instance_id" = i."id" AND "audit_events"."org_id" IS NULL;
